/* The openai provider: any OpenAI-compatible upstream (OpenAI itself, vLLM, llama.cpp server,
 * Ollama, Groq, Together, OpenRouter, ...) reached through the deployment's api_base.
 *
 * This is the fast path: the client's request already has the upstream's format, so building the
 * request only sets "model" to the deployment's model and, for streams, asks for usage
 * (stream_options.include_usage) so every stream is metered. Everything else, unknown fields included,
 * passes through; json-c keeps the exact text of parsed numbers. A 2xx body is validated and then
 * sent on unchanged.
 *
 * The body, response, stream and error handling are shared (prov_openai_*, declared in provider.h)
 * with the providers that speak the same format at another address (azure.c). */
#include <string.h>

#include "base/err.h"
#include "canon/json.h"
#include "canon/jscan.h"
#include "providers/provider.h"

void prov_openai_body(const struct prov_call *call, struct prov_http *out)
{
    const struct deployment *dep = call->dep;
    json_object_object_add(call->body, "model", json_object_new_string(dep->model));
    if (call->stream && call->op != CANON_EMBEDDING) {
        json_object *so;
        if (!json_object_object_get_ex(call->body, "stream_options", &so) ||
            !json_object_is_type(so, json_type_object)) {
            so = json_object_new_object();
            json_object_object_add(call->body, "stream_options", so);
        }
        json_object_object_add(so, "include_usage", json_object_new_boolean(1));
    }
    size_t len;
    const char *text = json_object_to_json_string_length(
        call->body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    buf_append(&out->body, text, len);

    prov_http_header(out, "Content-Type: application/json");
    prov_http_header(out, "Accept: %s", call->stream ? "text/event-stream" : "application/json");
}

static int openai_build_request(const struct prov_call *call, struct prov_http *out,
                                struct buf *err)
{
    const struct deployment *dep = call->dep;
    (void)err;
    buf_puts(&out->url, dep->api_base);
    buf_puts(&out->url, canon_op_path(call->op));
    prov_openai_body(call, out);
    if (dep->api_key && dep->api_key[0])
        prov_http_header(out, "Authorization: Bearer %s", dep->api_key);
    prov_http_tail_headers(call, out);
    return 0;
}

/* Parses a whole JSON document; returns NULL and a message with the position on failure. */
static json_object *parse_json(const char *body, size_t len, struct buf *err)
{
    size_t end;
    enum json_tokener_error e;
    json_object *o = canon_json_parse(body, len, &end, &e);
    if (e == json_tokener_error_parse_unexpected)
        buf_printf(err, "trailing data after JSON at byte %zu", end);
    else if (e != json_tokener_success)
        buf_printf(err, "%s at byte %zu", json_tokener_error_desc(e), end);
    else if (!o)
        buf_puts(err, "null");
    return o;
}

/* Reads the usage of a JSON object's text: its top-level "usage" member, parsed with json-c only if
 * it is an object. */
static void usage_from_members(const struct jscan_member *m, size_t n, struct canon_usage *usage)
{
    const struct jscan_member *u = jscan_find(m, n < PROV_CHUNK_MEMBERS ? n : PROV_CHUNK_MEMBERS,
                                              "usage");
    if (u && u->value.p[0] == '{') {
        json_object *uo = canon_json_parse(u->value.p, u->value.len, NULL, NULL);
        prov_usage_from_openai(uo, usage);
        json_object_put(uo);
    }
}

/* A 2xx body from an OpenAI-compatible upstream is validated and its usage read (jscan, no tree),
 * then sent on as it is. */
int prov_openai_parse_response(const struct prov_call *call, const char *body, size_t len,
                               json_object **resp, int *passthrough, struct canon_usage *usage,
                               struct buf *err)
{
    struct jscan_member m[PROV_CHUNK_MEMBERS];
    size_t n = 0, at = 0;
    (void)call;
    if (jscan(body, len, m, PROV_CHUNK_MEMBERS, &n, &at) != 0) {
        buf_printf(err, "upstream returned invalid JSON: %s at byte %zu",
                   at < len ? "unexpected character" : "unexpected end of data", at);
        return ERR_PARSE;
    }
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", body[i]))
        i++;
    if (i == len || body[i] != '{') {
        buf_puts(err, "upstream returned invalid JSON: not an object");
        return ERR_PARSE;
    }
    usage_from_members(m, n, usage);
    *resp = NULL;
    *passthrough = 1;
    return 0;
}

/* One chunk of an OpenAI-compatible stream. The chunk is validated and its usage read without
 * building a json-c tree (jscan); the exact upstream bytes go on to the core. Only a usage object is
 * parsed with json-c, once per stream. */
int prov_openai_parse_stream_event(struct prov_stream *st, const struct sse_event *ev,
                                   struct buf *err)
{
    if (ev->data.len == 6 && memcmp(ev->data.p, "[DONE]", 6) == 0) {
        st->done = 1;
        return 0;
    }
    if (ev->data.len == 0)
        return 0;
    struct jscan_member m[PROV_CHUNK_MEMBERS];
    size_t n = 0, at = 0;
    if (jscan(ev->data.p, ev->data.len, m, PROV_CHUNK_MEMBERS, &n, &at) != 0 ||
        ev->data.p[0] != '{') {
        buf_printf(err, "upstream sent an invalid stream chunk: %s at byte %zu",
                   at < ev->data.len ? "invalid JSON" : "incomplete JSON", at);
        return ERR_PARSE;
    }
    usage_from_members(m, n, &st->usage);
    st->emit(st, NULL, ev->data.p, ev->data.len, m, n);
    return 0;
}

static const char *type_for_status(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "upstream_error" : "invalid_request_error";
    }
}

void prov_openai_map_error(const struct prov_call *call, int status, const char *body, size_t len,
                           struct prov_error *out)
{
    struct buf why = BUF_INIT;
    json_object *o = len ? parse_json(body, len, &why) : NULL, *e;
    (void)call;
    out->status = status;
    if (o && json_object_object_get_ex(o, "error", &e) &&
        json_object_is_type(e, json_type_object)) {
        buf_append(&out->body, body, len); /* the upstream's own error object, unchanged */
    } else {
        /* Not an OpenAI error object: say what the upstream answered, without echoing large or
         * binary bodies. */
        struct buf msg = BUF_INIT;
        buf_printf(&msg, "upstream answered HTTP %d", status);
        if (len) {
            size_t n = len < 200 ? len : 200;
            buf_puts(&msg, ": ");
            for (size_t i = 0; i < n; i++)
                buf_putc(&msg, (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : ' ');
        }
        prov_error_json(&out->body, msg.data, type_for_status(status), NULL, NULL);
        buf_free(&msg);
    }
    json_object_put(o);
    buf_free(&why);
}

const struct provider provider_openai = {
    .name = "openai",
    .build_request = openai_build_request,
    .parse_response = prov_openai_parse_response,
    .stream_init = NULL,
    .stream_free = NULL,
    .parse_stream_event = prov_openai_parse_stream_event,
    .map_error = prov_openai_map_error,
};
