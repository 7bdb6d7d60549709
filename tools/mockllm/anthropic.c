/* anthropic.c: POST /v1/messages in Anthropic's Messages API format.
 *
 * 1. The text is the same mock_gen_text() as the OpenAI routes; max_tokens (required, as
 *    upstream) cuts it with stop_reason "max_tokens", else stop_reason is "end_turn".
 * 2. With tools (and tool_choice not {"type":"none"}) the answer is one tool_use block calling the
 *    first tool (or the one tool_choice names) with the same fixed input as the OpenAI routes, and
 *    stop_reason "tool_use".
 * 3. Streams send message_start, content_block_start and ping with the headers, then one
 *    content_block_delta per word (text_delta) or arguments piece (input_json_delta), then
 *    content_block_stop, message_delta (stop_reason, usage) and message_stop.
 * 4. input_tokens = (bytes of system and all message contents) / 4 + 3 per message. */
#include <string.h>

#include "mock.h"

static const char anthropic_bad_event[] =
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\n\n";

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
    uint32_t words, input_tokens, output_tokens;
    const char *stop_reason;
};

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

static void messages_json(struct mock_req *q, struct mock_reply *r, const struct msg *m)
{
    struct buf *b = q->tmp;
    buf_reset(b);
    buf_putc(b, '{');
    put_id(b, q);
    mock_json_put_str(b, m->model.p, m->model.len);
    MOCK_LIT(b, ",\"content\":[");
    if (m->tool) {
        put_tool_use(b, m, 1);
    } else {
        MOCK_LIT(b, "{\"type\":\"text\",\"text\":\"");
        mock_gen_text(b, m->words);
        MOCK_LIT(b, "\"}");
    }
    MOCK_LIT(b, "],\"stop_reason\":\"");
    buf_puts(b, m->stop_reason);
    MOCK_LIT(b, "\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":");
    mock_json_put_u64(b, m->input_tokens);
    MOCK_LIT(b, ",\"output_tokens\":");
    mock_json_put_u64(b, m->output_tokens);
    MOCK_LIT(b, "}}");
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

static void messages_stream(struct mock_req *q, struct mock_reply *r, const struct msg *m)
{
    struct mock_sse s;
    uint32_t total = m->tool ? (uint32_t)mock_gen_tool_arg_npieces : m->words;
    mock_sse_start(&s, r, q, total, anthropic_bad_event);

    struct buf *ev = event_open(q, "message_start");
    MOCK_LIT(ev, "{\"type\":\"message_start\",\"message\":{");
    put_id(ev, q);
    mock_json_put_str(ev, m->model.p, m->model.len);
    MOCK_LIT(ev, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                 "\"usage\":{\"input_tokens\":");
    mock_json_put_u64(ev, m->input_tokens);
    MOCK_LIT(ev, ",\"output_tokens\":1}}}");
    event_send(q, &s);

    ev = event_open(q, "content_block_start");
    MOCK_LIT(ev, "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":");
    if (m->tool)
        put_tool_use(ev, m, 0);
    else
        MOCK_LIT(ev, "{\"type\":\"text\",\"text\":\"\"}");
    buf_putc(ev, '}');
    event_send(q, &s);

    ev = event_open(q, "ping");
    MOCK_LIT(ev, "{\"type\":\"ping\"}");
    event_send(q, &s);

    for (uint32_t i = 0; i < total; i++) {
        if (!mock_sse_next(&s))
            return;
        ev = event_open(q, "content_block_delta");
        MOCK_LIT(ev, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":");
        if (m->tool) {
            MOCK_LIT(ev, "{\"type\":\"input_json_delta\",\"partial_json\":");
            const char *piece = mock_gen_tool_arg_pieces[i];
            mock_json_put_str(ev, piece, strlen(piece));
        } else {
            MOCK_LIT(ev, "{\"type\":\"text_delta\",\"text\":\"");
            mock_gen_piece(ev, i);
            buf_putc(ev, '"');
        }
        MOCK_LIT(ev, "}}");
        event_send(q, &s);
    }
    if (!mock_sse_end(&s))
        return;
    ev = event_open(q, "content_block_stop");
    MOCK_LIT(ev, "{\"type\":\"content_block_stop\",\"index\":0}");
    event_send(q, &s);

    ev = event_open(q, "message_delta");
    MOCK_LIT(ev, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"");
    buf_puts(ev, m->stop_reason);
    MOCK_LIT(ev, "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":");
    mock_json_put_u64(ev, m->output_tokens);
    MOCK_LIT(ev, "}}");
    event_send(q, &s);

    ev = event_open(q, "message_stop");
    MOCK_LIT(ev, "{\"type\":\"message_stop\"}");
    event_send(q, &s);
    mock_sse_done(&s);
}

void mock_anthropic_messages(struct mock_req *q, struct mock_reply *r)
{
    json_object *root = mock_req_json(q);
    if (!root || !json_object_is_type(root, json_type_object)) {
        mock_reply_error_anthropic(r, q, 400,
                                   "There was an error parsing the body of your request: "
                                   "invalid JSON");
        goto out;
    }
    json_object *msgs = mock_json_get(root, "messages"), *max = mock_json_get(root, "max_tokens");
    if (!msgs || !json_object_is_type(msgs, json_type_array)) {
        mock_reply_error_anthropic(r, q, 400, "messages: Field required");
        goto out;
    }
    if (!max || !json_object_is_type(max, json_type_int) || json_object_get_int64(max) < 1) {
        mock_reply_error_anthropic(r, q, 400, "max_tokens: Field required (a positive integer)");
        goto out;
    }
    struct msg m = {.tool = messages_tool(root), .stop_reason = "end_turn"};
    m.model = mock_json_model(root);
    size_t n = json_object_array_length(msgs);
    size_t bytes = mock_gen_content_bytes(mock_json_get(root, "system"));
    for (size_t i = 0; i < n; i++)
        bytes +=
            mock_gen_content_bytes(mock_json_get(json_object_array_get_idx(msgs, i), "content"));
    m.input_tokens = (uint32_t)(bytes / 4 + 3 * n);
    m.words = q->p.words;
    int64_t maxv = json_object_get_int64(max);
    if (m.tool) {
        m.stop_reason = "tool_use";
        m.output_tokens = (uint32_t)mock_gen_tool_arg_npieces;
    } else {
        if (maxv < (int64_t)m.words) {
            m.words = (uint32_t)maxv;
            m.stop_reason = "max_tokens";
        }
        m.output_tokens = m.words;
    }
    json_object *stream = mock_json_get(root, "stream");
    if (stream && json_object_is_type(stream, json_type_boolean) && json_object_get_boolean(stream))
        messages_stream(q, r, &m);
    else
        messages_json(q, r, &m);
out:
    json_object_put(root);
}
