/* anthropic.c: POST /v1/messages and /v1/messages/count_tokens in Anthropic's Messages API format.
 *
 * 1. The text is the same mock_gen_text() as the OpenAI routes; max_tokens (required, as
 *    upstream) cuts it with stop_reason "max_tokens", else stop_reason is "end_turn".
 * 2. With tools (and tool_choice not {"type":"none"}) the answer is one tool_use block calling the
 *    first tool (or the one tool_choice names) with the same fixed input as the OpenAI routes, and
 *    stop_reason "tool_use".
 * 3. With thinking {"type":"enabled","budget_tokens":N} (or {"type":"adaptive"}) a thinking block
 *    with a fixed text and signature comes first; its tokens count in output_tokens.
 * 4. Streams send message_start, content_block_start and ping with the headers, then per block one
 *    content_block_delta per piece (text_delta, input_json_delta, or thinking_delta plus one
 *    signature_delta), content_block_stop, and at the end message_delta (stop_reason, usage) and
 *    message_stop. x-mock-stream-error: N replaces the content event N (0-based) with an
 *    `event: error` (overloaded_error) and ends the stream there.
 * 5. stop_sequences: the earliest one found in the text cuts it just before the match, with
 *    stop_reason "stop_sequence" and stop_sequence set; a stream's last piece is cut there too.
 * 6. input_tokens = (bytes of system and all message contents) / 4 + 3 per message. */
#include <string.h>

#include "mock.h"

static const char anthropic_bad_event[] =
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\n\n";

/* The thinking block: pieces concatenate to the text; the signature is fixed base64. */
static const char *const thinking_pieces[] = {"Let", " me", " think", " about", " this",
                                              " step", " by", " step."};
#define THINKING_NPIECES  (sizeof(thinking_pieces) / sizeof(thinking_pieces[0]))
#define THINKING_SIG      "bW9jay10aGlua2luZy1zaWduYXR1cmU="
#define THINKING_MIN_BUDGET 1024

/* Returns the tool to call, or NULL when the request gets text. */
static const char *messages_tool(json_object *root)
{
    json_object *tools = mock_json_get(root, "tools"), *choice = mock_json_get(root, "tool_choice");
    if (!tools || !json_object_is_type(tools, json_type_array) ||
        json_object_array_length(tools) == 0)
        return NULL;
    json_object *type = mock_json_get(choice, "type");
    if (type && json_object_is_type(type, json_type_string) &&
        strcmp(json_object_get_string(type), "none") == 0)
        return NULL;
    json_object *name = mock_json_get(choice, "name");
    if (!name)
        name = mock_json_get(json_object_array_get_idx(tools, 0), "name");
    if (name && json_object_is_type(name, json_type_string))
        return json_object_get_string(name);
    return "tool";
}

struct msg {
    struct str model;
    const char *tool;
    int thinking;
    long error_at; /* x-mock-stream-error: content event replaced by an error event, or -1 */
    uint32_t words, input_tokens, output_tokens;
    const char *stop_reason;
    json_object *stop_seq; /* the stop sequence that matched, or NULL */
    size_t text_bytes;     /* with stop_seq: the text is cut to this many bytes */
};

/* Drops the bytes of b after n (n <= b->len). */
static void buf_cut(struct buf *b, size_t n)
{
    b->len = n;
    b->data[n] = '\0';
}

static void put_stop_sequence(struct buf *b, const struct msg *m)
{
    if (m->stop_seq)
        mock_json_put_str(b, json_object_get_string(m->stop_seq),
                          (size_t)json_object_get_string_len(m->stop_seq));
    else
        MOCK_LIT(b, "null");
}

/* Returns the offset of needle in hay, or -1. */
static long find(const char *hay, size_t n, const char *needle, size_t k)
{
    if (k == 0 || k > n)
        return -1;
    for (const char *p = hay, *end = hay + n - k + 1; p < end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (!p)
            return -1;
        if (memcmp(p, needle, k) == 0)
            return (long)(p - hay);
    }
    return -1;
}

/* Applies stop_sequences to the text of m->words words (built in q->tmp). */
static void apply_stop_sequences(struct mock_req *q, json_object *root, struct msg *m)
{
    json_object *stops = mock_json_get(root, "stop_sequences");
    if (m->tool || !stops || !json_object_is_type(stops, json_type_array))
        return;
    struct buf *b = q->tmp;
    buf_reset(b);
    mock_gen_text(b, m->words);
    long best = -1;
    for (size_t i = 0, n = json_object_array_length(stops); i < n; i++) {
        json_object *s = json_object_array_get_idx(stops, i);
        if (!json_object_is_type(s, json_type_string))
            continue;
        long at = find(b->data, b->len, json_object_get_string(s),
                       (size_t)json_object_get_string_len(s));
        if (at >= 0 && (best < 0 || at < best)) {
            best = at;
            m->stop_seq = s;
        }
    }
    if (best < 0)
        return;
    /* The pieces that start before the cut: piece 0, and piece i > 0 at the i-th space. */
    uint32_t pieces = best > 0;
    for (long i = 0; i < best; i++)
        pieces += b->data[i] == ' ';
    m->words = pieces;
    m->text_bytes = (size_t)best;
    m->stop_reason = "stop_sequence";
}

static void put_id(struct buf *b, const struct mock_req *q)
{
    MOCK_LIT(b, "\"id\":\"msg_mock_");
    mock_json_put_u64(b, q->seq);
    MOCK_LIT(b, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
}

static void put_tool_use(struct buf *b, const struct msg *m, int with_input)
{
    MOCK_LIT(b, "{\"type\":\"tool_use\",\"id\":\"toolu_mock_1\",\"name\":");
    mock_json_put_str(b, m->tool, strlen(m->tool));
    MOCK_LIT(b, ",\"input\":");
    if (with_input)
        buf_append(b, MOCK_TOOL_ARGS, sizeof(MOCK_TOOL_ARGS) - 1);
    else
        MOCK_LIT(b, "{}");
    buf_putc(b, '}');
}

static void put_usage(struct buf *b, uint32_t input_tokens, uint32_t output_tokens)
{
    MOCK_LIT(b, "\"usage\":{\"input_tokens\":");
    mock_json_put_u64(b, input_tokens);
    MOCK_LIT(b, ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
                "\"output_tokens\":");
    mock_json_put_u64(b, output_tokens);
    buf_putc(b, '}');
}

static void messages_json(struct mock_req *q, struct mock_reply *r, const struct msg *m)
{
    struct buf *b = q->tmp;
    buf_reset(b);
    buf_putc(b, '{');
    put_id(b, q);
    mock_json_put_str(b, m->model.p, m->model.len);
    MOCK_LIT(b, ",\"content\":[");
    if (m->thinking) {
        MOCK_LIT(b, "{\"type\":\"thinking\",\"thinking\":\"");
        for (size_t i = 0; i < THINKING_NPIECES; i++)
            buf_puts(b, thinking_pieces[i]);
        MOCK_LIT(b, "\",\"signature\":\"" THINKING_SIG "\"},");
    }
    if (m->tool) {
        put_tool_use(b, m, 1);
    } else {
        MOCK_LIT(b, "{\"type\":\"text\",\"text\":\"");
        size_t at = b->len;
        mock_gen_text(b, m->words);
        if (m->stop_seq)
            buf_cut(b, at + m->text_bytes);
        MOCK_LIT(b, "\"}");
    }
    MOCK_LIT(b, "],\"stop_reason\":\"");
    buf_puts(b, m->stop_reason);
    MOCK_LIT(b, "\",\"stop_sequence\":");
    put_stop_sequence(b, m);
    buf_putc(b, ',');
    put_usage(b, m->input_tokens, m->output_tokens);
    buf_putc(b, '}');
    mock_reply_json_result(r, q, b->data, b->len);
}

/* Starts event name in q->ev: "event: <name>\ndata: " */
static struct buf *event_open(struct mock_req *q, const char *name)
{
    buf_reset(q->ev);
    MOCK_LIT(q->ev, "event: ");
    buf_puts(q->ev, name);
    MOCK_LIT(q->ev, "\ndata: ");
    return q->ev;
}

static void event_send(struct mock_req *q, struct mock_sse *s)
{
    MOCK_LIT(q->ev, "\n\n");
    mock_sse_event(s, q->ev);
}

/* Writes the error event that x-mock-stream-error asks for and ends the stream (the last chunk is
 * sent: the HTTP body is complete, only the message is not). */
static void stream_error(struct mock_req *q, struct mock_sse *s)
{
    struct buf *ev = event_open(q, "error");
    MOCK_LIT(ev, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                 "\"Overloaded\"}}");
    event_send(q, s);
    mock_sse_done(s);
}

/* Before content event number s->sent: returns 0 when the stream stops here (cut, or the injected
 * error was sent). */
static int content_next(struct mock_req *q, struct mock_sse *s, const struct msg *m)
{
    int err = m->error_at >= 0 && (unsigned long)m->error_at == s->sent;
    if (!mock_sse_next(s))
        return 0;
    if (err) {
        stream_error(q, s);
        return 0;
    }
    return 1;
}

static void block_start(struct mock_req *q, struct mock_sse *s, const struct msg *m,
                        unsigned index, int thinking)
{
    struct buf *ev = event_open(q, "content_block_start");
    MOCK_LIT(ev, "{\"type\":\"content_block_start\",\"index\":");
    mock_json_put_u64(ev, index);
    MOCK_LIT(ev, ",\"content_block\":");
    if (thinking)
        MOCK_LIT(ev, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}");
    else if (m->tool)
        put_tool_use(ev, m, 0);
    else
        MOCK_LIT(ev, "{\"type\":\"text\",\"text\":\"\"}");
    buf_putc(ev, '}');
    event_send(q, s);
}

static void block_stop(struct mock_req *q, struct mock_sse *s, unsigned index)
{
    struct buf *ev = event_open(q, "content_block_stop");
    MOCK_LIT(ev, "{\"type\":\"content_block_stop\",\"index\":");
    mock_json_put_u64(ev, index);
    buf_putc(ev, '}');
    event_send(q, s);
}

static struct buf *delta_open(struct mock_req *q, unsigned index)
{
    struct buf *ev = event_open(q, "content_block_delta");
    MOCK_LIT(ev, "{\"type\":\"content_block_delta\",\"index\":");
    mock_json_put_u64(ev, index);
    MOCK_LIT(ev, ",\"delta\":");
    return ev;
}

/* Streams the thinking block's deltas (index 0). Returns 0 when the stream stopped. */
static int stream_thinking(struct mock_req *q, struct mock_sse *s, const struct msg *m)
{
    for (size_t i = 0; i < THINKING_NPIECES; i++) {
        if (!content_next(q, s, m))
            return 0;
        struct buf *ev = delta_open(q, 0);
        MOCK_LIT(ev, "{\"type\":\"thinking_delta\",\"thinking\":");
        mock_json_put_str(ev, thinking_pieces[i], strlen(thinking_pieces[i]));
        MOCK_LIT(ev, "}}");
        event_send(q, s);
    }
    if (!content_next(q, s, m))
        return 0;
    struct buf *ev = delta_open(q, 0);
    MOCK_LIT(ev, "{\"type\":\"signature_delta\",\"signature\":\"" THINKING_SIG "\"}}");
    event_send(q, s);
    block_stop(q, s, 0);
    block_start(q, s, m, 1, 0);
    return 1;
}

static void messages_stream(struct mock_req *q, struct mock_reply *r, const struct msg *m)
{
    struct mock_sse s;
    uint32_t npieces = m->tool ? (uint32_t)mock_gen_tool_arg_npieces : m->words;
    uint32_t total = npieces + (m->thinking ? (uint32_t)THINKING_NPIECES + 1 : 0);
    unsigned index = m->thinking ? 1 : 0;
    mock_sse_start(&s, r, q, total, anthropic_bad_event);

    struct buf *ev = event_open(q, "message_start");
    MOCK_LIT(ev, "{\"type\":\"message_start\",\"message\":{");
    put_id(ev, q);
    mock_json_put_str(ev, m->model.p, m->model.len);
    MOCK_LIT(ev, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,");
    put_usage(ev, m->input_tokens, 1);
    MOCK_LIT(ev, "}}");
    event_send(q, &s);

    block_start(q, &s, m, 0, m->thinking);

    ev = event_open(q, "ping");
    MOCK_LIT(ev, "{\"type\":\"ping\"}");
    event_send(q, &s);

    if (m->thinking && !stream_thinking(q, &s, m))
        return;
    size_t pos = 0; /* text bytes sent */
    for (uint32_t i = 0; i < npieces; i++) {
        if (!content_next(q, &s, m))
            return;
        ev = delta_open(q, index);
        if (m->tool) {
            MOCK_LIT(ev, "{\"type\":\"input_json_delta\",\"partial_json\":");
            const char *piece = mock_gen_tool_arg_pieces[i];
            mock_json_put_str(ev, piece, strlen(piece));
        } else {
            MOCK_LIT(ev, "{\"type\":\"text_delta\",\"text\":\"");
            size_t at = ev->len;
            mock_gen_piece(ev, i);
            if (m->stop_seq && pos + (ev->len - at) > m->text_bytes)
                buf_cut(ev, at + (m->text_bytes - pos));
            pos += ev->len - at;
            buf_putc(ev, '"');
        }
        MOCK_LIT(ev, "}}");
        event_send(q, &s);
    }
    if (!mock_sse_end(&s))
        return;
    if (m->error_at >= 0 && (unsigned long)m->error_at >= total) {
        stream_error(q, &s);
        return;
    }
    block_stop(q, &s, index);

    ev = event_open(q, "message_delta");
    MOCK_LIT(ev, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"");
    buf_puts(ev, m->stop_reason);
    MOCK_LIT(ev, "\",\"stop_sequence\":");
    put_stop_sequence(ev, m);
    MOCK_LIT(ev, "},\"usage\":{\"output_tokens\":");
    mock_json_put_u64(ev, m->output_tokens);
    MOCK_LIT(ev, "}}");
    event_send(q, &s);

    ev = event_open(q, "message_stop");
    MOCK_LIT(ev, "{\"type\":\"message_stop\"}");
    event_send(q, &s);
    mock_sse_done(&s);
}

/* x-mock-stream-error: N (content events before the error), or -1 when absent or not a number. */
static long stream_error_at(const struct mock_req *q)
{
    struct str v = mock_req_header(q, "x-mock-stream-error");
    while (v.len && (v.p[0] == ' ' || v.p[0] == '\t')) {
        v.p++;
        v.len--;
    }
    while (v.len && (v.p[v.len - 1] == ' ' || v.p[v.len - 1] == '\t'))
        v.len--;
    unsigned long long n;
    if (v.len == 0 || str_to_u64(v, &n) != 0)
        return -1;
    return n > MOCK_MAX_WORDS ? (long)MOCK_MAX_WORDS : (long)n;
}

/* Parses the body as an object with a messages array; on failure answers 400 and returns NULL. */
static json_object *request_json(struct mock_req *q, struct mock_reply *r, json_object **msgs)
{
    json_object *root = mock_req_json(q);
    if (!root || !json_object_is_type(root, json_type_object)) {
        mock_reply_error_anthropic(r, q, 400,
                                   "There was an error parsing the body of your request: "
                                   "invalid JSON");
        json_object_put(root);
        return NULL;
    }
    *msgs = mock_json_get(root, "messages");
    if (!*msgs || !json_object_is_type(*msgs, json_type_array)) {
        mock_reply_error_anthropic(r, q, 400, "messages: Field required");
        json_object_put(root);
        return NULL;
    }
    return root;
}

static uint32_t input_tokens(json_object *root, json_object *msgs)
{
    size_t n = json_object_array_length(msgs);
    size_t bytes = mock_gen_content_bytes(mock_json_get(root, "system"));
    for (size_t i = 0; i < n; i++)
        bytes +=
            mock_gen_content_bytes(mock_json_get(json_object_array_get_idx(msgs, i), "content"));
    return (uint32_t)(bytes / 4 + 3 * n);
}

/* Checks `thinking` as the API does. Returns 1 (thinking on), 0 (off) or -1 after a 400. */
static int thinking_param(struct mock_req *q, struct mock_reply *r, json_object *root,
                          int64_t max_tokens, const char *tool)
{
    json_object *t = mock_json_get(root, "thinking");
    if (!t || json_object_is_type(t, json_type_null))
        return 0;
    json_object *type = mock_json_get(t, "type");
    const char *ty = type && json_object_is_type(type, json_type_string)
                         ? json_object_get_string(type)
                         : "";
    if (strcmp(ty, "disabled") == 0)
        return 0;
    if (strcmp(ty, "enabled") == 0) {
        json_object *budget = mock_json_get(t, "budget_tokens");
        if (!budget || !json_object_is_type(budget, json_type_int)) {
            mock_reply_error_anthropic(r, q, 400, "thinking.enabled.budget_tokens: Field required");
            return -1;
        }
        int64_t b = json_object_get_int64(budget);
        if (b < THINKING_MIN_BUDGET) {
            mock_reply_error_anthropic(r, q, 400,
                                       "thinking.enabled.budget_tokens: Input should be greater "
                                       "than or equal to 1024");
            return -1;
        }
        if (b >= max_tokens) {
            mock_reply_error_anthropic(r, q, 400,
                                       "`max_tokens` must be greater than "
                                       "`thinking.budget_tokens`");
            return -1;
        }
    } else if (strcmp(ty, "adaptive") != 0) {
        mock_reply_error_anthropic(r, q, 400,
                                   "thinking: Input tag does not match any of the expected tags: "
                                   "'enabled', 'disabled', 'adaptive'");
        return -1;
    }
    json_object *ct = mock_json_get(mock_json_get(root, "tool_choice"), "type");
    const char *cts = ct && json_object_is_type(ct, json_type_string) ? json_object_get_string(ct)
                                                                      : "auto";
    if (tool && (strcmp(cts, "any") == 0 || strcmp(cts, "tool") == 0)) {
        mock_reply_error_anthropic(r, q, 400,
                                   "Thinking may not be enabled when tool_choice forces tool use.");
        return -1;
    }
    return 1;
}

void mock_anthropic_messages(struct mock_req *q, struct mock_reply *r)
{
    json_object *msgs, *root = request_json(q, r, &msgs);
    if (!root)
        return;
    json_object *max = mock_json_get(root, "max_tokens");
    if (!max || !json_object_is_type(max, json_type_int) || json_object_get_int64(max) < 1) {
        mock_reply_error_anthropic(r, q, 400, "max_tokens: Field required (a positive integer)");
        goto out;
    }
    int64_t maxv = json_object_get_int64(max);
    struct msg m = {.tool = messages_tool(root), .stop_reason = "end_turn", .error_at = -1};
    m.thinking = thinking_param(q, r, root, maxv, m.tool);
    if (m.thinking < 0)
        goto out;
    m.model = mock_json_model(root);
    m.input_tokens = input_tokens(root, msgs);
    m.words = q->p.words;
    uint32_t think_tokens = m.thinking ? (uint32_t)THINKING_NPIECES : 0;
    if (m.tool) {
        m.stop_reason = "tool_use";
        m.output_tokens = (uint32_t)mock_gen_tool_arg_npieces + think_tokens;
    } else {
        int64_t room = maxv - think_tokens;
        if (room < 1)
            room = 1;
        if (room < (int64_t)m.words) {
            m.words = (uint32_t)room;
            m.stop_reason = "max_tokens";
        }
        apply_stop_sequences(q, root, &m);
        m.output_tokens = m.words + think_tokens;
    }
    if (mock_json_true(root, "stream")) {
        m.error_at = stream_error_at(q);
        messages_stream(q, r, &m);
    } else {
        messages_json(q, r, &m);
    }
out:
    json_object_put(root);
}

void mock_anthropic_count_tokens(struct mock_req *q, struct mock_reply *r)
{
    json_object *msgs, *root = request_json(q, r, &msgs);
    if (!root)
        return;
    struct buf *b = q->tmp;
    buf_reset(b);
    MOCK_LIT(b, "{\"input_tokens\":");
    mock_json_put_u64(b, input_tokens(root, msgs));
    buf_putc(b, '}');
    mock_reply_json_result(r, q, b->data, b->len);
    json_object_put(root);
}
