/* openai.c: the OpenAI routes of mockllm, in the wire format the official SDKs expect.
 *
 * 1. Chat answers W words of mock_gen_text() (W from --words / x-mock-words, cut to max_tokens or
 *    max_completion_tokens with finish_reason "length"), or, when the request has tools and
 *    tool_choice is not "none", one call to the first tool (or the one tool_choice names) with
 *    fixed arguments.
 * 2. Streams are chunked SSE: a role chunk, one chunk per word (or per arguments piece), a finish
 *    chunk, an optional usage chunk (stream_options.include_usage), then data: [DONE].
 * 3. prompt_tokens = (bytes of all message contents) / 4 + 3 per message; completion_tokens = W.
 * 4. x-mock-content-filter refuses the prompt or ends the answer with finish_reason
 *    "content_filter" (azure.c has Azure's shapes). On an Azure path (q->azure) chat answers carry
 *    prompt_filter_results.
 * 5. Embeddings are mock_gen_vector() of FNV-1a over each input's text (token arrays hash their
 *    decimal text "1,2,3"), as floats or as base64 of little-endian float32. */
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "mock.h"

#define OPENAI_BAD_JSON                                                                            \
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "       \
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "      \
    "sent was not valid JSON.)"

static const char openai_bad_event[] =
    "data: "
    "{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\n\n";

/* Returns a positive max_tokens-like member, or 0. */
static uint32_t get_max(json_object *root, const char *key)
{
    json_object *v = mock_json_get(root, key);
    if (!v || !json_object_is_type(v, json_type_int))
        return 0;
    int64_t n = json_object_get_int64(v);
    return n > 0 && n < (int64_t)UINT32_MAX ? (uint32_t)n : 0;
}

/* Returns the tool to call, or NULL when the request gets text. */
static const char *chat_tool(json_object *root)
{
    json_object *tools = mock_json_get(root, "tools"), *choice = mock_json_get(root, "tool_choice");
    if (!tools || !json_object_is_type(tools, json_type_array) ||
        json_object_array_length(tools) == 0)
        return NULL;
    if (choice && json_object_is_type(choice, json_type_string) &&
        strcmp(json_object_get_string(choice), "none") == 0)
        return NULL;
    json_object *name = mock_json_get(mock_json_get(choice, "function"), "name");
    if (!name)
        name =
            mock_json_get(mock_json_get(json_object_array_get_idx(tools, 0), "function"), "name");
    if (name && json_object_is_type(name, json_type_string))
        return json_object_get_string(name);
    return "tool";
}

static void put_usage(struct buf *b, uint32_t prompt, uint32_t completion)
{
    MOCK_LIT(b, "\"usage\":{\"prompt_tokens\":");
    mock_json_put_u64(b, prompt);
    MOCK_LIT(b, ",\"completion_tokens\":");
    mock_json_put_u64(b, completion);
    MOCK_LIT(b, ",\"total_tokens\":");
    mock_json_put_u64(b, (unsigned long long)prompt + completion);
    buf_putc(b, '}');
}

/* Ends an OpenAI stream whose chunk preamble is in q->tmp: the usage chunk when the client asked
 * for it, data: [DONE], and the last HTTP chunk. */
static void stream_finish(struct mock_req *q, struct mock_sse *s, int include_usage,
                          uint32_t prompt, uint32_t completion)
{
    if (include_usage) {
        buf_reset(q->ev);
        MOCK_LIT(q->ev, "data: ");
        buf_append(q->ev, q->tmp->data, q->tmp->len);
        MOCK_LIT(q->ev, "\"choices\":[],");
        put_usage(q->ev, prompt, completion);
        MOCK_LIT(q->ev, "}\n\n");
        mock_sse_event(s, q->ev);
    }
    buf_reset(q->ev);
    MOCK_LIT(q->ev, "data: [DONE]\n\n");
    mock_sse_event(s, q->ev);
    mock_sse_done(s);
}

/* Appends {"id":"<kind>-mock-<seq>","object":"<object>","created":T,"model":M, (no closing). */
static void put_preamble(struct buf *b, const struct mock_req *q, const char *kind,
                         const char *object, struct str model)
{
    MOCK_LIT(b, "{\"id\":\"");
    buf_puts(b, kind);
    MOCK_LIT(b, "-mock-");
    mock_json_put_u64(b, q->seq);
    MOCK_LIT(b, "\",\"object\":\"");
    buf_puts(b, object);
    MOCK_LIT(b, "\",\"created\":");
    mock_json_put_u64(b, (unsigned long long)time(NULL));
    MOCK_LIT(b, ",\"model\":");
    mock_json_put_str(b, model.p, model.len);
    buf_putc(b, ',');
}

struct chat {
    struct str model;
    const char *tool;
    uint32_t words, prompt_tokens, completion_tokens;
    const char *finish;
    int include_usage;
};

static void chat_json(struct mock_req *q, struct mock_reply *r, const struct chat *c)
{
    struct buf *b = q->tmp;
    buf_reset(b);
    put_preamble(b, q, "chatcmpl", "chat.completion", c->model);
    MOCK_LIT(b, "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    if (c->tool) {
        MOCK_LIT(b, "null,\"tool_calls\":[{\"id\":\"call_mock_1\",\"type\":\"function\","
                    "\"function\":{\"name\":");
        mock_json_put_str(b, c->tool, strlen(c->tool));
        MOCK_LIT(b, ",\"arguments\":");
        mock_json_put_str(b, MOCK_TOOL_ARGS, sizeof(MOCK_TOOL_ARGS) - 1);
        MOCK_LIT(b, "}}]");
    } else {
        buf_putc(b, '"');
        mock_gen_text(b, c->words);
        buf_putc(b, '"');
    }
    MOCK_LIT(b, "},\"finish_reason\":\"");
    buf_puts(b, c->finish);
    MOCK_LIT(b, "\",\"logprobs\":null}],");
    if (q->azure) {
        mock_azure_put_prompt_filter(b);
        buf_putc(b, ',');
    }
    put_usage(b, c->prompt_tokens, c->completion_tokens);
    buf_putc(b, '}');
    mock_reply_json_result(r, q, b->data, b->len);
}

/* Starts one chunk event in q->ev: data: <preamble>"choices":[{"index":0,"delta": */
static void chunk_open(struct mock_req *q)
{
    buf_reset(q->ev);
    MOCK_LIT(q->ev, "data: ");
    buf_append(q->ev, q->tmp->data, q->tmp->len);
    MOCK_LIT(q->ev, "\"choices\":[{\"index\":0,\"delta\":");
}

/* Ends the chunk event in q->ev with that finish_reason (NULL: null) and sends it. */
static void chunk_close(struct mock_req *q, struct mock_sse *s, const struct chat *c,
                        const char *finish)
{
    MOCK_LIT(q->ev, ",\"logprobs\":null,\"finish_reason\":");
    if (finish) {
        buf_putc(q->ev, '"');
        buf_puts(q->ev, finish);
        buf_putc(q->ev, '"');
    } else {
        MOCK_LIT(q->ev, "null");
    }
    MOCK_LIT(q->ev, "}]");
    if (c->include_usage)
        MOCK_LIT(q->ev, ",\"usage\":null");
    MOCK_LIT(q->ev, "}\n\n");
    mock_sse_event(s, q->ev);
}

static void chat_role_chunk(struct mock_req *q, struct mock_sse *s, const struct chat *c)
{
    chunk_open(q);
    if (c->tool) {
        MOCK_LIT(q->ev, "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,"
                        "\"id\":\"call_mock_1\",\"type\":\"function\",\"function\":{\"name\":");
        mock_json_put_str(q->ev, c->tool, strlen(c->tool));
        MOCK_LIT(q->ev, ",\"arguments\":\"\"}}]}");
    } else {
        /* content first, so every text chunk, this one too, starts {"content":" */
        MOCK_LIT(q->ev, "{\"content\":\"\",\"role\":\"assistant\"}");
    }
    chunk_close(q, s, c, NULL);
}

static void chat_stream(struct mock_req *q, struct mock_reply *r, const struct chat *c)
{
    struct mock_sse s;
    uint32_t total = c->tool ? (uint32_t)mock_gen_tool_arg_npieces : c->words;
    mock_sse_start(&s, r, q, total, openai_bad_event);
    if (q->azure) {
        mock_azure_prompt_filter_chunk(q->ev, c->include_usage);
        mock_sse_event(&s, q->ev);
    }
    buf_reset(q->tmp);
    put_preamble(q->tmp, q, "chatcmpl", "chat.completion.chunk", c->model);
    for (uint32_t i = 0; i < total; i++) {
        if (!mock_sse_next(&s))
            return;
        if (i == 0)
            chat_role_chunk(q, &s, c);
        chunk_open(q);
        if (c->tool) {
            MOCK_LIT(q->ev, "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":");
            const char *piece = mock_gen_tool_arg_pieces[i];
            mock_json_put_str(q->ev, piece, strlen(piece));
            MOCK_LIT(q->ev, "}}]}");
        } else {
            MOCK_LIT(q->ev, "{\"content\":\"");
            mock_gen_piece(q->ev, i);
            MOCK_LIT(q->ev, "\"}");
        }
        chunk_close(q, &s, c, NULL);
    }
    if (!mock_sse_end(&s))
        return;
    if (total == 0)
        chat_role_chunk(q, &s, c);
    chunk_open(q);
    MOCK_LIT(q->ev, "{}");
    chunk_close(q, &s, c, c->finish);
    stream_finish(q, &s, c->include_usage, c->prompt_tokens, c->completion_tokens);
}

void mock_openai_chat(struct mock_req *q, struct mock_reply *r)
{
    json_object *root = mock_req_json(q);
    if (!root || !json_object_is_type(root, json_type_object)) {
        mock_reply_error_openai(r, q, 400, OPENAI_BAD_JSON, NULL);
        goto out;
    }
    json_object *msgs = mock_json_get(root, "messages");
    if (!msgs || !json_object_is_type(msgs, json_type_array)) {
        mock_reply_error_openai(r, q, 400, "Missing required parameter: 'messages'.", "messages");
        goto out;
    }
    if (q->p.content_filter == MOCK_FILTER_PROMPT) {
        mock_azure_filter_error(r, q);
        goto out;
    }
    struct chat c = {.model = mock_json_model(root), .tool = chat_tool(root), .finish = "stop"};
    size_t n = json_object_array_length(msgs), bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes +=
            mock_gen_content_bytes(mock_json_get(json_object_array_get_idx(msgs, i), "content"));
    c.prompt_tokens = (uint32_t)(bytes / 4 + 3 * n);
    c.words = q->p.words;
    uint32_t max = get_max(root, "max_completion_tokens");
    if (!max)
        max = get_max(root, "max_tokens");
    if (c.tool) {
        c.finish = "tool_calls";
        c.completion_tokens = (uint32_t)mock_gen_tool_arg_npieces;
    } else {
        if (max && max < c.words) {
            c.words = max;
            c.finish = "length";
        }
        c.completion_tokens = c.words;
    }
    if (q->p.content_filter == MOCK_FILTER_COMPLETION)
        c.finish = "content_filter";
    c.include_usage = mock_json_true(mock_json_get(root, "stream_options"), "include_usage");
    if (mock_json_true(root, "stream"))
        chat_stream(q, r, &c);
    else
        chat_json(q, r, &c);
out:
    json_object_put(root);
}

/* Adds the prompt's token estimate: strings count bytes / 4, token arrays count their length. */
static int prompt_tokens(json_object *p, uint32_t *out)
{
    if (json_object_is_type(p, json_type_string)) {
        *out += mock_gen_tokens((size_t)json_object_get_string_len(p));
        return 0;
    }
    if (!json_object_is_type(p, json_type_array))
        return -1;
    size_t n = json_object_array_length(p);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(p, i);
        if (json_object_is_type(e, json_type_int))
            *out += 1;
        else if (json_object_is_type(e, json_type_string) ||
                 json_object_is_type(e, json_type_array))
            prompt_tokens(e, out);
        else
            return -1;
    }
    return 0;
}

void mock_openai_completions(struct mock_req *q, struct mock_reply *r)
{
    json_object *root = mock_req_json(q);
    if (!root || !json_object_is_type(root, json_type_object)) {
        mock_reply_error_openai(r, q, 400, OPENAI_BAD_JSON, NULL);
        goto out;
    }
    json_object *prompt = mock_json_get(root, "prompt");
    uint32_t ptok = 0;
    if (!prompt || prompt_tokens(prompt, &ptok) < 0) {
        mock_reply_error_openai(r, q, 400, "Missing required parameter: 'prompt'.", "prompt");
        goto out;
    }
    if (q->p.content_filter == MOCK_FILTER_PROMPT) {
        mock_azure_filter_error(r, q);
        goto out;
    }
    struct str model = mock_json_model(root);
    uint32_t words = q->p.words, max = get_max(root, "max_tokens");
    const char *finish = "stop";
    if (max && max < words) {
        words = max;
        finish = "length";
    }
    if (q->p.content_filter == MOCK_FILTER_COMPLETION)
        finish = "content_filter";
    int include_usage = mock_json_true(mock_json_get(root, "stream_options"), "include_usage");
    struct buf *b = q->tmp;
    buf_reset(b);
    put_preamble(b, q, "cmpl", "text_completion", model);
    if (!mock_json_true(root, "stream")) {
        MOCK_LIT(b, "\"choices\":[{\"text\":\"");
        mock_gen_text(b, words);
        MOCK_LIT(b, "\",\"index\":0,\"finish_reason\":\"");
        buf_puts(b, finish);
        MOCK_LIT(b, "\",\"logprobs\":null}],");
        put_usage(b, ptok, words);
        buf_putc(b, '}');
        mock_reply_json_result(r, q, b->data, b->len);
        goto out;
    }
    struct mock_sse s;
    struct buf *ev = q->ev;
    mock_sse_start(&s, r, q, words, openai_bad_event);
    for (uint32_t i = 0; i <= words; i++) {
        if (i < words ? !mock_sse_next(&s) : !mock_sse_end(&s))
            goto out;
        buf_reset(ev);
        MOCK_LIT(ev, "data: ");
        buf_append(ev, b->data, b->len);
        MOCK_LIT(ev, "\"choices\":[{\"text\":\"");
        if (i < words)
            mock_gen_piece(ev, i);
        MOCK_LIT(ev, "\",\"index\":0,\"logprobs\":null,\"finish_reason\":");
        if (i < words) {
            MOCK_LIT(ev, "null");
        } else {
            buf_putc(ev, '"');
            buf_puts(ev, finish);
            buf_putc(ev, '"');
        }
        MOCK_LIT(ev, "}]");
        if (include_usage)
            MOCK_LIT(ev, ",\"usage\":null");
        MOCK_LIT(ev, "}\n\n");
        mock_sse_event(&s, ev);
    }
    stream_finish(q, &s, include_usage, ptok, words);
out:
    json_object_put(root);
}

/* Appends one input's text for hashing to b and returns its token estimate; -1 when the input is
 * neither a string nor an array of integers. */
static long embed_input_text(json_object *in, struct buf *b)
{
    if (json_object_is_type(in, json_type_string)) {
        buf_append(b, json_object_get_string(in), (size_t)json_object_get_string_len(in));
        return mock_gen_tokens((size_t)json_object_get_string_len(in));
    }
    if (!json_object_is_type(in, json_type_array) || json_object_array_length(in) == 0)
        return -1;
    size_t n = json_object_array_length(in);
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(in, i);
        if (!json_object_is_type(t, json_type_int))
            return -1;
        if (i)
            buf_putc(b, ',');
        buf_printf(b, "%lld", (long long)json_object_get_int64(t));
    }
    return (long)n;
}

static void embed_one(struct buf *b, struct buf *text, uint32_t dims, int as_base64, size_t index)
{
    float stackv[64];
    float *v = dims <= 64 ? stackv : xmalloc(dims * sizeof(float));
    mock_gen_vector(v, dims, mock_gen_fnv1a(text->data, text->len));
    if (index)
        buf_putc(b, ',');
    MOCK_LIT(b, "{\"object\":\"embedding\",\"index\":");
    mock_json_put_u64(b, index);
    MOCK_LIT(b, ",\"embedding\":");
    if (as_base64) {
        unsigned char *bytes = xmalloc((size_t)dims * 4);
        for (uint32_t i = 0; i < dims; i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            bytes[i * 4] = (unsigned char)u;
            bytes[i * 4 + 1] = (unsigned char)(u >> 8);
            bytes[i * 4 + 2] = (unsigned char)(u >> 16);
            bytes[i * 4 + 3] = (unsigned char)(u >> 24);
        }
        buf_putc(b, '"');
        mock_gen_base64(b, bytes, (size_t)dims * 4);
        buf_putc(b, '"');
        free(bytes);
    } else {
        buf_putc(b, '[');
        for (uint32_t i = 0; i < dims; i++) {
            if (i)
                buf_putc(b, ',');
            mock_json_put_float(b, v[i]);
        }
        buf_putc(b, ']');
    }
    buf_putc(b, '}');
    if (v != stackv)
        free(v);
}

void mock_openai_embeddings(struct mock_req *q, struct mock_reply *r)
{
    struct buf text = BUF_INIT;
    json_object *root = mock_req_json(q);
    if (!root || !json_object_is_type(root, json_type_object)) {
        mock_reply_error_openai(r, q, 400, OPENAI_BAD_JSON, NULL);
        goto out;
    }
    uint32_t dims = MOCK_DEFAULT_DIMS;
    json_object *d = mock_json_get(root, "dimensions");
    if (d) {
        int64_t n = json_object_is_type(d, json_type_int) ? json_object_get_int64(d) : 0;
        if (n < 1 || n > MOCK_MAX_EMBED_DIMS) {
            mock_reply_error_openai(r, q, 400, "Invalid 'dimensions': must be between 1 and 8192.",
                                    "dimensions");
            goto out;
        }
        dims = (uint32_t)n;
    }
    int as_base64 = 0;
    json_object *fmt = mock_json_get(root, "encoding_format");
    if (fmt) {
        const char *f = json_object_get_string(fmt);
        if (json_object_is_type(fmt, json_type_string) && strcmp(f, "base64") == 0) {
            as_base64 = 1;
        } else if (!json_object_is_type(fmt, json_type_string) || strcmp(f, "float") != 0) {
            mock_reply_error_openai(r, q, 400,
                                    "Invalid 'encoding_format': must be 'float' or 'base64'.",
                                    "encoding_format");
            goto out;
        }
    }
    json_object *input = mock_json_get(root, "input");
    /* A list of inputs is an array of strings or of arrays; anything else is one input. */
    int many = 0;
    if (input && json_object_is_type(input, json_type_array) && json_object_array_length(input)) {
        json_object *first = json_object_array_get_idx(input, 0);
        many = json_object_is_type(first, json_type_string) ||
               json_object_is_type(first, json_type_array);
    }
    size_t count = many ? json_object_array_length(input) : 1;
    struct str model = mock_json_model(root);
    struct buf *b = q->tmp;
    buf_reset(b);
    MOCK_LIT(b, "{\"object\":\"list\",\"data\":[");
    unsigned long long tokens = 0;
    for (size_t i = 0; input && i < count; i++) {
        buf_reset(&text);
        long t = embed_input_text(many ? json_object_array_get_idx(input, i) : input, &text);
        if (t < 0) {
            input = NULL;
            break;
        }
        tokens += (unsigned long long)t;
        embed_one(b, &text, dims, as_base64, i);
    }
    if (!input) {
        mock_reply_error_openai(r, q, 400,
                                "'input' must be a string, an array of strings, an array of "
                                "integers, or an array of integer arrays.",
                                "input");
        goto out;
    }
    MOCK_LIT(b, "],\"model\":");
    mock_json_put_str(b, model.p, model.len);
    MOCK_LIT(b, ",\"usage\":{\"prompt_tokens\":");
    mock_json_put_u64(b, tokens);
    MOCK_LIT(b, ",\"total_tokens\":");
    mock_json_put_u64(b, tokens);
    MOCK_LIT(b, "}}");
    mock_reply_json_result(r, q, b->data, b->len);
out:
    buf_free(&text);
    json_object_put(root);
}

static void model_object(struct buf *b, const char *id, size_t n)
{
    MOCK_LIT(b, "{\"id\":");
    mock_json_put_str(b, id, n);
    MOCK_LIT(b, ",\"object\":\"model\",\"created\":0,\"owned_by\":\"mockllm\"}");
}

void mock_openai_models(struct mock_req *q, struct mock_reply *r)
{
    struct buf *b = q->tmp;
    buf_reset(b);
    MOCK_LIT(b, "{\"object\":\"list\",\"data\":[");
    model_object(b, "mock-model", 10);
    MOCK_LIT(b, "]}");
    mock_reply_json_result(r, q, b->data, b->len);
}

void mock_openai_model(struct mock_req *q, struct mock_reply *r)
{
    struct buf *b = q->tmp;
    struct str id = {q->path.p + 11, q->path.len - 11}; /* after "/v1/models/" */
    buf_reset(b);
    model_object(b, id.p, id.len);
    mock_reply_json_result(r, q, b->data, b->len);
}
