/* server.c: one mockllm worker: a libuv loop, its SO_REUSEPORT listener and its connections.
 *
 * 1. Requests are parsed with http_parser straight out of one per-worker read buffer; the URL,
 *    headers (names lowercased) and body are copied into per-connection buffers that are reused
 *    for every request of the connection.
 * 2. A handler fills the worker's scratch reply. A small reply with no delay, on a connection
 *    with nothing queued, goes into the connection's output buffer at once (the fast path: no
 *    allocation). Any other reply is moved into a queued struct resp; the head of the queue is sent
 *    segment by segment, each segment after its delay on the connection's one timer, and at most
 *    MOCK_OUT_BYTES at a time, so a client that does not read holds the mock back. Replies leave
 *    in request order, so pipelining is answered in order.
 * 3. Output is written with uv_try_write first; what is left goes to one uv_write at a time while
 *    new bytes gather in a second buffer. A stream counts as completed only once its last byte was
 *    taken by the kernel.
 * 4. A connection owns two handles (tcp, timer). Closing closes both; the memory is freed in the
 *    close callback of the second one. A peer that goes away while a reply is still queued (a
 *    stream, a delay, a hang) counts in client_disconnects.
 * 5. After MOCK_MAX_QUEUED queued replies the connection stops reading until the queue drains. */
#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/log.h"
#include "server.h"

struct resp {
    struct resp *next;
    struct mock_reply r;
    size_t seg_i;   /* segment being sent */
    size_t off;     /* next byte of data to send */
    int delay_done; /* the delay of segment seg_i has passed */
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    struct mock_worker *w;
    struct conn *prev, *next;
    http_parser parser;
    int refs; /* handles not yet closed */

    /* The request being parsed. */
    struct buf url, hbuf, body;
    struct mock_hdr *hdrs;
    size_t nhdrs, hcap;
    size_t header_bytes;
    int last_was_value;
    int too_large; /* 413 or 431 when a cap was hit */

    /* Replies waiting or in progress, oldest first. */
    struct resp *head, *tail;
    size_t nqueued;

    struct buf out;           /* bytes to write next */
    struct buf wbuf;          /* bytes of the uv_write in flight */
    unsigned pending_streams; /* streams handed to out, complete once it is written */
    unsigned writing : 1, closing : 1, close_after_flush : 1, reading : 1, stop_parsing : 1;
};

struct mock_worker {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t stop;
    uv_thread_t thread;
    unsigned index, nworkers;
    struct conn *conns;
    struct mock_stats *st;
    unsigned long long seq;
    struct buf tmp, ev;
    struct mock_reply scratch;
    struct json_tokener *tok;
    char rbuf[65536];
};

static void conn_kick(struct conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* ---- request helpers used by handlers ---- */

json_object *mock_req_json(struct mock_req *q)
{
    if (!q->body.len)
        return NULL;
    json_tokener_reset(q->tok);
    json_object *o = json_tokener_parse_ex(q->tok, q->body.p, (int)q->body.len);
    if (json_tokener_get_error(q->tok) != json_tokener_success) {
        json_object_put(o);
        return NULL;
    }
    for (size_t i = json_tokener_get_parse_end(q->tok); i < q->body.len; i++) {
        char ch = q->body.p[i];
        if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') {
            json_object_put(o);
            return NULL;
        }
    }
    return o;
}

struct str mock_req_header(const struct mock_req *q, const char *lname)
{
    size_t n = strlen(lname);
    for (size_t i = 0; i < q->nhdrs; i++) {
        const struct mock_hdr *h = &q->hdrs[i];
        if (h->name_len == n && memcmp(q->hbase + h->name_off, lname, n) == 0)
            return (struct str){q->hbase + h->val_off, h->val_len};
    }
    return (struct str){"", 0};
}


/* Reads a number header value into *out, clamped to max; malformed values are ignored. */
static void param_u32(struct str v, uint32_t *out, uint32_t max)
{
    unsigned long long n;
    if (str_to_u64(str_trim(v), &n) == 0)
        *out = n > max ? max : (uint32_t)n;
}

static void param_bool(struct str v, int *out)
{
    v = str_trim(v);
    if (str_eq_ci(v, "1") || str_eq_ci(v, "true") || str_eq_ci(v, "yes") || str_eq_ci(v, "on"))
        *out = 1;
    else if (str_eq_ci(v, "0") || str_eq_ci(v, "false") || str_eq_ci(v, "no") ||
             str_eq_ci(v, "off"))
        *out = 0;
}

/* Overrides the instance defaults in *p with the request's x-mock-* headers. */
static void params_from_headers(struct mock_params *p, const struct mock_req *q)
{
    for (size_t i = 0; i < q->nhdrs; i++) {
        const struct mock_hdr *h = &q->hdrs[i];
        struct str name = {q->hbase + h->name_off, h->name_len};
        if (!str_starts(name, "x-mock-"))
            continue;
        name.p += 7;
        name.len -= 7;
        struct str v = {q->hbase + h->val_off, h->val_len};
        uint32_t u;
        if (str_eq(name, STR_LIT("latency-ms"))) {
            param_u32(v, &p->latency_ms, MOCK_MAX_DELAY_MS);
        } else if (str_eq(name, STR_LIT("ttft-ms"))) {
            param_u32(v, &p->ttft_ms, MOCK_MAX_DELAY_MS);
        } else if (str_eq(name, STR_LIT("chunk-delay-ms"))) {
            param_u32(v, &p->chunk_delay_ms, MOCK_MAX_DELAY_MS);
        } else if (str_eq(name, STR_LIT("words"))) {
            param_u32(v, &p->words, MOCK_MAX_WORDS);
        } else if (str_eq(name, STR_LIT("status"))) {
            u = 0;
            param_u32(v, &u, 999);
            p->status = u >= 100 ? (int)u : p->status;
        } else if (str_eq(name, STR_LIT("retry-after"))) {
            u = 0;
            param_u32(v, &u, 86400);
            p->retry_after = u ? (int)u : p->retry_after;
        } else if (str_eq(name, STR_LIT("cut-after"))) {
            u = UINT32_MAX;
            param_u32(v, &u, UINT32_MAX - 1);
            if (u != UINT32_MAX)
                p->cut_after = (long)u;
            else if (str_eq_ci(str_trim(v), "off") || str_eq_ci(str_trim(v), "-1"))
                p->cut_after = -1;
        } else if (str_eq(name, STR_LIT("malformed"))) {
            param_bool(v, &p->malformed);
        } else if (str_eq(name, STR_LIT("hang"))) {
            param_bool(v, &p->hang);
        } else if (str_eq(name, STR_LIT("close"))) {
            param_bool(v, &p->close);
        } else if (str_eq(name, STR_LIT("content-filter"))) {
            int on = -1;
            param_bool(v, &on);
            if (str_eq_ci(str_trim(v), "completion"))
                p->content_filter = MOCK_FILTER_COMPLETION;
            else if (on == 1 || str_eq_ci(str_trim(v), "prompt"))
                p->content_filter = MOCK_FILTER_PROMPT;
            else if (on == 0)
                p->content_filter = MOCK_FILTER_OFF;
        }
    }
}

/* ---- routes ---- */

enum flavour { FL_OPENAI, FL_ANTHROPIC, FL_GEMINI, FL_BEDROCK, FL_CONTROL };

struct route {
    int method;
    const char *path;
    int prefix; /* path is a prefix: the rest is an id */
    enum flavour fl;
    void (*fn)(struct mock_req *q, struct mock_reply *r);
};

static const struct route routes[] = {
    {HTTP_POST, "/v1/chat/completions", 0, FL_OPENAI, mock_openai_chat},
    {HTTP_POST, "/v1/completions", 0, FL_OPENAI, mock_openai_completions},
    {HTTP_POST, "/v1/embeddings", 0, FL_OPENAI, mock_openai_embeddings},
    {HTTP_GET, "/v1/models", 0, FL_OPENAI, mock_openai_models},
    {HTTP_GET, "/v1/models/", 1, FL_OPENAI, mock_openai_model},
    {HTTP_POST, "/v1/messages", 0, FL_ANTHROPIC, mock_anthropic_messages},
    {HTTP_POST, "/v1/messages/count_tokens", 0, FL_ANTHROPIC, mock_anthropic_count_tokens},
    {HTTP_POST, "/openai/deployments/", 1, FL_OPENAI, mock_azure},
    {HTTP_POST, "/model/", 1, FL_BEDROCK, mock_bedrock},
    {HTTP_POST, "/v1beta/models/", 1, FL_GEMINI, mock_gemini},
    {HTTP_POST, "/v1/models/", 1, FL_GEMINI, mock_gemini},
    {HTTP_GET, "/mock/stats", 0, FL_CONTROL, mock_control_stats},
    {HTTP_GET, "/mock/requests/", 1, FL_CONTROL, mock_control_request},
    {HTTP_POST, "/mock/reset", 0, FL_CONTROL, mock_control_reset},
};

/* Returns the route for the path; *method_ok says whether the method matched too. */
static const struct route *route_find(const struct mock_req *q, int *method_ok)
{
    const struct route *found = NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct route *rt = &routes[i];
        size_t n = strlen(rt->path);
        int hit = rt->prefix ? q->path.len > n && memcmp(q->path.p, rt->path, n) == 0
                             : q->path.len == n && memcmp(q->path.p, rt->path, n) == 0;
        if (!hit)
            continue;
        found = rt;
        if (rt->method == q->method) {
            *method_ok = 1;
            return rt;
        }
    }
    *method_ok = 0;
    return found;
}

static void reply_error(struct mock_reply *r, const struct mock_req *q, enum flavour fl, int status,
                        const char *msg)
{
    if (fl == FL_ANTHROPIC)
        mock_reply_error_anthropic(r, q, status, msg);
    else if (fl == FL_BEDROCK) /* signature-checked first: it answers x-mock-status itself */
        mock_bedrock_error(r, q, status, msg);
    else if (fl == FL_GEMINI)
        mock_reply_error_gemini(r, q, status, msg);
    else
        mock_reply_error_openai(r, q, status, msg, NULL);
}

static void dispatch(struct mock_worker *w, struct mock_req *q, struct mock_reply *r)
{
    int method_ok;
    const struct route *rt = route_find(q, &method_ok);
    mock_reply_reset(r, 0);
    if (rt && rt->fl == FL_CONTROL) {
        if (method_ok)
            rt->fn(q, r);
        else
            mock_reply_error_openai(r, q, 405, "mockllm: method not allowed", NULL);
        return;
    }
    mock_stat_add(&w->st->requests, 1);
    mock_control_record(q);
    if (q->p.close) {
        r->end = REPLY_CLOSE;
        return;
    }
    if (q->p.hang) {
        r->end = REPLY_HANG;
        return;
    }
    mock_reply_reset(r, q->p.latency_ms);
    enum flavour fl = rt ? rt->fl : str_starts(q->path, "/v1/messages") ? FL_ANTHROPIC : FL_OPENAI;
    if (!rt && str_starts(q->path, "/v1beta/"))
        fl = FL_GEMINI;
    if (!rt) {
        char msg[160];
        snprintf(msg, sizeof(msg), "mockllm: unknown path %.*s",
                 (int)(q->path.len > 100 ? 100 : q->path.len), q->path.p);
        reply_error(r, q, fl, 404, msg);
    } else if (!method_ok) {
        reply_error(r, q, fl, 405, "mockllm: method not allowed");
    } else if (q->p.status >= 300 && fl != FL_BEDROCK) {
        char msg[64];
        snprintf(msg, sizeof(msg), "mockllm: injected error (status %d)", q->p.status);
        reply_error(r, q, fl, q->p.status, msg);
    } else {
        rt->fn(q, r);
        if (r->stream)
            mock_stat_add(&w->st->streams_started, 1);
    }
}

/* ---- replies on a connection ---- */

static void resp_free(struct mock_worker *w, struct resp *x)
{
    mock_reply_free(&x->r);
    free(x);
    mock_stat_gauge(&w->st->active, -1);
}

static void conn_drop_queue(struct conn *c)
{
    while (c->head) {
        struct resp *x = c->head;
        c->head = x->next;
        resp_free(c->w, x);
    }
    c->tail = NULL;
    c->nqueued = 0;
}

/* Hands the worker's scratch reply to the connection: into the output buffer at once, or queued.
 * The caller kicks the connection afterwards. */
static void conn_submit(struct conn *c, struct mock_reply *r)
{
    struct mock_worker *w = c->w;
    if (c->closing)
        return;
    if (!c->head && r->nseg == 1 && r->segs[0].delay_ms == 0 && r->end == REPLY_KEEP &&
        r->data.len <= MOCK_OUT_BYTES) {
        if (c->out.len == 0) {
            /* Swap rather than copy: the scratch takes the connection's empty buffer. */
            struct buf t = c->out;
            c->out = r->data;
            r->data = t;
        } else {
            buf_append(&c->out, r->data.data, r->data.len);
        }
        if (r->stream && r->stream_complete)
            c->pending_streams++;
        return;
    }
    struct resp *x = xmalloc(sizeof(*x));
    x->next = NULL;
    x->r = *r;
    x->seg_i = 0;
    x->off = 0;
    x->delay_done = 0;
    mock_reply_init(r); /* the scratch gave its memory away */
    mock_stat_gauge(&w->st->active, 1);
    if (c->tail)
        c->tail->next = x;
    else
        c->head = x;
    c->tail = x;
    if (++c->nqueued >= MOCK_MAX_QUEUED && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static void on_timer(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->head)
        c->head->delay_done = 1;
    conn_kick(c);
}

/* Moves what is due of the queued replies into the output buffer, at most MOCK_OUT_BYTES in it.
 * Returns 1 when it stopped only because the buffer is full (more is due once it drains). */
static int conn_pump(struct conn *c)
{
    struct mock_worker *w = c->w;
    struct resp *h;
    while ((h = c->head) && !c->closing) {
        struct mock_reply *r = &h->r;
        if (h->seg_i < r->nseg) {
            struct mock_reply_seg *s = &r->segs[h->seg_i];
            if (h->off == s->start && s->delay_ms && !h->delay_done) {
                uv_timer_start(&c->timer, on_timer, s->delay_ms, 0);
                return 0;
            }
            size_t end = h->seg_i + 1 < r->nseg ? r->segs[h->seg_i + 1].start : r->data.len;
            if (h->off < end && c->out.len >= MOCK_OUT_BYTES)
                return 1;
            size_t n = end - h->off, room = MOCK_OUT_BYTES - c->out.len;
            if (n > room)
                n = room;
            buf_append(&c->out, r->data.data + h->off, n);
            h->off += n;
            if (h->off == end) {
                h->seg_i++;
                h->delay_done = 0;
            }
            continue;
        }
        if (r->end == REPLY_HANG)
            return 0;
        if (r->stream && r->stream_complete)
            c->pending_streams++;
        if (r->end == REPLY_CLOSE) {
            c->close_after_flush = 1;
            c->stop_parsing = 1;
            conn_drop_queue(c);
            if (c->reading) {
                uv_read_stop((uv_stream_t *)&c->tcp);
                c->reading = 0;
            }
            return 0;
        }
        c->head = h->next;
        if (!c->head)
            c->tail = NULL;
        c->nqueued--;
        resp_free(w, h);
        if (!c->reading && !c->stop_parsing && !c->close_after_flush &&
            c->nqueued < MOCK_MAX_QUEUED &&
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = 1;
    }
    return 0;
}

static void on_close(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->refs > 0)
        return;
    buf_free(&c->url);
    buf_free(&c->hbuf);
    buf_free(&c->body);
    buf_free(&c->out);
    buf_free(&c->wbuf);
    free(c->hdrs);
    free(c);
}

/* Closes the connection. peer says the other side went away: that counts as a client disconnect
 * when a reply was still queued, or written but not yet taken by the peer. */
static void conn_close(struct conn *c, int peer)
{
    struct mock_worker *w = c->w;
    if (c->closing)
        return;
    c->closing = 1;
    if (peer && (c->head || c->writing || c->out.len || c->pending_streams)) {
        mock_stat_add(&w->st->client_disconnects, 1);
        if (!mock_cfg.quiet)
            log_info("mockllm: client went away while a reply was in progress");
    }
    conn_drop_queue(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    mock_stat_gauge(&w->st->connections, -1);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_close);
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    c->writing = 0;
    buf_reset(&c->wbuf);
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c, 1);
        return;
    }
    conn_kick(c);
}

/* Writes the output buffer: uv_try_write first, then one uv_write for the rest. */
static void conn_flush(struct conn *c)
{
    if (c->closing || c->writing)
        return;
    if (c->out.len) {
        uv_buf_t ub = uv_buf_init(c->out.data, (unsigned)c->out.len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
        if (n == UV_EAGAIN)
            n = 0;
        if (n < 0) {
            conn_close(c, 1);
            return;
        }
        if ((size_t)n < c->out.len) {
            struct buf t = c->wbuf;
            c->wbuf = c->out;
            c->out = t;
            buf_reset(&c->out);
            ub = uv_buf_init(c->wbuf.data + n, (unsigned)(c->wbuf.len - (size_t)n));
            c->writing = 1;
            if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &ub, 1, on_write) < 0) {
                c->writing = 0;
                conn_close(c, 1);
            }
            return;
        }
        /* Keep a modest buffer across requests, not the largest one ever sent. */
        if (c->out.cap > 2 * MOCK_OUT_BYTES)
            buf_free(&c->out);
        else
            buf_reset(&c->out);
    }
    /* Everything handed over was taken by the kernel: those streams are complete. */
    if (c->pending_streams) {
        mock_stat_add(&c->w->st->streams_completed, c->pending_streams);
        c->pending_streams = 0;
    }
    if (c->close_after_flush && !c->head)
        conn_close(c, 0);
}

/* Sends what is due, until the socket would block or nothing more is due now. */
static void conn_kick(struct conn *c)
{
    for (;;) {
        int more = conn_pump(c);
        conn_flush(c);
        if (!more || c->closing || c->writing)
            return;
    }
}

/* ---- http_parser callbacks ---- */

static int header_cap(struct conn *c, size_t len)
{
    c->header_bytes += len;
    if (c->header_bytes > MOCK_MAX_HEADER_BYTES) {
        c->too_large = 431;
        return 1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct conn *c = p->data;
    buf_reset(&c->url);
    buf_reset(&c->hbuf);
    buf_reset(&c->body);
    c->nhdrs = 0;
    c->header_bytes = 0;
    c->last_was_value = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (header_cap(c, len))
        return 1;
    buf_append(&c->url, at, len);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (header_cap(c, len))
        return 1;
    if (c->nhdrs == 0 || c->last_was_value) {
        if (c->nhdrs == c->hcap) {
            c->hcap = c->hcap ? c->hcap * 2 : 16;
            c->hdrs = xrealloc(c->hdrs, c->hcap * sizeof(*c->hdrs));
        }
        c->hdrs[c->nhdrs++] = (struct mock_hdr){(uint32_t)c->hbuf.len, 0, 0, 0};
        c->last_was_value = 0;
    }
    struct mock_hdr *h = &c->hdrs[c->nhdrs - 1];
    buf_reserve(&c->hbuf, len);
    for (size_t i = 0; i < len; i++) {
        char ch = at[i];
        c->hbuf.data[c->hbuf.len++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    c->hbuf.data[c->hbuf.len] = '\0';
    h->name_len += (uint32_t)len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (header_cap(c, len))
        return 1;
    if (c->nhdrs == 0)
        return 0;
    struct mock_hdr *h = &c->hdrs[c->nhdrs - 1];
    if (!c->last_was_value) {
        h->val_off = (uint32_t)c->hbuf.len;
        c->last_was_value = 1;
    }
    buf_append(&c->hbuf, at, len);
    h->val_len += (uint32_t)len;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct conn *c = p->data;
    /* A body announced too large is refused before the client sends it. */
    if (p->content_length != ULLONG_MAX && p->content_length > MOCK_MAX_BODY_BYTES) {
        c->too_large = 413;
        return -1;
    }
    /* curl and others wait for "100 Continue" before sending a large body. It may only go out
     * now when it cannot overtake an earlier reply. */
    for (size_t i = 0; i < c->nhdrs; i++) {
        struct mock_hdr *h = &c->hdrs[i];
        if (h->name_len == 6 && memcmp(c->hbuf.data + h->name_off, "expect", 6) == 0 &&
            str_eq_ci((struct str){c->hbuf.data + h->val_off, h->val_len}, "100-continue") &&
            !c->head)
            MOCK_LIT(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (buf_append_capped(&c->body, at, len, MOCK_MAX_BODY_BYTES) != 0) {
        c->too_large = 413;
        return 1;
    }
    return 0;
}

static void mreq_fill(struct conn *c, struct mock_req *q, int keep_alive)
{
    struct mock_worker *w = c->w;
    memset(q, 0, sizeof(*q));
    q->method = c->parser.method;
    q->url = (struct str){c->url.data ? c->url.data : "", c->url.len};
    const char *qm = memchr(q->url.p, '?', q->url.len);
    q->path = (struct str){q->url.p, qm ? (size_t)(qm - q->url.p) : q->url.len};
    q->body = (struct str){c->body.data ? c->body.data : "", c->body.len};
    q->hbase = c->hbuf.data ? c->hbuf.data : "";
    q->hdrs = c->hdrs;
    q->nhdrs = c->nhdrs;
    q->keep_alive = keep_alive;
    q->http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
    q->request_id = str_trim(mock_req_header(q, "x-request-id"));
    q->p = mock_cfg.defaults;
    q->seq = w->seq++ * w->nworkers + w->index + 1;
    q->tmp = &w->tmp;
    q->ev = &w->ev;
    q->tok = w->tok;
    q->worker = w->index;
}

static int on_message_complete(http_parser *p)
{
    struct conn *c = p->data;
    struct mock_worker *w = c->w;
    struct mock_req q;
    mreq_fill(c, &q, http_should_keep_alive(p));
    params_from_headers(&q.p, &q);
    struct mock_reply *r = &w->scratch;
    dispatch(w, &q, r);
    if (!q.keep_alive && r->end == REPLY_KEEP)
        r->end = REPLY_CLOSE;
    int closing = r->end != REPLY_KEEP;
    conn_submit(c, r);
    /* Nothing after a reply that closes (or never ends) can be answered: stop parsing. */
    if (closing)
        http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Answers a request that could not be parsed, then closes. */
static void conn_bad_request(struct conn *c)
{
    struct mock_worker *w = c->w;
    struct mock_req q;
    int status = c->too_large ? c->too_large : 400;
    mreq_fill(c, &q, 0);
    q.request_id = (struct str){"", 0};
    struct mock_reply *r = &w->scratch;
    mock_reply_reset(r, 0);
    mock_reply_error_openai(r, &q, status,
                            status == 413   ? "mockllm: request body too large"
                            : status == 431 ? "mockllm: request headers too large"
                                            : http_errno_description(HTTP_PARSER_ERRNO(&c->parser)),
                            NULL);
    r->end = REPLY_CLOSE;
    c->stop_parsing = 1;
    if (!mock_cfg.quiet)
        log_info("mockllm: bad request (%d): %s", status,
                 http_errno_name(HTTP_PARSER_ERRNO(&c->parser)));
    conn_submit(c, r);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct conn *c = h->data;
    (void)suggested;
    *b = uv_buf_init(c->w->rbuf, sizeof(c->w->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (nread < 0) {
        if (nread == UV_EOF && !c->head && !c->closing) {
            /* A half-closed client still gets what is already answered. */
            uv_read_stop(s);
            c->reading = 0;
            c->close_after_flush = 1;
            conn_kick(c);
        } else {
            conn_close(c, 1);
        }
        return;
    }
    if (nread == 0 || c->stop_parsing || c->closing)
        return;
    http_parser_execute(&c->parser, &parser_settings, b->base, (size_t)nread);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED)
        c->stop_parsing = 1;
    else if (e != HPE_OK && !c->closing)
        conn_bad_request(c);
    conn_kick(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct mock_worker *w = server->data;
    if (status < 0)
        return;
    struct conn *c = xcalloc(1, sizeof(*c));
    c->w = w;
    c->tcp.data = c;
    c->timer.data = c;
    c->wreq.data = c;
    uv_tcp_init(&w->loop, &c->tcp);
    c->refs = 1;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    uv_timer_init(&w->loop, &c->timer);
    c->refs = 2;
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    mock_stat_gauge(&w->st->connections, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
    else
        conn_close(c, 0);
}

/* ---- worker lifecycle ---- */

static void on_worker_handle_close(uv_handle_t *h)
{
    (void)h;
}

static void on_stop(uv_async_t *a)
{
    struct mock_worker *w = a->data;
    while (w->conns)
        conn_close(w->conns, 0);
    uv_close((uv_handle_t *)&w->listener, on_worker_handle_close);
    uv_close((uv_handle_t *)&w->stop, on_worker_handle_close);
}

static void worker_main(void *arg)
{
    struct mock_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

int mock_worker_start(struct mock_worker **out, unsigned index, unsigned nworkers, int fd)
{
    struct mock_worker *w = xcalloc(1, sizeof(*w));
    int rc;
    w->index = index;
    w->nworkers = nworkers;
    w->st = mock_control_worker_stats(index);
    mock_reply_init(&w->scratch);
    w->tok = json_tokener_new();
    if ((rc = uv_loop_init(&w->loop)) < 0)
        goto fail_loop;
    w->listener.data = w;
    w->stop.data = w;
    uv_tcp_init(&w->loop, &w->listener);
    uv_async_init(&w->loop, &w->stop, on_stop);
    if ((rc = uv_tcp_open(&w->listener, fd)) < 0)
        close(fd); /* not adopted by the handle, so closing the handle will not close it */
    if (rc < 0 || (rc = uv_listen((uv_stream_t *)&w->listener, 4096, on_connection)) < 0 ||
        (rc = uv_thread_create(&w->thread, worker_main, w)) < 0) {
        uv_close((uv_handle_t *)&w->listener, NULL);
        uv_close((uv_handle_t *)&w->stop, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        goto fail_loop;
    }
    *out = w;
    return 0;
fail_loop:
    json_tokener_free(w->tok);
    mock_reply_free(&w->scratch);
    free(w);
    *out = NULL;
    return rc;
}

void mock_worker_stop(struct mock_worker *w)
{
    uv_async_send(&w->stop);
}

void mock_worker_join(struct mock_worker *w)
{
    if (!w)
        return;
    uv_thread_join(&w->thread);
    uv_loop_close(&w->loop);
    json_tokener_free(w->tok);
    mock_reply_free(&w->scratch);
    buf_free(&w->tmp);
    buf_free(&w->ev);
    free(w);
}
