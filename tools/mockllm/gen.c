/* gen.c: the deterministic content mockllm answers with.
 *
 * 1. The text of W words is words[0..W) taken cyclically from one fixed list and joined by single
 *    spaces. It depends on W only, so the same request always gets the same bytes, and a stream's
 *    pieces (word i, with a leading space for i > 0) concatenate to exactly the text.
 * 2. Token estimates are bytes / 4 (at least 1 for non-empty text), like the usual rule of thumb.
 * 3. An embedding is FNV-1a of the input seeding splitmix64, mapped to [-1, 1) per dimension and
 *    L2-normalised: equal inputs give equal vectors, different inputs almost surely differ. */
#include <math.h>

#include "mock.h"

static const char *const gen_words[] = {
    "The",    "quick", "brown",       "fox",    "jumps",  "over",  "the",     "lazy",
    "dog",    "while", "mock",        "models", "answer", "every", "request", "with",
    "steady", "and",   "predictable", "words",  "so",     "tests", "can",     "check",
    "each",   "byte",  "of",          "the",    "reply",  "they",  "get",     "back",
};
#define GEN_NWORDS (sizeof(gen_words) / sizeof(gen_words[0]))

/* Lengths, so the hot path never calls strlen. */
static const unsigned char gen_word_len[GEN_NWORDS] = {
    3, 5, 5, 3, 5, 4, 3, 4, 3, 5, 4, 6, 6, 5, 7, 4, 6, 3, 11, 5, 2, 5, 3, 5, 4, 4, 2, 3, 5, 4, 3, 4,
};

const char *const mock_gen_tool_arg_pieces[] = {
    "{\"", "location", "\":\"", "Paris", "\",\"", "unit", "\":\"", "celsius", "\"}",
};
const size_t mock_gen_tool_arg_npieces =
    sizeof(mock_gen_tool_arg_pieces) / sizeof(mock_gen_tool_arg_pieces[0]);

void mock_gen_piece(struct buf *b, uint32_t i)
{
    uint32_t k = i % GEN_NWORDS;
    if (i)
        buf_putc(b, ' ');
    buf_append(b, gen_words[k], gen_word_len[k]);
}

/* The whole list joined by spaces, with a trailing space: text of any length is copies of it
 * plus a prefix, appended in at most a few calls. The unit test checks it matches gen_words. */
static const char gen_block[] =
    "The quick brown fox jumps over the lazy dog while mock models answer "
    "every request with steady and predictable words so tests can "
    "check each byte of the reply they get back ";

void mock_gen_text(struct buf *b, uint32_t nwords)
{
    const size_t blen = sizeof(gen_block) - 1;
    uint32_t full = nwords / GEN_NWORDS, rest = nwords % GEN_NWORDS;
    size_t tail = 0; /* bytes of the first rest words and the spaces between them */
    for (uint32_t i = 0; i < rest; i++)
        tail += gen_word_len[i] + (i ? 1u : 0u);
    buf_reserve(b, full * blen + tail);
    for (uint32_t k = 0; k < full; k++)
        buf_append(b, gen_block, blen - (k + 1 == full && rest == 0));
    if (rest)
        buf_append(b, gen_block, tail);
}

uint32_t mock_gen_tokens(size_t nbytes)
{
    if (nbytes == 0)
        return 0;
    size_t t = nbytes / 4;
    return t ? (uint32_t)t : 1;
}

uint64_t mock_gen_fnv1a(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void mock_gen_vector(float *v, uint32_t dims, uint64_t seed)
{
    uint64_t st = seed;
    double norm = 0;
    for (uint32_t i = 0; i < dims; i++) {
        /* 24 random bits to [-1, 1): exact in a float. */
        double x = (double)(splitmix64(&st) >> 40) / (double)(1u << 23) - 1.0;
        v[i] = (float)x;
        norm += x * x;
    }
    if (norm == 0) {
        v[0] = 1.0f;
        return;
    }
    double inv = 1.0 / sqrt(norm);
    for (uint32_t i = 0; i < dims; i++)
        v[i] = (float)(v[i] * inv);
}

void mock_gen_base64(struct buf *b, const void *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = p;
    buf_reserve(b, (n + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        char o[4] = {tbl[v >> 18], tbl[(v >> 12) & 63], tbl[(v >> 6) & 63], tbl[v & 63]};
        buf_append(b, o, 4);
    }
    if (n - i == 1) {
        unsigned v = (unsigned)s[i] << 16;
        char o[4] = {tbl[v >> 18], tbl[(v >> 12) & 63], '=', '='};
        buf_append(b, o, 4);
    } else if (n - i == 2) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
        char o[4] = {tbl[v >> 18], tbl[(v >> 12) & 63], tbl[(v >> 6) & 63], '='};
        buf_append(b, o, 4);
    }
}

size_t mock_gen_content_bytes(json_object *content)
{
    if (!content)
        return 0;
    if (json_object_is_type(content, json_type_string))
        return (size_t)json_object_get_string_len(content);
    if (!json_object_is_type(content, json_type_array))
        return 0;
    size_t n = 0, len = json_object_array_length(content);
    for (size_t i = 0; i < len; i++) {
        json_object *part = json_object_array_get_idx(content, i), *text;
        if (json_object_is_type(part, json_type_string))
            n += (size_t)json_object_get_string_len(part);
        else if (json_object_object_get_ex(part, "text", &text) &&
                 json_object_is_type(text, json_type_string))
            n += (size_t)json_object_get_string_len(text);
    }
    return n;
}

json_object *mock_json_get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

int mock_json_true(json_object *o, const char *key)
{
    json_object *v = mock_json_get(o, key);
    return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

struct str mock_json_model(json_object *root)
{
    json_object *m = mock_json_get(root, "model");
    if (m && json_object_is_type(m, json_type_string))
        return (struct str){json_object_get_string(m), (size_t)json_object_get_string_len(m)};
    return STR_LIT("mock-model");
}
