/* reply.c: building replies for mockllm.
 *
 * A reply is bytes plus delay segments (see mock.h). Headers are written by hand, not through a
 * printf, because this is on every request's path. Error bodies follow the shape of the route:
 * OpenAI's {"error":{message,type,param,code}} or Anthropic's {"type":"error","error":{type,
 * message}}. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "mock.h"
#include "net/http.h"

void mock_reply_init(struct mock_reply *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->data);
}

void mock_reply_free(struct mock_reply *r)
{
    buf_free(&r->data);
    free(r->segs);
    r->segs = NULL;
    r->nseg = r->segcap = 0;
}

static void reply_push_seg(struct mock_reply *r, uint32_t delay_ms)
{
    if (r->nseg == r->segcap) {
        r->segcap = r->segcap ? r->segcap * 2 : 8;
        r->segs = xrealloc(r->segs, r->segcap * sizeof(*r->segs));
    }
    r->segs[r->nseg].start = r->data.len;
    r->segs[r->nseg].delay_ms = delay_ms;
    r->nseg++;
}

void mock_reply_reset(struct mock_reply *r, uint32_t delay_ms)
{
    buf_reset(&r->data);
    r->nseg = 0;
    r->end = REPLY_KEEP;
    r->stream = 0;
    r->stream_complete = 0;
    reply_push_seg(r, delay_ms);
}

void mock_reply_pause(struct mock_reply *r, uint32_t delay_ms)
{
    if (delay_ms == 0)
        return;
    /* An empty current segment just waits longer. */
    if (r->nseg && r->segs[r->nseg - 1].start == r->data.len) {
        mock_reply_add_delay(r, delay_ms);
        return;
    }
    reply_push_seg(r, delay_ms);
}

void mock_reply_add_delay(struct mock_reply *r, uint32_t delay_ms)
{
    struct mock_reply_seg *s = &r->segs[r->nseg - 1];
    unsigned long long d = (unsigned long long)s->delay_ms + delay_ms;
    s->delay_ms = d > MOCK_MAX_DELAY_MS ? MOCK_MAX_DELAY_MS : (uint32_t)d;
}

void mock_json_put_u64(struct buf *b, unsigned long long v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_append(b, tmp + i, sizeof(tmp) - i);
}

void mock_json_put_str(struct buf *b, const char *s, size_t n)
{
    buf_reserve(b, n + 2);
    buf_putc(b, '"');
    /* Runs of plain bytes are copied at once; only specials go through the escaper. */
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\') {
            buf_append(b, s + run, i - run);
            buf_json_escape(b, s + i, 1);
            run = i + 1;
        }
    }
    buf_append(b, s + run, n - run);
    buf_putc(b, '"');
}

void mock_json_put_float(struct buf *b, float v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%.9g", (double)v);
    buf_append(b, tmp, (size_t)n);
}

void mock_reply_head(struct mock_reply *r, const struct mock_req *q, int status, const char *ctype,
                     long long content_length, const char *extra)
{
    struct buf *b = &r->data;
    MOCK_LIT(b, "HTTP/1.1 ");
    mock_json_put_u64(b, (unsigned long long)status);
    buf_putc(b, ' ');
    buf_puts(b, http_status_text(status));
    MOCK_LIT(b, "\r\nContent-Type: ");
    buf_puts(b, ctype);
    if (content_length >= 0) {
        MOCK_LIT(b, "\r\nContent-Length: ");
        mock_json_put_u64(b, (unsigned long long)content_length);
    } else {
        MOCK_LIT(b, "\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache");
    }
    if (q->request_id.len) {
        MOCK_LIT(b, "\r\nx-request-id: ");
        buf_append(b, q->request_id.p, q->request_id.len);
    }
    /* Anthropic's answers carry request-id (the SDK reads it into requestID / _request_id). */
    if (str_starts(q->path, "/v1/messages")) {
        MOCK_LIT(b, "\r\nrequest-id: req_mock_");
        mock_json_put_u64(b, q->seq);
    }
    if (!q->keep_alive)
        MOCK_LIT(b, "\r\nConnection: close");
    else if (q->http10)
        MOCK_LIT(b, "\r\nConnection: keep-alive");
    MOCK_LIT(b, "\r\n");
    if (extra)
        buf_puts(b, extra);
    MOCK_LIT(b, "\r\n");
}

void mock_reply_full(struct mock_reply *r, const struct mock_req *q, int status, const char *ctype,
                     const char *body, size_t n, const char *extra)
{
    mock_reply_head(r, q, status, ctype, (long long)n, extra);
    buf_append(&r->data, body, n);
}

void mock_reply_chunk(struct mock_reply *r, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[20];
    size_t i = sizeof(tmp);
    tmp[--i] = '\n';
    tmp[--i] = '\r';
    size_t v = n;
    do {
        tmp[--i] = hex[v & 15];
        v >>= 4;
    } while (v);
    buf_reserve(&r->data, sizeof(tmp) - i + n + 2);
    buf_append(&r->data, tmp + i, sizeof(tmp) - i);
    buf_append(&r->data, p, n);
    MOCK_LIT(&r->data, "\r\n");
}

void mock_reply_chunk_end(struct mock_reply *r)
{
    MOCK_LIT(&r->data, "0\r\n\r\n");
}

static const char *openai_error_type(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 503: return "service_unavailable";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static const char *anthropic_error_type(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

/* The retry-after header line: always on 429 (default 1 s), elsewhere only when asked for. */
static const char *error_extra(const struct mock_req *q, int status, char *tmp, size_t n)
{
    int ra = q->p.retry_after;
    if (status != 429 && ra <= 0)
        return NULL;
    if (ra <= 0)
        ra = 1;
    snprintf(tmp, n, "retry-after: %d\r\n", ra);
    return tmp;
}

void mock_reply_error_openai(struct mock_reply *r, const struct mock_req *q, int status,
                             const char *message, const char *param)
{
    struct buf *b = q->tmp;
    buf_reset(b);
    MOCK_LIT(b, "{\"error\":{\"message\":");
    mock_json_put_str(b, message, strlen(message));
    MOCK_LIT(b, ",\"type\":\"");
    buf_puts(b, openai_error_type(status));
    MOCK_LIT(b, "\",\"param\":");
    if (param)
        mock_json_put_str(b, param, strlen(param));
    else
        MOCK_LIT(b, "null");
    MOCK_LIT(b, ",\"code\":null}}");
    char tmp[64];
    mock_reply_full(r, q, status, "application/json", b->data, b->len,
                    error_extra(q, status, tmp, sizeof(tmp)));
}

void mock_reply_error_anthropic(struct mock_reply *r, const struct mock_req *q, int status,
                                const char *message)
{
    struct buf *b = q->tmp;
    buf_reset(b);
    MOCK_LIT(b, "{\"type\":\"error\",\"error\":{\"type\":\"");
    buf_puts(b, anthropic_error_type(status));
    MOCK_LIT(b, "\",\"message\":");
    mock_json_put_str(b, message, strlen(message));
    MOCK_LIT(b, "}}");
    char tmp[64];
    mock_reply_full(r, q, status, "application/json", b->data, b->len,
                    error_extra(q, status, tmp, sizeof(tmp)));
}

void mock_reply_json_result(struct mock_reply *r, const struct mock_req *q, const char *body,
                            size_t n)
{
    mock_reply_add_delay(r, q->p.ttft_ms);
    if (q->p.malformed) {
        mock_reply_full(r, q, 200, "application/json", body, n / 2, NULL);
    } else if (q->p.cut_after >= 0) {
        mock_reply_head(r, q, 200, "application/json", (long long)n, NULL);
        buf_append(&r->data, body, n / 2);
        r->end = REPLY_CLOSE;
    } else {
        mock_reply_full(r, q, 200, "application/json", body, n, NULL);
    }
}

void mock_sse_start(struct mock_sse *s, struct mock_reply *r, const struct mock_req *q,
                    uint32_t total, const char *bad_event)
{
    s->r = r;
    s->q = q;
    s->bad_event = bad_event;
    s->total = total;
    s->sent = 0;
    s->bad_sent = 0;
    r->stream = 1;
    mock_reply_head(r, q, 200, "text/event-stream", -1, NULL);
}

static void sse_bad(struct mock_sse *s)
{
    if (s->q->p.malformed && !s->bad_sent) {
        mock_reply_chunk(s->r, s->bad_event, strlen(s->bad_event));
        s->bad_sent = 1;
    }
}

int mock_sse_next(struct mock_sse *s)
{
    const struct mock_params *p = &s->q->p;
    if (p->cut_after >= 0 && s->sent >= (unsigned long)p->cut_after) {
        s->r->end = REPLY_CLOSE;
        return 0;
    }
    mock_reply_pause(s->r, s->sent == 0 ? p->ttft_ms : p->chunk_delay_ms);
    /* The invalid event goes in the middle, but never before the first content event. */
    uint32_t mid = s->total / 2 ? s->total / 2 : 1;
    if (s->sent == mid)
        sse_bad(s);
    s->sent++;
    return 1;
}

int mock_sse_end(struct mock_sse *s)
{
    const struct mock_params *p = &s->q->p;
    if (p->cut_after >= 0) {
        s->r->end = REPLY_CLOSE;
        return 0;
    }
    mock_reply_pause(s->r, s->sent == 0 ? p->ttft_ms : p->chunk_delay_ms);
    sse_bad(s);
    return 1;
}

void mock_sse_done(struct mock_sse *s)
{
    mock_reply_chunk_end(s->r);
    s->r->stream_complete = 1;
}

void mock_sse_event(struct mock_sse *s, const struct buf *ev)
{
    mock_reply_chunk(s->r, ev->data, ev->len);
}
