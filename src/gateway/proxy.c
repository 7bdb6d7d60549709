/* The proxy: one model call from the chosen deployment back to the client.
 *
 * Flow (all on the worker's loop, no blocking):
 *   gw_proxy      pick a deployment by weight, let its provider build the upstream request, start it
 *   on_headers    2xx stream: start the client's SSE answer at once; otherwise remember the status
 *   on_data       stream: parse SSE events, translate each through the provider, write the chunks to
 *                 the client as they come; pause the upstream while the client is slow to read
 *                 non-stream or error: collect the body (capped)
 *   on_done       non-stream: validate and answer; error: map and answer; stream: close it with
 *                 [DONE], or with an error event when the upstream failed mid-way
 *   client abort  cancel the upstream transfer at once, so the upstream stops generating
 *
 * Decisions:
 *   - Every stream asks the upstream for usage (stream_options.include_usage, set by the provider),
 *     so every stream is metered. When the client did not ask for usage, the usage-only chunk and the
 *     "usage": null fields are removed again, so the client sees exactly what it asked for.
 *   - A failure before anything was sent to the client is an HTTP error (502, or 504 for timeouts).
 *     After the stream started, the status line is gone: the failure becomes a final SSE event with an
 *     OpenAI error object (the official SDKs raise it as an APIError), and the stream ends without
 *     [DONE], so no client mistakes a cut stream for a complete one.
 *   - The gateway's overhead is the time the request spent here minus the time waiting on the
 *     upstream. For streams the header carries the overhead up to the first byte (the header is sent
 *     then); the access log has the whole-request figure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "canon/jscan.h"
#include "gateway/gateway.h"
#include "providers/provider.h"

/* Upstream response headers worth passing on to the client: rate-limit state and retry hints let
 * clients back off correctly, and the processing time helps debugging. */
static const char *const forwarded_headers[] = {
    "retry-after", "retry-after-ms", "x-ratelimit-", "openai-processing-ms", NULL,
};

#define MAX_FWD_HEADERS 16

struct call {
    struct gw_req *r;
    const struct provider *prov;
    struct prov_call pc;
    struct prov_http ph;
    struct upstream_xfer *xfer;
    int up_status;
    int wants_usage;
    int started;           /* the client's answer has started (status line sent) */
    int paused;
    int stream_failed;     /* an error event was written */
    size_t chunks;         /* chunks sent to the client */
    struct buf body;       /* non-stream or error body */
    struct buf out;        /* SSE bytes to write in one go */
    struct buf out_scratch; /* one chunk's edited text */
    struct sse_parser sse;
    struct prov_stream st;
    struct buf stream_err;
    uint64_t up_start_ns;
    struct gw_flush flush; /* first member use: container_of below */
    size_t queued;         /* client bytes queued at the last write (back-pressure estimate) */
    char *fwd[MAX_FWD_HEADERS];
    size_t n_fwd;
};

static const struct deployment *pick_deployment(struct gw_req *r, const struct model_group *g)
{
    double total = 0;
    for (size_t i = 0; i < g->n_deployments; i++)
        if (provider_find(g->deployments[i].provider))
            total += g->deployments[i].weight;
    if (total <= 0)
        return NULL;
    double x = (double)(gw_rand(r->w) >> 11) / 9007199254740992.0 * total;
    const struct deployment *last = NULL;
    for (size_t i = 0; i < g->n_deployments; i++) {
        const struct deployment *d = &g->deployments[i];
        if (!provider_find(d->provider))
            continue;
        last = d;
        if (x < d->weight)
            return d;
        x -= d->weight;
    }
    return last;
}

static void call_free(struct call *c)
{
    if (c->r)
        gw_flush_cancel(c->r->w, &c->flush);
    if (c->prov && c->prov->stream_free && c->st.call)
        c->prov->stream_free(&c->st);
    json_object_put(c->pc.body);
    prov_http_free(&c->ph);
    buf_free(&c->body);
    buf_free(&c->out);
    buf_free(&c->out_scratch);
    buf_free(&c->stream_err);
    sse_parser_free(&c->sse);
    for (size_t i = 0; i < c->n_fwd; i++)
        free(c->fwd[i]);
    free(c);
}

/* Builds the headers of our answer: request id, deployment, overhead, and forwarded ones. */
static size_t answer_headers(struct call *c, struct http_header *h, size_t max, char *overhead,
                             size_t overhead_len, const char *content_type)
{
    struct gw_req *r = c->r;
    size_t n = 0;
    uint64_t now = time_now_ns();
    uint64_t spent = now - r->start_ns;
    double ms = (double)(spent > r->upstream_ns ? spent - r->upstream_ns : 0) / 1e6;
    snprintf(overhead, overhead_len, "%.3f", ms);
    h[n++] = (struct http_header){STR_LIT("content-type"), str_c(content_type)};
    h[n++] = (struct http_header){STR_LIT("x-request-id"), str_c(r->request_id)};
    if (r->dep)
        h[n++] = (struct http_header){STR_LIT("x-tollgate-deployment"), str_c(r->dep->id)};
    h[n++] = (struct http_header){STR_LIT("x-tollgate-overhead-ms"), str_c(overhead)};
    for (size_t i = 0; i < c->n_fwd && n < max; i++) {
        const char *colon = strchr(c->fwd[i], ':');
        h[n++] = (struct http_header){{c->fwd[i], (size_t)(colon - c->fwd[i])}, str_c(colon + 1)};
    }
    return n;
}

static void answer(struct call *c, int status, const char *content_type, const char *body,
                   size_t len)
{
    struct http_header h[4 + MAX_FWD_HEADERS];
    char overhead[32];
    size_t n = answer_headers(c, h, sizeof h / sizeof h[0], overhead, sizeof overhead, content_type);
    c->r->status = status;
    http_response_start(c->r->http, status, h, n, (long long)len);
    http_response_write(c->r->http, body, len);
}

/* Answers with an OpenAI error object of type upstream_error; code is also the log's error class. */
static void answer_error(struct call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void answer_error(struct call *c, int status, const char *code, const char *fmt, ...)
{
    struct buf msg = BUF_INIT, body = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    prov_error_json(&body, msg.data ? msg.data : "", "upstream_error", code, NULL);
    c->r->error_type = code;
    answer(c, status, "application/json", body.data, body.len);
    buf_free(&body);
    buf_free(&msg);
}

/* Frees the call and finishes the request, sending any SSE bytes still collected with the end. */
static void finish(struct call *c)
{
    struct gw_req *r = c->r;
    struct buf tail = c->out;
    r->usage = c->st.usage;
    buf_init(&c->out);
    call_free(c);
    gw_req_finish_with(r, tail.data, tail.len);
    buf_free(&tail);
}

/* The status and message for a transfer that failed before any answer. */
static int failure_status(enum upstream_result res)
{
    switch (res) {
    case UPSTREAM_ERR_CONNECT_TIMEOUT:
    case UPSTREAM_ERR_FIRST_BYTE_TIMEOUT:
    case UPSTREAM_ERR_TOTAL_TIMEOUT:
    case UPSTREAM_ERR_IDLE_TIMEOUT:
        return 504;
    default:
        return 502;
    }
}

static void on_client_abort(struct http_request *req, void *ud)
{
    struct call *c = ud;
    (void)req;
    if (c->xfer) {
        upstream_cancel(c->xfer);
        c->xfer = NULL;
        c->r->upstream_ns += time_now_ns() - c->up_start_ns;
    }
    buf_reset(&c->out); /* nobody to send it to */
    finish(c);
}

static void on_drain(struct http_request *req, void *ud)
{
    struct call *c = ud;
    (void)req;
    c->queued = 0;
    if (c->paused && c->xfer) {
        c->paused = 0;
        upstream_resume(c->xfer);
    }
}

/* Copies raw into out without the top-level member m (whitespace around it kept valid). */
static void cut_member(const char *raw, size_t len, const struct jscan_member *m, size_t n,
                       size_t i, struct buf *out)
{
    const char *from, *to;
    if (i > 0) {
        from = m[i - 1].value.p + m[i - 1].value.len; /* from after the previous value ... */
        to = m[i].value.p + m[i].value.len;           /* ... through this one */
    } else if (n > 1) {
        from = m[0].key.p - 1;  /* from this key's quote ... */
        to = m[1].key.p - 1;    /* ... to the next key's quote */
    } else {
        from = m[0].key.p - 1;
        to = m[0].value.p + m[0].value.len;
    }
    buf_append(out, raw, (size_t)(from - raw));
    buf_append(out, to, (size_t)(raw + len - to));
}

/* Takes one translated chunk, drops what the client did not ask for (the usage-only chunk, and the
 * "usage": null every chunk carries once usage was requested), and appends the SSE frame. Unchanged
 * chunks leave as the upstream's exact bytes. */
static void emit_chunk(struct prov_stream *st, json_object *chunk, const char *raw, size_t raw_len,
                       const struct jscan_member *m, size_t n)
{
    struct call *c = st->emit_ud;
    if (!c->wants_usage && chunk) {
        json_object *choices, *usage;
        int has_usage = json_object_object_get_ex(chunk, "usage", &usage);
        if (has_usage && usage && json_object_object_get_ex(chunk, "choices", &choices) &&
            json_object_is_type(choices, json_type_array) &&
            json_object_array_length(choices) == 0) {
            json_object_put(chunk);
            return;
        }
        if (has_usage)
            json_object_object_del(chunk, "usage");
        raw = NULL;
    } else if (!c->wants_usage && raw && m && n <= PROV_CHUNK_MEMBERS) {
        {
            const struct jscan_member *u = jscan_find(m, n, "usage");
            const struct jscan_member *ch = jscan_find(m, n, "choices");
            if (u) {
                int usage_null = u->value.len == 4 && memcmp(u->value.p, "null", 4) == 0;
                if (!usage_null && ch && ch->value.len >= 2 && ch->value.p[0] == '[') {
                    size_t k = 1;
                    while (k < ch->value.len && strchr(" \t\r\n", ch->value.p[k]))
                        k++;
                    if (ch->value.p[k] == ']')
                        return; /* the usage-only chunk */
                }
                cut_member(raw, raw_len, m, n, (size_t)(u - m), &c->out_scratch);
                raw = c->out_scratch.data;
                raw_len = c->out_scratch.len;
            }
        }
    }
    size_t len = raw_len;
    const char *text = raw;
    if (!text)
        text = json_object_to_json_string_length(
            chunk, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    buf_append(&c->out, "data: ", 6);
    buf_append(&c->out, text, len);
    buf_append(&c->out, "\n\n", 2);
    buf_reset(&c->out_scratch);
    c->chunks++;
    json_object_put(chunk);
}

static int on_sse_event(void *ud, const struct sse_event *ev)
{
    struct call *c = ud;
    if (c->st.done)
        return 0; /* anything after the end marker is ignored */
    if (c->prov->parse_stream_event(&c->st, ev, &c->stream_err) != 0)
        return ERR_PARSE;
    return 0;
}

static void start_stream_answer(struct call *c)
{
    struct http_header h[6 + MAX_FWD_HEADERS];
    char overhead[32];
    size_t n = answer_headers(c, h, sizeof h / sizeof h[0] - 2, overhead, sizeof overhead,
                              "text/event-stream");
    h[n++] = (struct http_header){STR_LIT("cache-control"), STR_LIT("no-cache")};
    h[n++] = (struct http_header){STR_LIT("x-accel-buffering"), STR_LIT("no")};
    c->r->status = 200;
    c->started = 1;
    c->r->ttfb_ns = time_now_ns() - c->r->start_ns;
    http_response_start(c->r->http, 200, h, n, -1);
    sse_parser_init(&c->sse, c->r->cfg->limits.max_sse_event_bytes);
    c->st.call = &c->pc;
    c->st.emit = emit_chunk;
    c->st.emit_ud = c;
    if (c->prov->stream_init)
        c->prov->stream_init(&c->st);
}

static int is_forwarded(struct str name)
{
    for (const char *const *f = forwarded_headers; *f; f++) {
        size_t n = strlen(*f);
        if ((*f)[n - 1] == '-' ? (name.len > n && str_eq_ci((struct str){name.p, n}, *f))
                               : str_eq_ci(name, *f))
            return 1;
    }
    return 0;
}

static int on_headers(void *ud, int status, const struct str *names, const struct str *values,
                      size_t n)
{
    struct call *c = ud;
    c->up_status = status;
    for (size_t i = 0; i < n && c->n_fwd < MAX_FWD_HEADERS; i++) {
        if (!is_forwarded(names[i]))
            continue;
        struct buf b = BUF_INIT;
        buf_append(&b, names[i].p, names[i].len);
        buf_putc(&b, ':');
        buf_append(&b, values[i].p, values[i].len);
        c->fwd[c->n_fwd++] = buf_detach(&b);
    }
    if (c->pc.stream && status >= 200 && status < 300) {
        c->r->upstream_ns += time_now_ns() - c->up_start_ns;
        c->up_start_ns = time_now_ns();
        start_stream_answer(c);
    }
    return 0;
}

static int on_data(void *ud, const char *data, size_t len)
{
    struct call *c = ud;
    struct gw_req *r = c->r;
    if (!c->started) {
        if (buf_append_capped(&c->body, data, len, r->cfg->limits.max_upstream_body_bytes) != 0)
            return UPSTREAM_ABORT;
        return 0;
    }
    if (c->stream_failed)
        return UPSTREAM_ABORT;
    int rc = sse_parser_feed(&c->sse, data, len, on_sse_event, c);
    if (rc != 0) {
        if (rc == ERR_TOO_LARGE)
            buf_printf(&c->stream_err,
                       "upstream stream event exceeds %zu bytes; raise limits.max_sse_event_bytes",
                       r->cfg->limits.max_sse_event_bytes);
        return UPSTREAM_ABORT;
    }
    if (c->out.len)
        gw_flush_later(r->w, &c->flush);
    /* Pause when the client's queue was over stream_buffer_bytes at the last write (a drain callback
     * will resume us), or when this turn's unsent bytes alone are (curl can hand over a long backlog
     * in one call; flush_out then resumes unless a drain is sure to come). */
    if (c->queued > r->cfg->limits.stream_buffer_bytes ||
        c->out.len > r->cfg->limits.stream_buffer_bytes) {
        c->paused = 1;
        return UPSTREAM_PAUSE;
    }
    return 0;
}

/* Sends what on_data collected during this loop turn, in one write. */
static void flush_out(struct gw_flush *f)
{
    struct call *c = (struct call *)((char *)f - offsetof(struct call, flush));
    if (!c->out.len)
        return;
    c->queued = http_response_write(c->r->http, c->out.data, c->out.len);
    buf_reset(&c->out);
    /* The HTTP layer calls on_drain only after its queue went over stream_buffer_bytes; below that
     * no drain will come, so resume now. */
    if (c->paused && c->xfer && c->queued <= c->r->cfg->limits.stream_buffer_bytes) {
        c->paused = 0;
        upstream_resume(c->xfer);
    }
}

/* Ends a started stream with an error event carrying an OpenAI error object. */
static void stream_error(struct call *c, const char *code, const char *msg)
{
    struct buf body = BUF_INIT;
    buf_append(&c->out, "data: ", 6);
    prov_error_json(&body, msg, "upstream_error", code, NULL);
    buf_append(&c->out, body.data, body.len);
    buf_append(&c->out, "\n\n", 2);
    buf_free(&body);
    c->stream_failed = 1;
    c->r->error_type = code;
}

static void done_stream(struct call *c, enum upstream_result res, const char *message)
{
    struct gw_req *r = c->r;
    if (res == UPSTREAM_OK && !c->stream_err.len && !c->st.done)
        sse_parser_finish(&c->sse, on_sse_event, c);
    if (res == UPSTREAM_OK && !c->stream_err.len && !c->st.done && c->chunks == 0)
        buf_printf(&c->stream_err,
                   "upstream deployment %s answered the stream request without any event (is it "
                   "an OpenAI-compatible streaming endpoint?)",
                   r->dep->id);
    if (c->stream_err.len) {
        stream_error(c, "upstream_bad_stream", c->stream_err.data);
    } else if (res != UPSTREAM_OK) {
        struct buf msg = BUF_INIT;
        buf_printf(&msg, "upstream deployment %s failed after %zu chunks: %s (%s)", r->dep->id,
                   c->chunks, upstream_result_str(res), message ? message : "");
        stream_error(c, res == UPSTREAM_ERR_IDLE_TIMEOUT ? "upstream_stream_timeout"
                                                          : "upstream_stream_interrupted",
                     msg.data);
        buf_free(&msg);
    } else {
        /* A clean end: close with [DONE] even if the upstream left it out. */
        buf_append(&c->out, "data: [DONE]\n\n", 14);
    }
    finish(c); /* sends c->out with the end of the answer */
}

static void done_buffered(struct call *c, enum upstream_result res, const char *message)
{
    struct gw_req *r = c->r;
    if (res != UPSTREAM_OK && !(res == UPSTREAM_ERR_TOO_LARGE && c->up_status)) {
        answer_error(c, failure_status(res), upstream_result_str(res),
                     "upstream deployment %s failed: %s%s%s%s", r->dep->id,
                     upstream_result_str(res), message && message[0] ? " (" : "",
                     message && message[0] ? message : "", message && message[0] ? ")" : "");
    } else if (res == UPSTREAM_ERR_TOO_LARGE) {
        answer_error(c, 502, "upstream_response_too_large",
                     "upstream deployment %s answered more than %zu bytes; raise "
                     "limits.max_upstream_body_bytes",
                     r->dep->id, r->cfg->limits.max_upstream_body_bytes);
    } else if (c->up_status >= 200 && c->up_status < 300) {
        json_object *resp = NULL;
        int passthrough = 0;
        struct buf err = BUF_INIT;
        if (c->prov->parse_response(&c->pc, c->body.data ? c->body.data : "", c->body.len, &resp,
                                    &passthrough, &c->st.usage, &err) != 0) {
            answer_error(c, 502, "upstream_bad_response", "upstream deployment %s: %s", r->dep->id,
                         err.data);
        } else if (passthrough) {
            answer(c, c->up_status, "application/json", c->body.data, c->body.len);
        } else {
            size_t len;
            const char *text = json_object_to_json_string_length(
                resp, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
            answer(c, c->up_status, "application/json", text, len);
        }
        json_object_put(resp);
        buf_free(&err);
    } else {
        struct prov_error pe = {0, BUF_INIT};
        c->prov->map_error(&c->pc, c->up_status, c->body.data ? c->body.data : "", c->body.len,
                           &pe);
        r->error_type = "upstream_status";
        answer(c, pe.status, "application/json", pe.body.data, pe.body.len);
        buf_free(&pe.body);
    }
    finish(c);
}

static void on_done(void *ud, enum upstream_result res, const char *message)
{
    struct call *c = ud;
    c->xfer = NULL;
    c->r->upstream_ns += time_now_ns() - c->up_start_ns;
    if (c->started)
        done_stream(c, res, message);
    else
        done_buffered(c, res, message);
}

static const struct upstream_callbacks callbacks = {on_headers, on_data, on_done};

/* Returns 1 when the client header name matches one of the config's forward_headers patterns. */
static int forward_match(char *const *patterns, struct str name)
{
    for (char *const *p = patterns; p && *p; p++) {
        size_t n = strlen(*p);
        if ((*p)[n - 1] == '*') {
            if (name.len >= n - 1 && strncasecmp(name.p, *p, n - 1) == 0)
                return 1;
        } else if (str_eq_ci(name, *p)) {
            return 1;
        }
    }
    return 0;
}

/* Passes on the client headers the config allows (server.forward_headers), after the provider's
 * own, so a forwarded header can add to but never replace the gateway's credentials. */
static void forward_client_headers(struct call *c)
{
    const struct http_request *req = c->r->http;
    char *const *patterns = c->r->cfg->forward_headers;
    if (!patterns)
        return;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (forward_match(patterns, h->name))
            prov_http_header(&c->ph, "%.*s: %.*s", (int)h->name.len, h->name.p, (int)h->value.len,
                             h->value.p);
    }
}

static uint32_t ms_or(unsigned v, size_t dflt)
{
    return v ? v : (uint32_t)dflt;
}

void gw_proxy(struct gw_req *r, enum canon_op op, json_object *body, const struct model_group *g,
              int stream, int client_wants_usage)
{
    const struct deployment *dep = pick_deployment(r, g);
    if (!dep) {
        json_object_put(body);
        gw_req_error(r, 501, "invalid_request_error", "provider_not_supported", "model",
                     "model '%s' has no deployment with a provider this build supports (%s); "
                     "check its 'provider' in the config",
                     g->name, provider_names());
        return;
    }
    struct call *c = xcalloc(1, sizeof *c);
    c->r = r;
    c->flush.fn = flush_out;
    r->dep = dep;
    r->stream = stream;
    c->prov = provider_find(dep->provider);
    c->wants_usage = client_wants_usage;
    c->pc = (struct prov_call){op, dep, body, stream, r->request_id};
    prov_http_init(&c->ph);
    canon_usage_init(&c->st.usage);

    gw_shape_request(dep, c->prov, body);
    struct buf err = BUF_INIT;
    if (c->prov->build_request(&c->pc, &c->ph, &err) != 0) {
        gw_req_error(r, 400, "invalid_request_error", NULL, NULL, "%s", err.data);
        buf_free(&err);
        c->r = NULL;
        call_free(c);
        return;
    }
    buf_free(&err);
    forward_client_headers(c);

    const struct limits *lim = &r->cfg->limits;
    struct upstream_request ur = {
        .method = "POST",
        .url = c->ph.url.data,
        .headers = (const char *const *)c->ph.headers,
        .body = c->ph.body.data,
        .body_len = c->ph.body.len,
        .connect_timeout_ms = ms_or(dep->connect_timeout_ms, lim->connect_timeout_ms),
        .first_byte_timeout_ms = (uint32_t)lim->first_byte_timeout_ms,
        .total_timeout_ms = ms_or(dep->timeout_ms, lim->total_timeout_ms),
        .idle_timeout_ms = stream ? ms_or(dep->stream_idle_timeout_ms, lim->stream_idle_timeout_ms)
                                  : 0,
        .insecure = dep->tls_insecure,
    };
    c->up_start_ns = time_now_ns();
    http_request_on_abort(r->http, on_client_abort, c);
    http_request_on_drain(r->http, on_drain, c);
    if (upstream_start(r->w->up, &ur, &callbacks, c, &c->xfer) != 0) {
        http_request_on_abort(r->http, NULL, NULL);
        gw_req_error(r, 500, "server_error", NULL, NULL,
                     "could not start the upstream request to deployment %s", dep->id);
        c->r = NULL;
        call_free(c);
    }
}
