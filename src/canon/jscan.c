#include "canon/jscan.h"

#include <string.h>

#include "base/err.h"

struct scan {
    const char *s;
    size_t len;
    size_t pos;
    int failed;
};

static void ws(struct scan *sc)
{
    while (sc->pos < sc->len) {
        char c = sc->s[sc->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        sc->pos++;
    }
}

static int fail(struct scan *sc)
{
    sc->failed = 1;
    return -1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Bytes that end a run of plain string content: the quote, the backslash and control characters. */
static const unsigned char string_stop[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1, [0x07] = 1,
    [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1,
    [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
    [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1,
    ['"'] = 1, ['\\'] = 1,
};

/* At an opening quote: moves past the closing one. */
static int string(struct scan *sc)
{
    const unsigned char *p = (const unsigned char *)sc->s;
    sc->pos++;
    while (sc->pos < sc->len) {
        size_t i = sc->pos, n = sc->len;
        while (i < n && !string_stop[p[i]])
            i++; /* the common case: plain text */
        sc->pos = i;
        if (i >= n)
            break;
        unsigned char c = p[i];
        if (c == '"') {
            sc->pos++;
            return 0;
        }
        if (c < 0x20)
            return fail(sc);
        if (c == '\\') {
            if (++sc->pos >= sc->len)
                return fail(sc);
            char e = sc->s[sc->pos];
            if (e == 'u') {
                for (size_t h = 1; h <= 4; h++)
                    if (sc->pos + h >= sc->len || !is_hex(sc->s[sc->pos + h]))
                        return fail(sc);
                sc->pos += 4;
            } else if (!strchr("\"\\/bfnrt", e) || e == '\0') {
                return fail(sc);
            }
        }
        sc->pos++;
    }
    return fail(sc);
}

static int digits(struct scan *sc)
{
    size_t start = sc->pos;
    while (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
        sc->pos++;
    return sc->pos > start ? 0 : fail(sc);
}

static int number(struct scan *sc)
{
    if (sc->s[sc->pos] == '-')
        sc->pos++;
    if (sc->pos >= sc->len)
        return fail(sc);
    if (sc->s[sc->pos] == '0')
        sc->pos++;
    else if (digits(sc) != 0)
        return -1;
    if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
        sc->pos++;
        if (digits(sc) != 0)
            return -1;
    }
    if (sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
        sc->pos++;
        if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
            sc->pos++;
        if (digits(sc) != 0)
            return -1;
    }
    return 0;
}

static int literal(struct scan *sc, const char *word)
{
    size_t n = strlen(word);
    if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
        return fail(sc);
    sc->pos += n;
    return 0;
}

static int value(struct scan *sc, int depth, struct jscan_member *m, size_t max, size_t *n);

static int array(struct scan *sc, int depth)
{
    sc->pos++;
    ws(sc);
    if (sc->pos < sc->len && sc->s[sc->pos] == ']') {
        sc->pos++;
        return 0;
    }
    for (;;) {
        if (value(sc, depth + 1, NULL, 0, NULL) != 0)
            return -1;
        ws(sc);
        if (sc->pos >= sc->len)
            return fail(sc);
        char c = sc->s[sc->pos++];
        if (c == ']')
            return 0;
        if (c != ',') {
            sc->pos--;
            return fail(sc);
        }
        ws(sc);
    }
}

/* Members are recorded only for the top-level object (m != NULL). */
static int object(struct scan *sc, int depth, struct jscan_member *m, size_t max, size_t *n)
{
    sc->pos++;
    ws(sc);
    if (sc->pos < sc->len && sc->s[sc->pos] == '}') {
        sc->pos++;
        return 0;
    }
    for (;;) {
        if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
            return fail(sc);
        size_t k0 = sc->pos;
        if (string(sc) != 0)
            return -1;
        size_t k1 = sc->pos;
        ws(sc);
        if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
            return fail(sc);
        sc->pos++;
        ws(sc);
        size_t v0 = sc->pos;
        if (value(sc, depth + 1, NULL, 0, NULL) != 0)
            return -1;
        if (n) {
            if (*n < max) {
                m[*n].key = (struct str){sc->s + k0 + 1, k1 - k0 - 2};
                m[*n].value = (struct str){sc->s + v0, sc->pos - v0};
            }
            (*n)++;
        }
        ws(sc);
        if (sc->pos >= sc->len)
            return fail(sc);
        char c = sc->s[sc->pos++];
        if (c == '}')
            return 0;
        if (c != ',') {
            sc->pos--;
            return fail(sc);
        }
        ws(sc);
    }
}

static int value(struct scan *sc, int depth, struct jscan_member *m, size_t max, size_t *n)
{
    if (depth > JSCAN_MAX_DEPTH || sc->pos >= sc->len)
        return fail(sc);
    switch (sc->s[sc->pos]) {
    case '{': return object(sc, depth, m, max, n);
    case '[': return array(sc, depth);
    case '"': return string(sc);
    case 't': return literal(sc, "true");
    case 'f': return literal(sc, "false");
    case 'n': return literal(sc, "null");
    default:
        if (sc->s[sc->pos] == '-' || is_digit(sc->s[sc->pos]))
            return number(sc);
        return fail(sc);
    }
}

int jscan(const char *s, size_t len, struct jscan_member *members, size_t max, size_t *n_members,
          size_t *err_at)
{
    struct scan sc = {s, len, 0, 0};
    size_t n = 0;
    ws(&sc);
    int rc = value(&sc, 1, members, max, &n);
    if (rc == 0) {
        ws(&sc);
        if (sc.pos != len)
            rc = fail(&sc);
    }
    if (rc != 0) {
        if (err_at)
            *err_at = sc.pos;
        return ERR_PARSE;
    }
    if (n_members)
        *n_members = n;
    return 0;
}

const struct jscan_member *jscan_find(const struct jscan_member *m, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (str_eq(m[i].key, str_c(key)))
            return &m[i];
    return NULL;
}
