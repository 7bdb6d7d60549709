/* HTTP/1.1 server connections on libuv, parsed by libhttp-parser.
 *
 * Design decisions:
 *  1. One connection holds at most one request at a time. After on_message_complete the parser is
 *     paused; bytes that follow (pipelined requests) stay in conn->in until the answer has ended, then
 *     parsing resumes. The request struct is embedded in the connection and reset at each message
 *     begin, so a request costs no allocation once the connection's buffers have grown.
 *  2. Reads land in one 64 KiB buffer shared by every connection of the server (a worker is one
 *     thread). Only unparsed leftovers are copied into the connection, so an idle connection holds no
 *     read buffer. Reading stops while conn->in holds limits.max_header_bytes or more.
 *  3. Header bytes are counted on the raw stream: while a request head is being parsed, the parser
 *     is fed at most the bytes left in limits.max_header_bytes, so a head can never exceed the limit
 *     (431). http_parser's own compile-time cap is lifted once at start so ours is the only one.
 *  4. Writes try uv_try_write first; what the kernel does not take is copied into one heap write
 *     request. The response head is held back until the first body bytes (or the end) so that a
 *     whole buffered answer is a single writev. Queued bytes are the back-pressure signal.
 *  5. One uv_timer per connection carries every deadline: the phase deadline (header, body, idle,
 *     linger) and the write deadline (no write progress for write_timeout_ms while bytes are queued).
 *  6. A write error inside an http_response_* call is not reported from inside that call: the
 *     connection is marked failed and the timer fires at once, which closes it and runs the abort
 *     callback from a clean stack. So the abort callback never runs inside the handler's own calls.
 *  7. Lifetime (libuv rule): memory is freed only from close callbacks. A connection is freed when
 *     both its handles are closed and the handler has released its request; the server is freed when
 *     it is closing, its listener is closed and no connection is left.
 *  8. Connections close gracefully after an error or a `Connection: close` answer: once the queue has
 *     drained, the write side is shut down and input is read and dropped until the client closes or
 *     HTTP_LINGER_MS pass, so an unread request body does not turn our answer into a reset.
 *
 * Limits: all from struct limits (see base/limits.h); a timeout of 0 disables that timeout.
 * Errors this layer answers itself use OpenAI's error object and name the limit to raise.
 */
#include "net/http.h"

#include <errno.h>
#include <http_parser.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"

#define HTTP_READ_BUF_BYTES 65536  /* shared read buffer per server */
#define HTTP_LINGER_MS 2000        /* how long a closing connection waits for the client's FIN */
#define HTTP_KEEP_BUF_BYTES 65536  /* per-connection buffers above this are freed between requests */
#define HTTP_LISTEN_BACKLOG 1024
#define HTTP_MIN_IN_BOUND 4096     /* floor for the unparsed-bytes bound (max_header_bytes) */

enum conn_phase {
    PH_IDLE,     /* between requests (or before the first) */
    PH_HEADERS,  /* request line and headers being read */
    PH_BODY,     /* body being read */
    PH_HANDLING, /* request complete, handler owns it */
    PH_CLOSING,  /* last bytes draining, then linger */
    PH_LINGER,   /* write side shut down; dropping input until the client closes */
};

enum conn_reject { REJ_NONE, REJ_MANY_HEADERS, REJ_TRAILERS, REJ_BODY };

struct wreq {
    uv_write_t req;
    struct http_conn *conn;
    size_t len;
    bool ends_answer; /* the last bytes of an ended answer */
    char data[];
};

struct http_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    struct http_server *srv;
    struct http_conn *prev, *next; /* in srv->conns while open */
    http_parser parser;
    struct http_request req;
    struct buf in;   /* read but not parsed yet */
    struct buf hdr;  /* the URL, then each header name and value, back to back */
    struct buf head; /* response head held back until the first body bytes */
    size_t url_len;
    size_t header_bytes; /* raw bytes of the current request head so far */
    size_t queued;       /* bytes handed to uv_write and not written yet */
    size_t unflushed;    /* ended answers whose last bytes are still queued */
    struct wreq *last_wreq;
    uint64_t write_progress; /* loop ms of the last write progress while bytes are queued */
    uint64_t phase_due;      /* loop ms deadline of the phase, 0 = none */
    uint64_t timer_due;      /* when the timer is armed for, 0 = not armed */
    http_event_fn abort_cb, drain_cb;
    void *abort_ud, *drain_ud;
    long long resp_left; /* Content-Length bytes still owed, -1 if not length-delimited */
    enum conn_phase phase;
    enum conn_reject reject;
    int handles_open;
    int in_process; /* > 0 while conn_parse runs (sync http_response_end must not re-enter) */
    bool reading, closing, failed, close_after, close_after_flush, req_held, msg_done, in_field;
    bool resp_started, resp_chunked, resp_nobody, head_pending, above_high, is_head;
};

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    const struct limits *lim;
    http_handler_fn handler;
    void *ud;
    struct http_conn *conns;
    size_t n_open;  /* connections in conns */
    size_t n_alive; /* connections not freed yet (closing ones included) */
    size_t inflight;
    char *rbuf;
    int port;
    bool listener_open, listener_closing, stopping, closing;
};

static void conn_close(struct http_conn *c);
static void conn_after_io(struct http_conn *c);
static void conn_resume(struct http_conn *c);
static void on_timer(uv_timer_t *t);

/* ---- small helpers ------------------------------------------------------------------------ */

static uint64_t loop_now(const struct http_conn *c)
{
    return uv_now(c->srv->loop);
}

static uint64_t deadline(const struct http_conn *c, size_t ms)
{
    return ms ? loop_now(c) + ms : 0;
}

static bool conn_stopped(const struct http_conn *c)
{
    return c->closing || c->failed || c->close_after_flush;
}

static size_t fmt_dec(char *out, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static size_t fmt_hex(char *out, size_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static void buf_put_dec(struct buf *b, unsigned long long v)
{
    char tmp[24];
    buf_append(b, tmp, fmt_dec(tmp, v));
}

static void buf_put_str(struct buf *b, struct str s)
{
    buf_append(b, s.p, s.len);
}

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Overloaded";
    case 505: return "HTTP Version Not Supported";
    default: break;
    }
    if (status >= 200 && status < 300)
        return "OK";
    if (status >= 400 && status < 500)
        return "Client Error";
    if (status >= 500 && status < 600)
        return "Server Error";
    return "Unknown";
}

/* ---- writing -------------------------------------------------------------------------------- */

static void conn_fail(struct http_conn *c)
{
    if (c->closing || c->failed)
        return;
    c->failed = true;
    c->timer_due = loop_now(c);
    uv_timer_start(&c->timer, on_timer, 0, 0);
}

static bool output_blocked(const struct http_conn *c)
{
    size_t max_pipe = c->srv->lim->max_pipelined ? c->srv->lim->max_pipelined : 1;
    return c->queued > c->srv->lim->stream_buffer_bytes || c->unflushed >= max_pipe;
}

static void conn_timer_update(struct http_conn *c)
{
    if (c->closing || c->failed) /* conn_fail has armed the timer for now */
        return;
    uint64_t now = loop_now(c), due = 0;
    if (c->queued && c->srv->lim->write_timeout_ms)
        due = c->write_progress + c->srv->lim->write_timeout_ms;
    /* an idle connection still flushing its last answer is governed by the write deadline */
    if (c->phase_due && !(c->phase == PH_IDLE && c->queued) && (!due || c->phase_due < due))
        due = c->phase_due;
    /* Lazy: a timer armed earlier than needed (or no longer needed) is left alone; it fires, finds
     * nothing due and re-arms. That saves most heap updates on a busy keep-alive connection. */
    if (!due || (c->timer_due && c->timer_due <= due))
        return;
    c->timer_due = due;
    uv_timer_start(&c->timer, on_timer, due > now ? due - now : 0, 0);
}

static void on_write(uv_write_t *wr, int status)
{
    struct wreq *w = (struct wreq *)wr;
    struct http_conn *c = w->conn;
    c->queued -= w->len;
    if (w->ends_answer)
        c->unflushed--;
    if (c->last_wreq == w)
        c->last_wreq = NULL;
    free(w);
    if (c->closing || c->failed)
        return;
    if (status < 0) {
        log_debug("http: write failed: %s", uv_strerror(status));
        conn_close(c);
        return;
    }
    c->write_progress = loop_now(c);
    if (c->above_high && c->queued < c->srv->lim->stream_buffer_bytes / 2) {
        c->above_high = false;
        if (c->req_held && c->drain_cb)
            c->drain_cb(&c->req, c->drain_ud);
        if (c->closing)
            return;
    }
    if (c->queued == 0 && c->phase == PH_IDLE)
        c->phase_due = deadline(c, c->srv->lim->idle_timeout_ms);
    if (c->queued == 0 && c->phase == PH_CLOSING) {
        c->phase = PH_LINGER;
        conn_after_io(c); /* conn_after_io starts the linger */
        return;
    }
    conn_resume(c);
}

/* Writes bufs in order: what the kernel takes now is sent, the rest is copied and queued. */
static void conn_write(struct http_conn *c, uv_buf_t *bufs, unsigned nbufs)
{
    if (c->closing || c->failed)
        return;
    size_t total = 0, done = 0;
    for (unsigned i = 0; i < nbufs; i++)
        total += bufs[i].len;
    if (total == 0)
        return;
    if (c->queued == 0) {
        int r = uv_try_write(&c->io.stream, bufs, nbufs);
        if (r >= 0) {
            done = (size_t)r;
        } else if (r != UV_EAGAIN && r != UV_ENOSYS) {
            log_debug("http: write failed: %s", uv_strerror(r));
            conn_fail(c);
            return;
        }
        if (done == total)
            return;
    }
    size_t rest = total - done;
    struct wreq *w = xmalloc(sizeof(*w) + rest);
    w->conn = c;
    w->len = rest;
    w->ends_answer = false;
    size_t at = 0, skip = done;
    for (unsigned i = 0; i < nbufs; i++) {
        size_t n = bufs[i].len;
        const char *p = bufs[i].base;
        if (skip >= n) {
            skip -= n;
            continue;
        }
        p += skip;
        n -= skip;
        skip = 0;
        memcpy(w->data + at, p, n);
        at += n;
    }
    uv_buf_t one = uv_buf_init(w->data, (unsigned)rest);
    int r = uv_write(&w->req, &c->io.stream, &one, 1, on_write);
    if (r < 0) {
        free(w);
        log_debug("http: write failed: %s", uv_strerror(r));
        conn_fail(c);
        return;
    }
    if (c->queued == 0)
        c->write_progress = loop_now(c);
    c->queued += rest;
    c->last_wreq = w;
    conn_timer_update(c);
}

static void conn_write_raw(struct http_conn *c, const char *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    conn_write(c, &b, 1);
}

/* ---- closing -------------------------------------------------------------------------------- */

static void server_maybe_free(struct http_server *s)
{
    if (!s->closing || s->listener_open || s->n_alive)
        return;
    free(s->rbuf);
    free(s);
}

static void conn_maybe_free(struct http_conn *c)
{
    if (c->handles_open || c->req_held || !c->closing)
        return;
    struct http_server *s = c->srv;
    buf_free(&c->in);
    buf_free(&c->hdr);
    buf_free(&c->head);
    buf_free(&c->req.body);
    free(c);
    s->n_alive--;
    server_maybe_free(s);
}

static void on_conn_close(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    c->handles_open--;
    conn_maybe_free(c);
}

/* Closes at once; a request the handler still holds gets its abort callback (once). */
static void conn_close(struct http_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    struct http_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    s->n_open--;
    uv_close(&c->io.handle, on_conn_close);
    uv_close((uv_handle_t *)&c->timer, on_conn_close);
    if (c->req_held && c->abort_cb) {
        http_event_fn cb = c->abort_cb;
        c->abort_cb = NULL;
        cb(&c->req, c->abort_ud);
    }
}

static void on_shutdown(uv_shutdown_t *sr, int status)
{
    struct http_conn *c = sr->data;
    if (status < 0 && !c->closing)
        conn_close(c);
}

/* Closes once the queued bytes are written (then lingers, see the top comment). */
static void conn_close_graceful(struct http_conn *c)
{
    if (conn_stopped(c))
        return;
    c->close_after_flush = true;
    c->phase = c->queued ? PH_CLOSING : PH_LINGER;
    c->phase_due = 0;
    if (c->phase == PH_LINGER)
        conn_after_io(c);
}

/* Answers an error from this layer itself (no handler involved) and closes. */
static void conn_reject(struct http_conn *c, int status, const char *code, const char *msg)
{
    struct buf body = BUF_INIT;
    buf_puts(&body, "{\"error\":{\"message\":\"");
    buf_json_escape(&body, msg, strlen(msg));
    buf_puts(&body, "\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"");
    buf_puts(&body, code);
    buf_puts(&body, "\"}}\n");
    struct buf *h = &c->head;
    buf_reset(h);
    buf_puts(h, "HTTP/1.1 ");
    buf_put_dec(h, (unsigned)status);
    buf_putc(h, ' ');
    buf_puts(h, http_status_text(status));
    buf_puts(h, "\r\nContent-Type: application/json\r\nContent-Length: ");
    buf_put_dec(h, body.len);
    buf_puts(h, "\r\nConnection: close\r\n\r\n");
    buf_append(h, body.data, body.len);
    conn_write_raw(c, h->data, h->len);
    buf_reset(h);
    buf_free(&body);
    conn_close_graceful(c);
}

/* ---- parsing -------------------------------------------------------------------------------- */

static void req_reset(struct http_conn *c)
{
    struct http_request *r = &c->req;
    if (r->body.cap > HTTP_KEEP_BUF_BYTES)
        buf_free(&r->body);
    else
        buf_reset(&r->body);
    if (c->hdr.cap > HTTP_KEEP_BUF_BYTES)
        buf_free(&c->hdr);
    else
        buf_reset(&c->hdr);
    r->method = NULL;
    r->url = r->path = r->query = (struct str){"", 0};
    r->n_headers = 0;
    r->http_minor = 1;
    r->keep_alive = 1;
    r->user = NULL;
    c->url_len = 0;
    c->in_field = false;
    c->reject = REJ_NONE;
    c->abort_cb = c->drain_cb = NULL;
    c->abort_ud = c->drain_ud = NULL;
    c->resp_started = c->resp_chunked = c->resp_nobody = c->head_pending = false;
    c->above_high = c->is_head = c->close_after = false;
    c->resp_left = -1;
}

static int on_message_begin(http_parser *p)
{
    struct http_conn *c = p->data;
    req_reset(c);
    c->phase = PH_HEADERS;
    c->phase_due = deadline(c, c->srv->lim->header_timeout_ms);
    c->req.start_ns = time_now_ns();
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    buf_append(&c->hdr, at, len);
    c->url_len += len;
    return 0;
}

/* Trailers of a chunked body are counted against max_header_bytes and dropped. */
static int on_trailer(struct http_conn *c, size_t len)
{
    c->header_bytes += len;
    if (c->header_bytes > c->srv->lim->max_header_bytes) {
        c->reject = REJ_TRAILERS;
        return -1;
    }
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    if (c->phase != PH_HEADERS)
        return on_trailer(c, len);
    struct http_request *r = &c->req;
    if (!c->in_field) {
        if (r->n_headers >= HTTP_MAX_HEADERS || r->n_headers >= c->srv->lim->max_header_count) {
            c->reject = REJ_MANY_HEADERS;
            return -1;
        }
        struct http_header *h = &r->headers[r->n_headers++];
        h->name = h->value = (struct str){NULL, 0};
        c->in_field = true;
    }
    buf_append(&c->hdr, at, len);
    r->headers[r->n_headers - 1].name.len += len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    if (c->phase != PH_HEADERS)
        return on_trailer(c, len);
    struct http_request *r = &c->req;
    c->in_field = false;
    if (r->n_headers == 0)
        return 0;
    buf_append(&c->hdr, at, len);
    r->headers[r->n_headers - 1].value.len += len;
    return 0;
}

/* Splits the request target into path and query (absolute-form targets lose scheme and host). */
static void req_split_url(struct http_request *r)
{
    const char *p = r->url.p, *end = p + r->url.len;
    if (str_starts(r->url, "http://") || str_starts(r->url, "https://")) {
        const char *s = (const char *)memchr(p, ':', r->url.len) + 3;
        const char *slash = memchr(s, '/', (size_t)(end - s));
        const char *q = memchr(s, '?', (size_t)(end - s));
        p = slash && (!q || slash < q) ? slash : (q ? q : end);
    }
    const char *q = memchr(p, '?', (size_t)(end - p));
    const char *pe = q ? q : end;
    const char *hash = memchr(p, '#', (size_t)(end - p));
    if (hash && hash < pe)
        pe = hash;
    r->path = (struct str){p, (size_t)(pe - p)};
    if (q) {
        const char *qe = memchr(q + 1, '#', (size_t)(end - q - 1));
        r->query = (struct str){q + 1, (size_t)((qe ? qe : end) - q - 1)};
    } else {
        r->query = (struct str){end, 0};
    }
}

static int on_headers_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    struct http_request *r = &c->req;
    const struct limits *lim = c->srv->lim;
    const char *base = c->hdr.data ? c->hdr.data : "";
    size_t off = c->url_len;
    r->url = (struct str){base, c->url_len};
    for (size_t i = 0; i < r->n_headers; i++) {
        r->headers[i].name.p = base + off;
        off += r->headers[i].name.len;
        r->headers[i].value.p = base + off;
        off += r->headers[i].value.len;
    }
    req_split_url(r);
    r->method = http_method_str((enum http_method)p->method);
    r->http_minor = p->http_major == 1 ? p->http_minor : 1;
    r->keep_alive = http_should_keep_alive(p);
    c->is_head = p->method == HTTP_HEAD;
    c->phase = PH_BODY;
    c->phase_due = deadline(c, lim->body_timeout_ms);

    bool chunked = (p->flags & F_CHUNKED) != 0;
    bool has_len = !chunked && p->content_length != ULLONG_MAX && p->content_length > 0;
    if (has_len && p->content_length > lim->max_body_bytes) {
        c->reject = REJ_BODY;
        return -1;
    }
    if (has_len)
        buf_reserve(&r->body, (size_t)p->content_length);
    if ((chunked || has_len) && p->http_major == 1 && p->http_minor >= 1) {
        const struct str *e = http_request_header(r, "expect");
        if (e && str_eq_ci(*e, "100-continue"))
            conn_write_raw(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    if (buf_append_capped(&c->req.body, at, len, c->srv->lim->max_body_bytes) != 0) {
        c->reject = REJ_BODY;
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    c->msg_done = true;
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

static void conn_reject_headers(struct http_conn *c)
{
    struct buf m = BUF_INIT;
    buf_printf(&m, "request headers exceed %zu bytes; raise limits.max_header_bytes",
               c->srv->lim->max_header_bytes);
    conn_reject(c, 431, "request_header_fields_too_large", m.data);
    buf_free(&m);
}

static void conn_parse_error(struct http_conn *c, enum http_errno e)
{
    struct buf m = BUF_INIT;
    switch (c->reject) {
    case REJ_BODY:
        buf_printf(&m, "request body exceeds %zu bytes; raise limits.max_body_bytes",
                   c->srv->lim->max_body_bytes);
        conn_reject(c, 413, "request_too_large", m.data);
        break;
    case REJ_MANY_HEADERS:
        buf_printf(&m, "request has more than %zu header fields; raise limits.max_header_count (at most %d)",
                   c->srv->lim->max_header_count < HTTP_MAX_HEADERS ? c->srv->lim->max_header_count
                                                                    : (size_t)HTTP_MAX_HEADERS,
                   HTTP_MAX_HEADERS);
        conn_reject(c, 431, "request_header_fields_too_large", m.data);
        break;
    case REJ_TRAILERS:
        conn_reject_headers(c);
        break;
    case REJ_NONE:
        if (e == HPE_HEADER_OVERFLOW) {
            conn_reject_headers(c);
            break;
        }
        buf_printf(&m, "malformed HTTP request: %s (%s)", http_errno_description(e),
                   http_errno_name(e));
        conn_reject(c, 400, "bad_request", m.data);
        break;
    }
    buf_free(&m);
}

static void conn_dispatch(struct http_conn *c)
{
    struct http_server *s = c->srv;
    c->phase = PH_HANDLING;
    c->phase_due = 0;
    c->header_bytes = 0;
    if (c->parser.upgrade)
        c->req.keep_alive = 0; /* no protocol switch here: answer, then close */
    if (!c->req.body.data) {
        buf_reserve(&c->req.body, 0);
        c->req.body.data[0] = '\0';
    }
    c->req_held = true;
    s->inflight++;
    s->handler(&c->req, s->ud);
}

/* Parses data, dispatching each complete request; stops while a request is held, when output is
 * backed up before a new request, or when the connection is closing. Returns the bytes consumed. */
static size_t conn_parse(struct http_conn *c, const char *data, size_t len)
{
    size_t off = 0, max_hdr = c->srv->lim->max_header_bytes;
    c->in_process++;
    while (off < len && !conn_stopped(c) && !c->req_held) {
        if (c->phase == PH_IDLE && output_blocked(c))
            break;
        if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED)
            http_parser_pause(&c->parser, 0);
        bool in_head = c->phase == PH_IDLE || c->phase == PH_HEADERS;
        size_t n = len - off;
        if (in_head && n > max_hdr - c->header_bytes)
            n = max_hdr - c->header_bytes;
        size_t got = http_parser_execute(&c->parser, &parser_settings, data + off, n);
        off += got;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e != HPE_OK && e != HPE_PAUSED) {
            conn_parse_error(c, e);
            break;
        }
        if (c->msg_done) {
            c->msg_done = false;
            conn_dispatch(c);
            continue;
        }
        if (c->phase == PH_IDLE || c->phase == PH_HEADERS) {
            c->header_bytes += got;
            if (c->header_bytes >= max_hdr) {
                conn_reject_headers(c);
                break;
            }
        }
    }
    c->in_process--;
    return off;
}

static size_t conn_in_bound(const struct http_conn *c)
{
    size_t b = c->srv->lim->max_header_bytes;
    return b < HTTP_MIN_IN_BOUND ? HTTP_MIN_IN_BOUND : b;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct http_conn *c = h->data;
    (void)suggested;
    *b = uv_buf_init(c->srv->rbuf, HTTP_READ_BUF_BYTES);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct http_conn *c = st->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        /* EOF counts as a disconnect: upstream work for a held request is cancelled */
        conn_close(c);
        return;
    }
    if (c->failed || c->phase == PH_CLOSING || c->phase == PH_LINGER)
        return;
    size_t n = (size_t)nread;
    if (c->phase == PH_BODY)
        c->phase_due = deadline(c, c->srv->lim->body_timeout_ms);
    if (c->in.len) {
        buf_append(&c->in, b->base, n);
        size_t used = conn_parse(c, c->in.data, c->in.len);
        if (conn_stopped(c))
            buf_reset(&c->in);
        else
            buf_consume(&c->in, used);
    } else {
        size_t used = conn_parse(c, b->base, n);
        if (used < n && !conn_stopped(c))
            buf_append(&c->in, b->base + used, n - used);
    }
    conn_after_io(c);
}

/* Brings reading, the linger shutdown and the timer in line with the connection's state. */
static void conn_after_io(struct http_conn *c)
{
    if (c->closing)
        return;
    if (c->phase == PH_LINGER && c->phase_due == 0 && !c->failed) {
        c->phase_due = deadline(c, HTTP_LINGER_MS);
        c->shutdown.data = c;
        if (uv_shutdown(&c->shutdown, &c->io.stream, on_shutdown) != 0) {
            conn_close(c);
            return;
        }
    }
    bool want = c->phase == PH_CLOSING || c->phase == PH_LINGER || c->in.len < conn_in_bound(c);
    if (want && !c->reading) {
        if (uv_read_start(&c->io.stream, on_alloc, on_read) == 0)
            c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop(&c->io.stream);
        c->reading = false;
    }
    if (c->in.len == 0 && c->in.cap > HTTP_KEEP_BUF_BYTES)
        buf_free(&c->in);
    conn_timer_update(c);
}

/* Parses what was left over once the connection may go on (answer ended, output drained). */
static void conn_resume(struct http_conn *c)
{
    if (c->closing || c->in_process)
        return;
    if (c->in.len && !conn_stopped(c) && !c->req_held) {
        size_t used = conn_parse(c, c->in.data, c->in.len);
        if (conn_stopped(c))
            buf_reset(&c->in);
        else
            buf_consume(&c->in, used);
    }
    conn_after_io(c);
}

static void on_timer(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    c->timer_due = 0;
    if (c->closing)
        return;
    if (c->failed) {
        conn_close(c);
        return;
    }
    const struct limits *lim = c->srv->lim;
    uint64_t now = loop_now(c);
    if (c->queued && lim->write_timeout_ms && now >= c->write_progress + lim->write_timeout_ms) {
        log_debug("http: client did not read for %zu ms; closing (limits.write_timeout_ms)",
                  lim->write_timeout_ms);
        conn_close(c);
        return;
    }
    if (c->phase_due && now >= c->phase_due && !(c->phase == PH_IDLE && c->queued)) {
        struct buf m = BUF_INIT;
        switch (c->phase) {
        case PH_HEADERS:
            buf_printf(&m, "request headers not received within %zu ms; raise limits.header_timeout_ms",
                       lim->header_timeout_ms);
            conn_reject(c, 408, "request_timeout", m.data);
            break;
        case PH_BODY:
            buf_printf(&m, "request body stalled for more than %zu ms; raise limits.body_timeout_ms",
                       lim->body_timeout_ms);
            conn_reject(c, 408, "request_timeout", m.data);
            break;
        default: /* idle keep-alive, linger, or a new connection that never sent a byte */
            conn_close(c);
            break;
        }
        buf_free(&m);
        if (c->closing)
            return;
    }
    conn_timer_update(c);
}

/* ---- connections ---------------------------------------------------------------------------- */

/* Allocates a connection with its timer; the caller initialises c->io, then calls conn_open or
 * conn_close. */
static struct http_conn *conn_new(struct http_server *s)
{
    struct http_conn *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    c->req.conn = c;
    c->resp_left = -1;
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->handles_open = 2;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_open++;
    s->n_alive++;
    return c;
}

static void conn_open(struct http_conn *c)
{
    c->io.handle.data = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->phase = PH_IDLE;
    /* a new connection gets header_timeout_ms for its first byte */
    c->phase_due = deadline(c, c->srv->lim->header_timeout_ms);
    conn_after_io(c);
}

static void on_free_handle(uv_handle_t *h)
{
    free(h);
}

static void on_connection(uv_stream_t *l, int status)
{
    struct http_server *s = l->data;
    if (status < 0) {
        log_warn("http: accept failed: %s", uv_strerror(status));
        return;
    }
    if (s->stopping || s->n_open >= s->lim->max_connections) {
        uv_tcp_t *t = xmalloc(sizeof(*t));
        uv_tcp_init(s->loop, t);
        if (uv_accept(l, (uv_stream_t *)t) == 0 && !s->stopping)
            log_debug("http: connection refused: %zu open (limits.max_connections)", s->n_open);
        uv_close((uv_handle_t *)t, on_free_handle);
        return;
    }
    struct http_conn *c = conn_new(s);
    uv_tcp_init(s->loop, &c->io.tcp);
    c->io.handle.data = c;
    if (uv_accept(l, &c->io.stream) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->io.tcp, 1);
    conn_open(c);
}

int http_server_adopt(struct http_server *s, uv_os_sock_t fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int r;
    if (s->stopping || s->n_open >= s->lim->max_connections) {
        close(fd);
        return UV_EBUSY;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        r = -errno;
        close(fd);
        return r;
    }
    struct http_conn *c = conn_new(s);
    bool tcp = ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
    if (tcp) {
        uv_tcp_init(s->loop, &c->io.tcp);
        r = uv_tcp_open(&c->io.tcp, fd);
        if (r == 0)
            uv_tcp_nodelay(&c->io.tcp, 1);
    } else {
        uv_pipe_init(s->loop, &c->io.pipe, 0);
        r = uv_pipe_open(&c->io.pipe, fd);
    }
    c->io.handle.data = c;
    if (r != 0) {
        close(fd);
        conn_close(c);
        return r;
    }
    conn_open(c);
    return 0;
}

/* ---- server --------------------------------------------------------------------------------- */

static pthread_once_t http_once = PTHREAD_ONCE_INIT;

static void http_global_init(void)
{
    /* our own max_header_bytes is enforced on the raw stream; lift the parser's 80 KiB cap */
    http_parser_set_max_header_size(0x7fffffff);
    /* a write to a closed socket must be an EPIPE error, not the end of the process */
    signal(SIGPIPE, SIG_IGN);
}

static void on_listener_close(uv_handle_t *h)
{
    struct http_server *s = h->data;
    s->listener_open = false;
    server_maybe_free(s);
}

static void server_close_listener(struct http_server *s)
{
    if (s->listener_open && !s->listener_closing) {
        s->listener_closing = true;
        uv_close((uv_handle_t *)&s->listener, on_listener_close);
    }
}

int http_server_start(uv_loop_t *loop, const struct http_server_opts *o, struct http_server **out)
{
    int result = UV_EINVAL, fd = -1, one = 1;
    struct sockaddr_storage ss;
    socklen_t sl;
    struct http_server *s = NULL;
    *out = NULL;
    if (!loop || !o || !o->limits || !o->handler || o->port < 0 || o->port > 65535)
        goto out;
    pthread_once(&http_once, http_global_init);

    const char *host = o->host && *o->host ? o->host : "0.0.0.0";
    memset(&ss, 0, sizeof(ss));
    if (strchr(host, ':')) {
        result = uv_ip6_addr(host, o->port, (struct sockaddr_in6 *)&ss);
        sl = sizeof(struct sockaddr_in6);
    } else {
        result = uv_ip4_addr(host, o->port, (struct sockaddr_in *)&ss);
        sl = sizeof(struct sockaddr_in);
    }
    if (result != 0)
        goto out;
    /* the socket is made here so that SO_REUSEPORT precedes bind and every failure is synchronous */
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (o->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, HTTP_LISTEN_BACKLOG) != 0) {
        result = -errno;
        goto out;
    }
    sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        result = -errno;
        goto out;
    }

    s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->lim = o->limits;
    s->handler = o->handler;
    s->ud = o->ud;
    s->rbuf = xmalloc(HTTP_READ_BUF_BYTES);
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->listener_open = true;
    result = uv_tcp_open(&s->listener, fd);
    if (result == 0) {
        fd = -1; /* the handle owns it now */
        result = uv_listen((uv_stream_t *)&s->listener, HTTP_LISTEN_BACKLOG, on_connection);
    }
    if (result != 0) {
        /* the handle exists: the server is freed by its close callback */
        s->closing = s->stopping = true;
        server_close_listener(s);
        s = NULL;
        goto out;
    }
    *out = s;
    s = NULL;
out:
    if (fd >= 0)
        close(fd);
    return result;
}

int http_server_port(const struct http_server *s)
{
    return s->port;
}

void http_server_stop_accepting(struct http_server *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    server_close_listener(s);
    struct http_conn *next;
    for (struct http_conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->req_held || c->phase != PH_IDLE || c->in.len || conn_stopped(c))
            continue; /* closed once the current answer has ended */
        if (c->queued)
            conn_close_graceful(c);
        else
            conn_close(c);
    }
}

size_t http_server_connections(const struct http_server *s)
{
    return s->n_open;
}

size_t http_server_inflight(const struct http_server *s)
{
    return s->inflight;
}

void http_server_close(struct http_server *s)
{
    if (s->closing)
        return;
    s->closing = s->stopping = true;
    server_close_listener(s);
    while (s->conns)
        conn_close(s->conns);
    server_maybe_free(s);
}

/* ---- requests and responses ----------------------------------------------------------------- */

const struct str *http_request_header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (str_eq_ci(req->headers[i].name, name))
            return &req->headers[i].value;
    return NULL;
}

void http_request_on_abort(struct http_request *req, http_event_fn cb, void *ud)
{
    req->conn->abort_cb = cb;
    req->conn->abort_ud = ud;
}

void http_request_on_drain(struct http_request *req, http_event_fn cb, void *ud)
{
    req->conn->drain_cb = cb;
    req->conn->drain_ud = ud;
}

int http_request_aborted(const struct http_request *req)
{
    return req->conn->closing || req->conn->failed;
}

static bool header_is_framing(struct str name)
{
    return str_eq_ci(name, "content-length") || str_eq_ci(name, "transfer-encoding") ||
           str_eq_ci(name, "connection");
}

static void response_begin(struct http_request *req, int status, const char *ctype,
                           const struct http_header *headers, size_t n_headers, long long clen)
{
    struct http_conn *c = req->conn;
    if (!c->req_held || c->resp_started)
        return;
    c->resp_started = true;
    if (c->closing || c->failed)
        return;
    if (status < 100 || status > 999)
        status = 500;
    bool no_body = status < 200 || status == 204 || status == 304;
    c->resp_nobody = no_body || c->is_head;
    c->resp_chunked = false;
    c->resp_left = -1;
    if (!req->keep_alive || c->srv->stopping)
        c->close_after = true;

    struct buf *b = &c->head;
    buf_reset(b);
    buf_reserve(b, 128);
    buf_puts(b, "HTTP/1.1 ");
    buf_put_dec(b, (unsigned)status);
    buf_putc(b, ' ');
    buf_puts(b, http_status_text(status));
    buf_puts(b, "\r\n");
    if (ctype) {
        buf_puts(b, "Content-Type: ");
        buf_puts(b, ctype);
        buf_puts(b, "\r\n");
    }
    for (size_t i = 0; i < n_headers; i++) {
        if (header_is_framing(headers[i].name))
            continue; /* framing is ours */
        buf_put_str(b, headers[i].name);
        buf_puts(b, ": ");
        buf_put_str(b, headers[i].value);
        buf_puts(b, "\r\n");
    }
    if (!no_body) {
        if (clen >= 0) {
            buf_puts(b, "Content-Length: ");
            buf_put_dec(b, (unsigned long long)clen);
            buf_puts(b, "\r\n");
            c->resp_left = c->is_head ? 0 : clen;
        } else if (c->is_head) {
            c->resp_left = 0;
        } else if (req->http_minor >= 1) {
            buf_puts(b, "Transfer-Encoding: chunked\r\n");
            c->resp_chunked = true;
        } else {
            c->close_after = true; /* HTTP/1.0: the body ends with the connection */
        }
    }
    if (c->close_after)
        buf_puts(b, "Connection: close\r\n");
    else if (req->http_minor == 0)
        buf_puts(b, "Connection: keep-alive\r\n");
    buf_puts(b, "\r\n");
    c->head_pending = true;
}

void http_response_start(struct http_request *req, int status, const struct http_header *headers,
                         size_t n_headers, long long content_length)
{
    response_begin(req, status, NULL, headers, n_headers, content_length);
}

static size_t response_write(struct http_request *req, const void *data, size_t len, bool last);

size_t http_response_write(struct http_request *req, const void *data, size_t len)
{
    return response_write(req, data, len, false);
}

void http_response_finish(struct http_request *req, const void *data, size_t len)
{
    response_write(req, data, len, true);
    http_response_end(req);
}

/* Queues body bytes; with last, a chunked answer's terminator goes in the same write and
 * http_response_end will not send it again. */
static size_t response_write(struct http_request *req, const void *data, size_t len, bool last)
{
    struct http_conn *c = req->conn;
    if (!c->req_held)
        return 0;
    if (!c->resp_started)
        response_begin(req, 200, NULL, NULL, 0, -1);
    if (c->closing || c->failed)
        return 0;
    if (c->resp_nobody || (len == 0 && !last))
        return c->queued;
    if (c->resp_left >= 0) {
        if ((unsigned long long)len > (unsigned long long)c->resp_left)
            len = (size_t)c->resp_left; /* more than Content-Length would corrupt the stream */
        c->resp_left -= (long long)len;
        if (len == 0)
            return c->queued;
    }
    uv_buf_t bufs[5];
    unsigned n = 0;
    char pre[24];
    if (c->head_pending) {
        bufs[n++] = uv_buf_init(c->head.data, (unsigned)c->head.len);
        c->head_pending = false;
    }
    if (c->resp_chunked) {
        if (len) {
            size_t k = fmt_hex(pre, len);
            pre[k++] = '\r';
            pre[k++] = '\n';
            bufs[n++] = uv_buf_init(pre, (unsigned)k);
            bufs[n++] = uv_buf_init((char *)data, (unsigned)len);
            bufs[n++] = uv_buf_init((char *)"\r\n", 2);
        }
        if (last) {
            bufs[n++] = uv_buf_init((char *)"0\r\n\r\n", 5);
            c->resp_chunked = false; /* the terminator is out; end must not send it again */
        }
    } else if (len) {
        bufs[n++] = uv_buf_init((char *)data, (unsigned)len);
    }
    if (n)
        conn_write(c, bufs, n);
    if (c->queued > c->srv->lim->stream_buffer_bytes)
        c->above_high = true;
    return c->queued;
}

void http_response_end(struct http_request *req)
{
    struct http_conn *c = req->conn;
    struct http_server *s = c->srv;
    if (!c->req_held)
        return;
    if (!c->closing && !c->failed) {
        if (!c->resp_started) {
            static const char body[] =
                "{\"error\":{\"message\":\"the handler ended without an answer\",\"type\":"
                "\"server_error\",\"param\":null,\"code\":\"internal_error\"}}\n";
            response_begin(req, 500, "application/json", NULL, 0, (long long)sizeof(body) - 1);
            http_response_write(req, body, sizeof(body) - 1);
        }
        uv_buf_t bufs[2];
        unsigned n = 0;
        if (c->head_pending) {
            bufs[n++] = uv_buf_init(c->head.data, (unsigned)c->head.len);
            c->head_pending = false;
        }
        if (c->resp_chunked)
            bufs[n++] = uv_buf_init((char *)"0\r\n\r\n", 5);
        if (n)
            conn_write(c, bufs, n);
        if (c->resp_left > 0)
            c->close_after = true; /* short of Content-Length: the framing is lost */
    }
    c->req_held = false;
    s->inflight--;
    c->abort_cb = c->drain_cb = NULL;
    if (c->closing || c->failed) {
        conn_maybe_free(c);
        return;
    }
    if (c->head.cap > HTTP_KEEP_BUF_BYTES)
        buf_free(&c->head);
    if (c->queued && c->last_wreq && !c->last_wreq->ends_answer) {
        c->last_wreq->ends_answer = true;
        c->unflushed++;
    }
    if (c->close_after || s->stopping) {
        conn_close_graceful(c);
        return;
    }
    c->phase = PH_IDLE;
    c->phase_due = deadline(c, s->lim->idle_timeout_ms);
    if (!c->in_process)
        conn_resume(c);
}

void http_respond(struct http_request *req, int status, const char *content_type, const void *body,
                  size_t len, const struct http_header *headers, size_t n_headers)
{
    response_begin(req, status, content_type, headers, n_headers, (long long)len);
    if (len)
        http_response_write(req, body, len);
    http_response_end(req);
}
