/* gemini.c: the Google Gemini API (Generative Language API, v1beta) for mockllm.
 *
 * 1. POST /v1beta/models/{model}:{method} (and /v1/models/...), where method is generateContent,
 *    streamGenerateContent or countTokens. The API key (x-goog-api-key header or ?key=) must be
 *    present but is not checked; without one the answer is Google's 403 PERMISSION_DENIED.
 * 2. Answers are GenerateContentResponse objects: candidates[0].content {parts, role "model"},
 *    finishReason, index, then usageMetadata, modelVersion (the model of the path) and responseId.
 *    The text is mock_gen_text(); generationConfig.maxOutputTokens cuts it (finishReason
 *    MAX_TOKENS).
 * 3. streamGenerateContent?alt=sse sends one "data: {...}\r\n\r\n" event per word, each a whole
 *    GenerateContentResponse, then a last event with an empty text part, finishReason and the full
 *    usage. Without alt=sse the same objects go out as one chunked JSON array, as Google does.
 * 4. With tools[].functionDeclarations (and functionCallingConfig.mode not NONE) the answer is one
 *    functionCall part calling the first declaration, or allowedFunctionNames[0], with the fixed
 *    args. finishReason is STOP. Streamed, the call comes whole in one event.
 * 5. x-mock-safety: 1 (or prompt) blocks the prompt: promptFeedback.blockReason SAFETY and no
 *    candidates. x-mock-safety: candidate gives a candidate with finishReason SAFETY and
 *    safetyRatings (non-stream: no content; stream: the words, then that candidate).
 * 6. Errors have Google's shape {"error":{"code","message","status"}}, with the canonical status
 *    name of the HTTP code (429 RESOURCE_EXHAUSTED also carries a RetryInfo detail).
 * 7. promptTokenCount = (bytes of the text parts of contents and systemInstruction) / 4 + 3 per
 *    content; countTokens answers the same number as totalTokens. A positive
 *    generationConfig.thinkingConfig.thinkingBudget adds thoughtsTokenCount = min(budget, 16) to
 *    the final usage (and to totalTokenCount), as thinking models report it. */
#include <stdio.h>
#include <string.h>

#include "mock.h"

static const char gemini_bad_sse[] =
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\r\n\r\n";
static const char gemini_bad_array[] = ",\r\n{\"candidates\":[{\"content\":{\"parts\":[{\"te";

/* The safetyRatings of a blocked prompt or candidate: dangerous content rated HIGH and blocked. */
#define GEMINI_RATING(cat, prob)                                                                   \
    "{\"category\":\"HARM_CATEGORY_" cat "\",\"probability\":\"" prob "\""
#define GEMINI_RATINGS_BLOCKED                                                                     \
    "[" GEMINI_RATING("HATE_SPEECH", "NEGLIGIBLE") "},"                                            \
        GEMINI_RATING("DANGEROUS_CONTENT", "HIGH") ",\"blocked\":true},"                           \
        GEMINI_RATING("HARASSMENT", "NEGLIGIBLE") "},"                                             \
        GEMINI_RATING("SEXUALLY_EXPLICIT", "NEGLIGIBLE") "}]"

enum { SAFETY_OFF, SAFETY_PROMPT, SAFETY_CANDIDATE };

/* The canonical google.rpc.Code name for an HTTP status. */
static const char *gemini_status_name(int status)
{
    switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 500: return "INTERNAL";
    case 501: return "UNIMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "INTERNAL" : status >= 400 ? "FAILED_PRECONDITION" : "UNKNOWN";
    }
}

void mock_reply_error_gemini(struct mock_reply *r, const struct mock_req *q, int status,
                             const char *message)
{
    struct buf *b = q->tmp;
    buf_reset(b);
    MOCK_LIT(b, "{\"error\":{\"code\":");
    mock_json_put_u64(b, (unsigned long long)status);
    MOCK_LIT(b, ",\"message\":");
    mock_json_put_str(b, message, strlen(message));
    MOCK_LIT(b, ",\"status\":\"");
    buf_puts(b, gemini_status_name(status));
    buf_putc(b, '"');
    if (status == 429) {
        MOCK_LIT(b, ",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\","
                    "\"retryDelay\":\"");
        mock_json_put_u64(b, (unsigned long long)(q->p.retry_after > 0 ? q->p.retry_after : 1));
        MOCK_LIT(b, "s\"}]");
    }
    MOCK_LIT(b, "}}");
    /* Google sends no retry-after header; it comes only when asked for with x-mock-retry-after. */
    char extra[64];
    if (q->p.retry_after > 0)
        snprintf(extra, sizeof extra, "retry-after: %d\r\n", q->p.retry_after);
    mock_reply_full(r, q, status, "application/json; charset=UTF-8", b->data, b->len,
                    q->p.retry_after > 0 ? extra : NULL);
}

/* Returns the value of query parameter name in q's URL (a view, not decoded), or an empty view
 * with p NULL when it is absent. */
static struct str query_param(const struct mock_req *q, const char *name)
{
    struct str query = {q->url.p + q->path.len, q->url.len - q->path.len};
    size_t k = strlen(name);
    for (size_t i = 0; i < query.len; i++) {
        if (query.p[i] != '?' && query.p[i] != '&')
            continue;
        size_t at = i + 1;
        if (query.len - at > k && memcmp(query.p + at, name, k) == 0 && query.p[at + k] == '=') {
            const char *v = query.p + at + k + 1;
            const char *end = memchr(v, '&', (size_t)(query.p + query.len - v));
            return (struct str){v, end ? (size_t)(end - v) : (size_t)(query.p + query.len - v)};
        }
    }
    return (struct str){NULL, 0};
}

struct gem {
    struct str model;
    const char *tool; /* function to call, or NULL for text */
    uint32_t words, prompt_tokens, out_tokens;
    uint32_t thoughts; /* thoughtsTokenCount, 0: not reported */
    const char *finish;
    int safety;
};

static int str_is(json_object *o, const char *s)
{
    return o && json_object_is_type(o, json_type_string) &&
           strcmp(json_object_get_string(o), s) == 0;
}

/* Returns the function to call, or NULL when the request gets text. */
static const char *gemini_tool(json_object *root)
{
    json_object *tools = mock_json_get(root, "tools");
    if (!tools || !json_object_is_type(tools, json_type_array))
        return NULL;
    json_object *cfg = mock_json_get(mock_json_get(root, "toolConfig"), "functionCallingConfig");
    if (str_is(mock_json_get(cfg, "mode"), "NONE"))
        return NULL;
    size_t n = json_object_array_length(tools);
    for (size_t i = 0; i < n; i++) {
        json_object *decls = mock_json_get(json_object_array_get_idx(tools, i),
                                           "functionDeclarations");
        if (!decls || !json_object_is_type(decls, json_type_array) ||
            json_object_array_length(decls) == 0)
            continue;
        json_object *allowed = mock_json_get(cfg, "allowedFunctionNames");
        json_object *name = NULL;
        if (allowed && json_object_is_type(allowed, json_type_array) &&
            json_object_array_length(allowed) > 0)
            name = json_object_array_get_idx(allowed, 0);
        if (!name || !json_object_is_type(name, json_type_string))
            name = mock_json_get(json_object_array_get_idx(decls, 0), "name");
        if (name && json_object_is_type(name, json_type_string))
            return json_object_get_string(name);
        return "tool";
    }
    return NULL;
}

/* Token estimate of contents plus systemInstruction; -1 when contents is not an array. */
static long gemini_prompt_tokens(json_object *root)
{
    json_object *contents = mock_json_get(root, "contents");
    if (!contents || !json_object_is_type(contents, json_type_array))
        return -1;
    size_t n = json_object_array_length(contents);
    size_t bytes = mock_gen_content_bytes(mock_json_get(mock_json_get(root, "systemInstruction"),
                                                        "parts"));
    for (size_t i = 0; i < n; i++)
        bytes += mock_gen_content_bytes(
            mock_json_get(json_object_array_get_idx(contents, i), "parts"));
    return (long)(bytes / 4 + 3 * n);
}

static void put_prompt_details(struct buf *b, uint32_t tokens)
{
    MOCK_LIT(b, "\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":");
    mock_json_put_u64(b, tokens);
    MOCK_LIT(b, "}]");
}

/* usageMetadata; with_out adds candidatesTokenCount (the last event, or a whole answer). */
static void put_usage(struct buf *b, const struct gem *g, int with_out)
{
    MOCK_LIT(b, "\"usageMetadata\":{\"promptTokenCount\":");
    mock_json_put_u64(b, g->prompt_tokens);
    if (with_out) {
        MOCK_LIT(b, ",\"candidatesTokenCount\":");
        mock_json_put_u64(b, g->out_tokens);
    }
    MOCK_LIT(b, ",\"totalTokenCount\":");
    mock_json_put_u64(b, g->prompt_tokens + (with_out ? g->out_tokens + g->thoughts : 0));
    buf_putc(b, ',');
    put_prompt_details(b, g->prompt_tokens);
    if (with_out && g->thoughts) {
        MOCK_LIT(b, ",\"thoughtsTokenCount\":");
        mock_json_put_u64(b, g->thoughts);
    }
    buf_putc(b, '}');
}

static void put_tail(struct buf *b, const struct mock_req *q, const struct gem *g, int with_out)
{
    buf_putc(b, ',');
    put_usage(b, g, with_out);
    MOCK_LIT(b, ",\"modelVersion\":");
    mock_json_put_str(b, g->model.p, g->model.len);
    MOCK_LIT(b, ",\"responseId\":\"mock-gemini-");
    mock_json_put_u64(b, q->seq);
    MOCK_LIT(b, "\"}");
}

static void put_function_call(struct buf *b, const struct gem *g)
{
    MOCK_LIT(b, "{\"functionCall\":{\"name\":");
    mock_json_put_str(b, g->tool, strlen(g->tool));
    MOCK_LIT(b, ",\"args\":" MOCK_TOOL_ARGS "}}");
}

/* Opens candidate 0 with content parts: {"candidates":[{"content":{"parts":[ */
static void open_candidate(struct buf *b)
{
    MOCK_LIT(b, "{\"candidates\":[{\"content\":{\"parts\":[");
}

/* Closes the parts and the content, adds finishReason (if any) and the index. */
static void close_candidate(struct buf *b, const char *finish)
{
    MOCK_LIT(b, "],\"role\":\"model\"}");
    if (finish) {
        MOCK_LIT(b, ",\"finishReason\":\"");
        buf_puts(b, finish);
        buf_putc(b, '"');
    }
    MOCK_LIT(b, ",\"index\":0}]");
}

static void put_prompt_blocked(struct buf *b, const struct mock_req *q, const struct gem *g)
{
    MOCK_LIT(b, "{\"promptFeedback\":{\"blockReason\":\"SAFETY\",\"safetyRatings\":"
                GEMINI_RATINGS_BLOCKED "}");
    put_tail(b, q, g, 0);
}

static void put_candidate_blocked(struct buf *b, const struct mock_req *q, const struct gem *g)
{
    MOCK_LIT(b, "{\"candidates\":[{\"finishReason\":\"SAFETY\",\"index\":0,\"safetyRatings\":"
                GEMINI_RATINGS_BLOCKED "}]");
    put_tail(b, q, g, 1);
}

static void gemini_json(struct mock_req *q, struct mock_reply *r, struct gem *g)
{
    struct buf *b = q->tmp;
    buf_reset(b);
    if (g->safety == SAFETY_PROMPT) {
        put_prompt_blocked(b, q, g);
    } else if (g->safety == SAFETY_CANDIDATE) {
        g->out_tokens = 0;
        put_candidate_blocked(b, q, g);
    } else {
        open_candidate(b);
        if (g->tool) {
            put_function_call(b, g);
        } else {
            MOCK_LIT(b, "{\"text\":\"");
            mock_gen_text(b, g->words);
            MOCK_LIT(b, "\"}");
        }
        close_candidate(b, g->finish);
        put_tail(b, q, g, 1);
    }
    mock_reply_json_result(r, q, b->data, b->len);
}

/* The stream writer, in SSE (alt=sse) or JSON-array framing. */
struct gstream {
    struct mock_sse s;
    int array;
    int first; /* no element written yet (array framing) */
};

static void gs_open(struct gstream *gs, struct mock_req *q)
{
    buf_reset(q->ev);
    if (!gs->array)
        MOCK_LIT(q->ev, "data: ");
    else if (gs->first)
        buf_putc(q->ev, '[');
    else
        MOCK_LIT(q->ev, ",\r\n");
    gs->first = 0;
}

static void gs_send(struct gstream *gs, struct mock_req *q)
{
    if (!gs->array)
        MOCK_LIT(q->ev, "\r\n\r\n");
    mock_sse_event(&gs->s, q->ev);
}

static void gemini_stream(struct mock_req *q, struct mock_reply *r, struct gem *g, int array)
{
    struct gstream gs = {.array = array, .first = 1};
    uint32_t total = g->safety == SAFETY_PROMPT ? 1 : g->tool ? 1 : g->words;
    const char *bad = array ? gemini_bad_array : gemini_bad_sse;
    if (array) {
        /* mock_sse_start() with Google's JSON content type. */
        gs.s = (struct mock_sse){.r = r, .q = q, .bad_event = bad, .total = total};
        r->stream = 1;
        mock_reply_head(r, q, 200, "application/json; charset=UTF-8", -1, NULL);
    } else {
        mock_sse_start(&gs.s, r, q, total, bad);
    }
    struct buf *ev = q->ev;
    if (g->safety == SAFETY_PROMPT || g->tool) {
        /* One whole event: the blocked prompt, or the call with its finish reason and usage. */
        if (!mock_sse_next(&gs.s))
            return;
        gs_open(&gs, q);
        if (g->safety == SAFETY_PROMPT) {
            put_prompt_blocked(ev, q, g);
        } else {
            open_candidate(ev);
            put_function_call(ev, g);
            close_candidate(ev, g->finish);
            put_tail(ev, q, g, 1);
        }
        gs_send(&gs, q);
        if (!mock_sse_end(&gs.s))
            return;
    } else {
        for (uint32_t i = 0; i < total; i++) {
            if (!mock_sse_next(&gs.s))
                return;
            gs_open(&gs, q);
            open_candidate(ev);
            MOCK_LIT(ev, "{\"text\":\"");
            mock_gen_piece(ev, i);
            MOCK_LIT(ev, "\"}");
            close_candidate(ev, NULL);
            put_tail(ev, q, g, 0);
            gs_send(&gs, q);
        }
        if (!mock_sse_end(&gs.s))
            return;
        gs_open(&gs, q);
        if (g->safety == SAFETY_CANDIDATE) {
            put_candidate_blocked(ev, q, g);
        } else {
            open_candidate(ev);
            MOCK_LIT(ev, "{\"text\":\"\"}");
            close_candidate(ev, g->finish);
            put_tail(ev, q, g, 1);
        }
        gs_send(&gs, q);
    }
    if (array) {
        buf_reset(ev);
        buf_putc(ev, ']');
        mock_sse_event(&gs.s, ev);
    }
    mock_sse_done(&gs.s);
}

static void gemini_count_tokens(struct mock_req *q, struct mock_reply *r, json_object *root)
{
    /* {"contents":[...]} or {"generateContentRequest":{"model","contents":[...]}} */
    json_object *gcr = mock_json_get(root, "generateContentRequest");
    long tokens = gemini_prompt_tokens(gcr ? gcr : root);
    if (tokens < 0) {
        mock_reply_error_gemini(r, q, 400, "* CountTokensRequest.contents: contents is not "
                                           "specified\n");
        return;
    }
    struct buf *b = q->tmp;
    buf_reset(b);
    MOCK_LIT(b, "{\"totalTokens\":");
    mock_json_put_u64(b, (unsigned long long)tokens);
    buf_putc(b, ',');
    put_prompt_details(b, (uint32_t)tokens);
    buf_putc(b, '}');
    mock_reply_json_result(r, q, b->data, b->len);
}

static int safety_mode(const struct mock_req *q)
{
    struct str v = mock_req_header(q, "x-mock-safety");
    while (v.len && (v.p[0] == ' ' || v.p[0] == '\t')) {
        v.p++;
        v.len--;
    }
    while (v.len && (v.p[v.len - 1] == ' ' || v.p[v.len - 1] == '\t'))
        v.len--;
    if (str_eq_ci(v, "candidate"))
        return SAFETY_CANDIDATE;
    if (str_eq_ci(v, "1") || str_eq_ci(v, "true") || str_eq_ci(v, "yes") || str_eq_ci(v, "on") ||
        str_eq_ci(v, "prompt"))
        return SAFETY_PROMPT;
    return SAFETY_OFF;
}

void mock_gemini(struct mock_req *q, struct mock_reply *r)
{
    /* after "/v1beta/models/" or "/v1/models/": "{model}:{method}" */
    size_t skip = str_starts(q->path, "/v1beta/") ? 15 : 11;
    struct str rest = {q->path.p + skip, q->path.len - skip};
    const char *colon = NULL;
    for (size_t i = rest.len; i > 0; i--)
        if (rest.p[i - 1] == ':') {
            colon = rest.p + i - 1;
            break;
        }
    if (!colon || colon == rest.p || memchr(rest.p, '/', (size_t)(colon - rest.p))) {
        mock_reply_error_gemini(r, q, 404, "mockllm: unknown Gemini path");
        return;
    }
    struct str method = {colon + 1, (size_t)(rest.p + rest.len - colon - 1)};
    int op = str_eq(method, STR_LIT("generateContent"))         ? 0
             : str_eq(method, STR_LIT("streamGenerateContent")) ? 1
             : str_eq(method, STR_LIT("countTokens"))           ? 2
                                                                : -1;
    if (op < 0) {
        mock_reply_error_gemini(r, q, 404, "mockllm: unknown Gemini method");
        return;
    }
    struct str key = query_param(q, "key");
    if (!mock_req_header(q, "x-goog-api-key").len && !key.len) {
        mock_reply_error_gemini(r, q, 403,
                                "Method doesn't allow unregistered callers (callers without "
                                "established identity). Please use API Key or other form of API "
                                "consumer identity to call this API.");
        return;
    }
    json_object *root = mock_req_json(q);
    if (!root || !json_object_is_type(root, json_type_object)) {
        mock_reply_error_gemini(r, q, 400, "Invalid JSON payload received.");
        goto out;
    }
    if (op == 2) {
        gemini_count_tokens(q, r, root);
        goto out;
    }
    long pt = gemini_prompt_tokens(root);
    json_object *contents = mock_json_get(root, "contents");
    if (pt < 0 || json_object_array_length(contents) == 0) {
        mock_reply_error_gemini(r, q, 400,
                                "* GenerateContentRequest.contents: contents is not specified\n");
        goto out;
    }
    struct gem g = {.model = {rest.p, (size_t)(colon - rest.p)},
                    .tool = gemini_tool(root),
                    .words = q->p.words,
                    .prompt_tokens = (uint32_t)pt,
                    .finish = "STOP",
                    .safety = safety_mode(q)};
    if (g.tool) {
        g.out_tokens = (uint32_t)mock_gen_tool_arg_npieces;
    } else {
        json_object *max = mock_json_get(mock_json_get(root, "generationConfig"),
                                         "maxOutputTokens");
        if (max && json_object_is_type(max, json_type_int) && json_object_get_int64(max) >= 0 &&
            json_object_get_int64(max) < (int64_t)g.words) {
            g.words = (uint32_t)json_object_get_int64(max);
            g.finish = "MAX_TOKENS";
        }
        g.out_tokens = g.words;
    }
    json_object *budget = mock_json_get(
        mock_json_get(mock_json_get(root, "generationConfig"), "thinkingConfig"), "thinkingBudget");
    int64_t bv = 0;
    if (budget && json_object_is_type(budget, json_type_int))
        bv = json_object_get_int64(budget);
    if (bv > 0)
        g.thoughts = bv < 16 ? (uint32_t)bv : 16;
    if (op == 1) {
        struct str alt = query_param(q, "alt");
        gemini_stream(q, r, &g, !str_eq(alt, STR_LIT("sse")));
    } else {
        gemini_json(q, r, &g);
    }
out:
    json_object_put(root);
}
