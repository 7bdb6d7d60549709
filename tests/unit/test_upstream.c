/* Tests for the upstream client (src/net/upstream.c) against a tiny HTTP/1.1 server that runs on the
 * same libuv loop. The server's routes:
 *   /echo           the request body back, with X-Echo-Method, X-Echo-Test and a folded header
 *   /json           a small JSON body
 *   /sse?n=N&ms=M   N events ("data: i\n\n"), one chunk every M ms, chunked encoding
 *   /burst?n=N      N events in one write
 *   /slow?ms=M      headers only after M ms
 *   /stall          headers and one event, then nothing
 *   /close          Content-Length 100, 10 bytes, then the server closes
 *   /big?n=N        N bytes of a pattern
 *   /early100       "100 Continue" before the real answer
 *   /status?code=C  status C with a short body
 *   /bighdr         more header bytes than UPSTREAM_MAX_HEADER_BYTES
 * It counts accepted connections and connections the client closed (EOF or reset). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "net/upstream.h"

/* ---- the server ---- */

enum route { R_NONE, R_ECHO, R_JSON, R_SSE, R_BURST, R_SLOW, R_STALL, R_CLOSE, R_BIG, R_EARLY100,
             R_STATUS, R_BIGHDR };

struct conn;

struct srv {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    int port;
    int accepts;
    int disconnects; /* connections the client closed */
    int requests;
    int saw_expect;
    int saw_form_type;
    struct conn *conns;
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct srv *s;
    struct buf in;
    int busy;
    int closed;
    int handles;
    enum route route;
    int n, i, ms;
    struct conn *prev, *next;
};

struct wreq {
    uv_write_t req;
    struct conn *c;
    int close_after;
    char data[];
};

static void conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->handles == 0) {
        buf_free(&c->in);
        free(c);
    }
}

static void conn_close(struct conn *c)
{
    if (c->closed)
        return;
    c->closed = 1;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void conn_write_cb(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    (void)status;
    if (w->close_after)
        conn_close(w->c);
    free(w);
}

static void conn_write_ex(struct conn *c, const void *data, size_t len, int close_after)
{
    if (c->closed)
        return;
    struct wreq *w = malloc(sizeof(*w) + len);
    assert_non_null(w);
    memcpy(w->data, data, len);
    w->c = c;
    w->close_after = close_after;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, conn_write_cb) != 0)
        free(w);
}

static void conn_write(struct conn *c, const char *s)
{
    conn_write_ex(c, s, strlen(s), 0);
}

static void conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_printf(struct conn *c, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    conn_write_ex(c, b.data, b.len, 0);
    buf_free(&b);
}

static void conn_process(struct conn *c);

static void conn_end_response(struct conn *c)
{
    c->busy = 0;
    c->route = R_NONE;
    conn_process(c);
}

static void sse_chunk(struct conn *c, int i)
{
    char ev[32];
    int n = snprintf(ev, sizeof(ev), "data: %d\n\n", i);
    conn_printf(c, "%x\r\n%s\r\n", n, ev);
}

static void conn_timer_cb(uv_timer_t *t)
{
    struct conn *c = t->data;
    switch (c->route) {
    case R_SSE:
        sse_chunk(c, c->i++);
        if (c->i >= c->n) {
            uv_timer_stop(&c->timer);
            conn_write(c, "0\r\n\r\n");
            conn_end_response(c);
        }
        break;
    case R_SLOW:
        conn_write(c, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}");
        conn_end_response(c);
        break;
    default:
        break;
    }
}

static int query_int(const char *target, size_t tlen, const char *key, int def)
{
    size_t klen = strlen(key);
    const char *q = memchr(target, '?', tlen);
    while (q && q < target + tlen) {
        q++;
        if ((size_t)(target + tlen - q) > klen && memcmp(q, key, klen) == 0 && q[klen] == '=')
            return atoi(q + klen + 1);
        q = memchr(q, '&', (size_t)(target + tlen - q));
    }
    return def;
}

static int starts(const char *p, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n >= m && strncasecmp(p, lit, m) == 0;
}

/* Handles one complete request already in c->in; returns the bytes it used, or 0 when incomplete. */
static size_t conn_request(struct conn *c)
{
    const char *d = c->in.data;
    const char *end = memmem(d, c->in.len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head_len = (size_t)(end - d) + 4;
    const char *sp1 = memchr(d, ' ', head_len);
    assert_non_null(sp1);
    const char *sp2 = memchr(sp1 + 1, ' ', head_len - (size_t)(sp1 + 1 - d));
    assert_non_null(sp2);
    char method[16] = {0};
    memcpy(method, d, (size_t)(sp1 - d) < 15 ? (size_t)(sp1 - d) : 15);
    const char *target = sp1 + 1;
    size_t tlen = (size_t)(sp2 - target);
    size_t clen = 0;
    char xtest[64] = {0};
    const char *l = (const char *)memchr(d, '\n', head_len) + 1;
    while (l < end + 2) {
        const char *eol = memmem(l, (size_t)(end + 2 - l), "\r\n", 2);
        size_t ll = (size_t)(eol - l);
        if (starts(l, ll, "content-length:"))
            clen = (size_t)atol(l + 15);
        if (starts(l, ll, "expect:"))
            c->s->saw_expect = 1;
        if (starts(l, ll, "content-type: application/x-www-form-urlencoded"))
            c->s->saw_form_type = 1;
        if (starts(l, ll, "x-test: "))
            memcpy(xtest, l + 8, ll - 8 < 63 ? ll - 8 : 63);
        l = eol + 2;
    }
    if (c->in.len < head_len + clen)
        return 0;
    const char *body = d + head_len;
    c->s->requests++;
    c->busy = 1;
    if (starts(target, tlen, "/echo")) {
        conn_printf(c,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Echo-Method: %s\r\n"
                    "X-Echo-Test:  %s \r\nX-Folded: a\r\n   b\r\nContent-Length: %zu\r\n\r\n",
                    method, xtest, clen);
        conn_write_ex(c, body, clen, 0);
        c->busy = 0;
    } else if (starts(target, tlen, "/json")) {
        conn_write(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
                      "{\"ok\":true}");
        c->busy = 0;
    } else if (starts(target, tlen, "/sse")) {
        c->route = R_SSE;
        c->n = query_int(target, tlen, "n", 3);
        c->ms = query_int(target, tlen, "ms", 10);
        c->i = 0;
        conn_write(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n");
        uv_timer_start(&c->timer, conn_timer_cb, (uint64_t)c->ms, (uint64_t)c->ms);
    } else if (starts(target, tlen, "/burst")) {
        int n = query_int(target, tlen, "n", 100);
        struct buf b = BUF_INIT;
        buf_puts(&b, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
        for (int i = 0; i < n; i++) {
            char ev[32];
            int len = snprintf(ev, sizeof(ev), "data: %d\n\n", i);
            buf_printf(&b, "%x\r\n%s\r\n", len, ev);
        }
        buf_puts(&b, "0\r\n\r\n");
        conn_write_ex(c, b.data, b.len, 0);
        buf_free(&b);
        c->busy = 0;
    } else if (starts(target, tlen, "/slow")) {
        c->route = R_SLOW;
        uv_timer_start(&c->timer, conn_timer_cb, (uint64_t)query_int(target, tlen, "ms", 500), 0);
    } else if (starts(target, tlen, "/stall")) {
        c->route = R_STALL;
        conn_write(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n");
        sse_chunk(c, 0);
    } else if (starts(target, tlen, "/close")) {
        c->route = R_CLOSE;
        conn_write(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
        conn_write_ex(c, "0123456789", 10, 1);
    } else if (starts(target, tlen, "/big?")) {
        size_t n = (size_t)query_int(target, tlen, "n", 1 << 20);
        char *p = malloc(n);
        for (size_t i = 0; i < n; i++)
            p[i] = (char)('a' + i % 26);
        conn_printf(c, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
        conn_write_ex(c, p, n, 0);
        free(p);
        c->busy = 0;
    } else if (starts(target, tlen, "/early100")) {
        conn_write(c, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                      "HTTP/1.1 200 OK\r\nX-Final: 1\r\nContent-Length: 2\r\n\r\nok");
        c->busy = 0;
    } else if (starts(target, tlen, "/status")) {
        int code = query_int(target, tlen, "code", 503);
        conn_printf(c, "HTTP/1.1 %d Whatever\r\nContent-Length: 5\r\n\r\nbusy!", code);
        c->busy = 0;
    } else if (starts(target, tlen, "/bighdr")) {
        struct buf b = BUF_INIT;
        buf_puts(&b, "HTTP/1.1 200 OK\r\n");
        for (int i = 0; i < 10; i++) {
            buf_printf(&b, "X-Big-%d: ", i);
            for (int j = 0; j < 8000; j++)
                buf_putc(&b, 'x');
            buf_puts(&b, "\r\n");
        }
        buf_puts(&b, "Content-Length: 2\r\n\r\nok");
        conn_write_ex(c, b.data, b.len, 0);
        buf_free(&b);
        c->busy = 0;
    } else {
        conn_write(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        c->busy = 0;
    }
    return head_len + clen;
}

static void conn_process(struct conn *c)
{
    while (!c->busy && !c->closed && c->in.len) {
        size_t used = conn_request(c);
        if (!used)
            return;
        buf_consume(&c->in, used);
    }
}

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(suggested);
    b->len = suggested;
}

static void conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = st->data;
    if (nread > 0) {
        buf_append(&c->in, b->base, (size_t)nread);
        conn_process(c);
    } else if (nread < 0 && !c->closed) {
        c->s->disconnects++;
        conn_close(c);
    }
    free(b->base);
}

static void srv_conn_cb(uv_stream_t *server, int status)
{
    struct srv *s = server->data;
    assert_int_equal(status, 0);
    struct conn *c = calloc(1, sizeof(*c));
    c->s = s;
    buf_init(&c->in);
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&c->tcp), 0);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->accepts++;
    uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb);
}

static void srv_start(struct srv *s, uv_loop_t *loop)
{
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof(got);
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    uv_tcp_init(loop, &s->tcp);
    s->tcp.data = s;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&s->tcp, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->tcp, 512, srv_conn_cb), 0);
    uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&got, &len);
    s->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

static void srv_stop(struct srv *s)
{
    while (s->conns)
        conn_close(s->conns);
    uv_close((uv_handle_t *)&s->tcp, NULL);
}

/* ---- the client side ---- */

#define MAX_TX 64

struct fx;

struct tx {
    struct fx *f;
    struct upstream_xfer *x;
    int status;
    struct buf body;
    struct buf hdrs; /* "name=value\n" per header */
    int headers_calls, data_calls, done_calls;
    enum upstream_result result;
    char msg[400];
    int cancelled;    /* the test cancelled it: no callback may follow */
    int after_cancel; /* callbacks seen after that */
    uint64_t t_start, t_done;
    /* behaviour */
    int pause;                  /* return UPSTREAM_PAUSE from every on_data */
    unsigned first_pause_ms, pause_ms;
    int pauses, resumes;
    uv_timer_t timer;
    int timer_inited;
    int cancel_at_data;         /* upstream_cancel(self) inside on_data at this call */
    int cancel_in_headers;
    int abort_at_data;
    int free_at_data;
    int start_at_data;          /* start child from inside on_data at this call */
    struct tx *child;
    struct tx *cancel_other;    /* cancelled from inside the first on_data */
    int chain_left;             /* start the same request again from on_done */
    const char *path, *method, *req_body;
    struct upstream_request req;
};

struct fx {
    uv_loop_t loop;
    struct srv srv;
    struct upstream *up;
    uv_timer_t guard;
    struct tx *txs[MAX_TX];
    int ntx;
    char url[MAX_TX][128];
};

static uint64_t now_ms(void)
{
    return time_now_ns() / 1000000u;
}

static void guard_cb(uv_timer_t *t)
{
    (void)t;
}

#define RUN_UNTIL(f, cond, ms)                                               \
    do {                                                                     \
        uint64_t end_ = now_ms() + (ms);                                     \
        uv_timer_start(&(f)->guard, guard_cb, (ms), 0);                      \
        while (!(cond) && now_ms() < end_)                                   \
            uv_run(&(f)->loop, UV_RUN_ONCE);                                 \
        uv_timer_stop(&(f)->guard);                                          \
    } while (0)

/* Runs the loop for ms milliseconds. */
static void run_for(struct fx *f, unsigned ms)
{
    RUN_UNTIL(f, 0, ms);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->guard);
    srv_start(&f->srv, &f->loop);
    f->up = upstream_new(&f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    upstream_free(f->up);
    srv_stop(&f->srv);
    for (int i = 0; i < f->ntx; i++)
        if (f->txs[i]->timer_inited)
            uv_close((uv_handle_t *)&f->txs[i]->timer, NULL);
    uv_close((uv_handle_t *)&f->guard, NULL);
    uint64_t end = now_ms() + 3000;
    while (uv_loop_alive(&f->loop) && now_ms() < end)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    int rc = uv_loop_close(&f->loop);
    if (rc != 0)
        uv_print_all_handles(&f->loop, stderr);
    assert_int_equal(rc, 0);
    for (int i = 0; i < f->ntx; i++) {
        buf_free(&f->txs[i]->body);
        buf_free(&f->txs[i]->hdrs);
        free(f->txs[i]);
    }
    free(f);
    return 0;
}

static struct tx *tx_new(struct fx *f, const char *path)
{
    assert_true(f->ntx < MAX_TX);
    struct tx *t = calloc(1, sizeof(*t));
    t->f = f;
    t->path = path;
    t->method = "GET";
    buf_init(&t->body);
    buf_init(&t->hdrs);
    snprintf(f->url[f->ntx], sizeof(f->url[0]), "http://127.0.0.1:%d%s", f->srv.port, path);
    t->req.url = f->url[f->ntx];
    t->req.first_byte_timeout_ms = 5000;
    t->req.total_timeout_ms = 10000;
    t->req.idle_timeout_ms = 5000;
    t->req.connect_timeout_ms = 2000;
    f->txs[f->ntx++] = t;
    return t;
}

static void tx_resume_cb(uv_timer_t *timer)
{
    struct tx *t = timer->data;
    t->resumes++;
    upstream_resume(t->x);
}

static int tx_on_headers(void *ud, int status, const struct str *names, const struct str *values,
                         size_t n)
{
    struct tx *t = ud;
    if (t->cancelled)
        t->after_cancel++;
    t->headers_calls++;
    t->status = status;
    for (size_t i = 0; i < n; i++) {
        buf_append(&t->hdrs, names[i].p, names[i].len);
        buf_putc(&t->hdrs, '=');
        buf_append(&t->hdrs, values[i].p, values[i].len);
        buf_putc(&t->hdrs, '\n');
    }
    if (t->cancel_in_headers) {
        t->cancelled = 1;
        upstream_cancel(t->x);
    }
    return 0;
}

static int tx_start(struct tx *t);

static int tx_on_data(void *ud, const char *data, size_t len)
{
    struct tx *t = ud;
    if (t->cancelled)
        t->after_cancel++;
    t->data_calls++;
    buf_append(&t->body, data, len);
    if (t->cancel_at_data == t->data_calls) {
        t->cancelled = 1;
        upstream_cancel(t->x);
        return 0;
    }
    if (t->abort_at_data == t->data_calls)
        return UPSTREAM_ABORT;
    if (t->free_at_data == t->data_calls) {
        for (int i = 0; i < t->f->ntx; i++)
            t->f->txs[i]->cancelled = 1;
        upstream_free(t->f->up);
        t->f->up = NULL;
        return 0;
    }
    if (t->start_at_data == t->data_calls)
        assert_int_equal(tx_start(t->child), 0);
    if (t->cancel_other && t->data_calls == 1) {
        t->cancel_other->cancelled = 1;
        upstream_cancel(t->cancel_other->x);
    }
    if (t->pause) {
        if (!t->timer_inited) {
            uv_timer_init(&t->f->loop, &t->timer);
            t->timer.data = t;
            t->timer_inited = 1;
        }
        uv_timer_start(&t->timer, tx_resume_cb, t->pauses ? t->pause_ms : t->first_pause_ms, 0);
        t->pauses++;
        return UPSTREAM_PAUSE;
    }
    return 0;
}

static void tx_on_done(void *ud, enum upstream_result r, const char *msg)
{
    struct tx *t = ud;
    if (t->cancelled)
        t->after_cancel++;
    t->done_calls++;
    t->result = r;
    t->t_done = now_ms();
    assert_non_null(msg);
    snprintf(t->msg, sizeof(t->msg), "%s", msg);
    if (t->chain_left > 0) {
        t->chain_left--;
        buf_reset(&t->body);
        assert_int_equal(tx_start(t), 0);
    }
}

static const struct upstream_callbacks tx_cb = {tx_on_headers, tx_on_data, tx_on_done};

static int tx_start(struct tx *t)
{
    t->req.method = t->method;
    t->req.body = t->req_body;
    t->req.body_len = t->req_body ? strlen(t->req_body) : 0;
    t->t_start = now_ms();
    return upstream_start(t->f->up, &t->req, &tx_cb, t, &t->x);
}

static int tx_finished(struct tx *t)
{
    return t->done_calls > 0;
}

static int count_finished(struct tx **t, int n)
{
    int done = 0;
    for (int i = 0; i < n; i++)
        done += tx_finished(t[i]);
    return done;
}

#define ASSERT_RESULT(t, want)                                                              \
    do {                                                                                    \
        if ((t)->result != (want))                                                          \
            fail_msg("result %s (%s), want %s", upstream_result_str((t)->result), (t)->msg, \
                     upstream_result_str(want));                                            \
    } while (0)

static void expect_sse_body(struct tx *t, int n)
{
    struct buf want = BUF_INIT;
    for (int i = 0; i < n; i++)
        buf_printf(&want, "data: %d\n\n", i);
    buf_putc(&t->body, '\0');
    t->body.len--;
    assert_string_equal(t->body.data ? t->body.data : "", want.data ? want.data : "");
    buf_free(&want);
}

/* Waits until the server has seen n client disconnects, runs the loop a little longer, and checks
 * that t (cancelled, possibly NULL) got no callback afterwards and never saw on_done. */
static void expect_disconnects_then_silence(struct fx *f, int n, const struct tx *t)
{
    RUN_UNTIL(f, f->srv.disconnects == n, 3000);
    assert_int_equal(f->srv.disconnects, n);
    run_for(f, 100);
    if (t) {
        assert_int_equal(t->after_cancel, 0);
        assert_int_equal(t->done_calls, 0);
    }
}

/* ---- tests ---- */

static void test_post_echo(void **state)
{
    struct fx *f = *state;
    struct tx *t = tx_new(f, "/echo");
    static const char *const hdrs[] = {"X-Test: abc", "Content-Type: application/json", NULL};
    t->method = "POST";
    t->req_body = "{\"hello\":\"upstream\"}";
    t->req.headers = hdrs;
    assert_int_equal(tx_start(t), 0);
    assert_int_equal(upstream_active(f->up), 1);
    RUN_UNTIL(f, tx_finished(t), 3000);
    ASSERT_RESULT(t, UPSTREAM_OK);
    assert_string_equal(t->msg, "ok");
    assert_int_equal(t->status, 200);
    assert_int_equal(t->headers_calls, 1);
    assert_int_equal(t->done_calls, 1);
    buf_putc(&t->body, '\0');
    assert_string_equal(t->body.data, "{\"hello\":\"upstream\"}");
    buf_putc(&t->hdrs, '\0');
    assert_non_null(strstr(t->hdrs.data, "Content-Type=application/json\n"));
    assert_non_null(strstr(t->hdrs.data, "X-Echo-Method=POST\n"));
    assert_non_null(strstr(t->hdrs.data, "X-Echo-Test=abc\n"));
    assert_non_null(strstr(t->hdrs.data, "X-Folded=a b\n"));
    assert_int_equal(f->srv.saw_expect, 0);
    assert_int_equal(upstream_active(f->up), 0);
}

static void test_post_without_content_type(void **state)
{
    struct fx *f = *state;
    struct tx *t = tx_new(f, "/echo");
    t->method = "POST";
    t->req_body = "raw";
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 3000);
    ASSERT_RESULT(t, UPSTREAM_OK);
    assert_int_equal(f->srv.saw_form_type, 0);
    assert_int_equal(f->srv.saw_expect, 0);
}

static void test_get_and_status(void **state)
{
    struct fx *f = *state;
    struct tx *a = tx_new(f, "/json");
    struct tx *b = tx_new(f, "/status?code=503");
    struct tx *c = tx_new(f, "/early100");
    assert_int_equal(tx_start(a), 0);
    assert_int_equal(tx_start(b), 0);
    assert_int_equal(tx_start(c), 0);
    RUN_UNTIL(f, tx_finished(a) && tx_finished(b) && tx_finished(c), 3000);
    ASSERT_RESULT(a, UPSTREAM_OK);
    assert_int_equal(a->status, 200);
    ASSERT_RESULT(b, UPSTREAM_OK);
    assert_int_equal(b->status, 503);
    buf_putc(&b->body, '\0');
    assert_string_equal(b->body.data, "busy!");
    /* 1xx interim answers are skipped: one on_headers, with the final status and headers. */
    ASSERT_RESULT(c, UPSTREAM_OK);
    assert_int_equal(c->headers_calls, 1);
    assert_int_equal(c->status, 200);
    buf_putc(&c->hdrs, '\0');
    assert_null(strstr(c->hdrs.data, "X-Interim"));
    assert_non_null(strstr(c->hdrs.data, "X-Final=1\n"));
}

static void test_concurrent_50(void **state)
{
    struct fx *f = *state;
    struct tx *t[50];
    for (int i = 0; i < 50; i++) {
        t[i] = tx_new(f, "/sse?n=3&ms=10");
        assert_int_equal(tx_start(t[i]), 0);
    }
    assert_int_equal(upstream_active(f->up), 50);
    RUN_UNTIL(f, count_finished(t, 50) == 50, 5000);
    for (int i = 0; i < 50; i++) {
        ASSERT_RESULT(t[i], UPSTREAM_OK);
        assert_int_equal(t[i]->status, 200);
        expect_sse_body(t[i], 3);
    }
    assert_int_equal(upstream_active(f->up), 0);
}

static void test_connection_reuse(void **state)
{
    struct fx *f = *state;
    struct tx *t = tx_new(f, "/json");
    t->chain_left = 19;
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, t->done_calls == 20, 5000);
    assert_int_equal(t->done_calls, 20);
    ASSERT_RESULT(t, UPSTREAM_OK);
    assert_int_equal(f->srv.requests, 20);
    assert_int_equal(f->srv.accepts, 1);
}

/* Returns a TCP socket bound to 127.0.0.1 on a free port, and that address in *a. */
static int bound_socket(struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t alen = sizeof(*a);
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
    getsockname(fd, (struct sockaddr *)a, &alen);
    return fd;
}

/* A transfer to the root of another port on 127.0.0.1. */
static struct tx *tx_new_port(struct fx *f, int port)
{
    struct tx *t = tx_new(f, "/");
    snprintf(f->url[f->ntx - 1], sizeof(f->url[0]), "http://127.0.0.1:%d/", port);
    return t;
}

static void test_connect_refused(void **state)
{
    struct fx *f = *state;
    /* A port that was just free: bind, read the number, close. */
    struct sockaddr_in a;
    close(bound_socket(&a));
    struct tx *t = tx_new_port(f, ntohs(a.sin_port));
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 3000);
    ASSERT_RESULT(t, UPSTREAM_ERR_CONNECT);
    assert_int_equal(t->headers_calls, 0);
    assert_non_null(strstr(t->msg, "could not connect"));
}

static void test_connect_timeout(void **state)
{
    struct fx *f = *state;
    /* A listener whose accept queue is full drops new SYNs, so connect() hangs. */
    struct sockaddr_in a;
    int lfd = bound_socket(&a);
    assert_int_equal(listen(lfd, 0), 0);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof(a));
    }
    usleep(50 * 1000);
    struct tx *t = tx_new_port(f, ntohs(a.sin_port));
    t->req.connect_timeout_ms = 150;
    t->req.first_byte_timeout_ms = 3000;
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 3000);
    ASSERT_RESULT(t, UPSTREAM_ERR_CONNECT_TIMEOUT);
    uint64_t took = t->t_done - t->t_start;
    if (took < 100 || took > 1500)
        fail_msg("connect timeout after %llu ms, want about 150", (unsigned long long)took);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}

static void test_first_byte_timeout(void **state)
{
    struct fx *f = *state;
    struct tx *t = tx_new(f, "/slow?ms=2000");
    t->req.first_byte_timeout_ms = 150;
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 3000);
    ASSERT_RESULT(t, UPSTREAM_ERR_FIRST_BYTE_TIMEOUT);
    assert_int_equal(t->headers_calls, 0);
    uint64_t took = t->t_done - t->t_start;
    if (took < 140 || took > 1000)
        fail_msg("first-byte timeout after %llu ms, want about 150", (unsigned long long)took);
    /* The connection is closed, so the server sees it at once. */
    RUN_UNTIL(f, f->srv.disconnects == 1, 1000);
    assert_int_equal(f->srv.disconnects, 1);
    assert_int_equal(upstream_active(f->up), 0);
}

static void test_idle_timeout(void **state)
{
    struct fx *f = *state;
    struct tx *t = tx_new(f, "/stall");
    t->req.idle_timeout_ms = 150;
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 3000);
    ASSERT_RESULT(t, UPSTREAM_ERR_IDLE_TIMEOUT);
    assert_int_equal(t->status, 200);
    expect_sse_body(t, 1);
    RUN_UNTIL(f, f->srv.disconnects == 1, 1000);
    assert_int_equal(f->srv.disconnects, 1);
}

static void test_idle_timer_rearmed_per_chunk(void **state)
{
    struct fx *f = *state;
    /* 10 events 60 ms apart: 600 ms in all, but never a 150 ms gap. */
    struct tx *t = tx_new(f, "/sse?n=10&ms=60");
    t->req.idle_timeout_ms = 150;
    t->req.first_byte_timeout_ms = 150;
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 3000);
    ASSERT_RESULT(t, UPSTREAM_OK);
    expect_sse_body(t, 10);
}

static void test_total_timeout(void **state)
{
    struct fx *f = *state;
    struct tx *t = tx_new(f, "/sse?n=100&ms=20");
    t->req.total_timeout_ms = 200;
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 3000);
    ASSERT_RESULT(t, UPSTREAM_ERR_TOTAL_TIMEOUT);
    assert_true(t->data_calls > 0);
    uint64_t took = t->t_done - t->t_start;
    if (took < 190 || took > 1500)
        fail_msg("total timeout after %llu ms, want about 200", (unsigned long long)took);
}

static void test_mid_response_close(void **state)
{
    struct fx *f = *state;
    struct tx *t = tx_new(f, "/close");
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 3000);
    ASSERT_RESULT(t, UPSTREAM_ERR_IO);
    assert_int_equal(t->status, 200);
    buf_putc(&t->body, '\0');
    assert_string_equal(t->body.data, "0123456789");
}

static void test_pause_resume_stream(void **state)
{
    struct fx *f = *state;
    /* Paused for 300 ms at the first event with a 100 ms idle limit: the limit must not fire,
     * because the slowness is ours. */
    struct tx *t = tx_new(f, "/sse?n=20&ms=5");
    t->req.idle_timeout_ms = 100;
    t->pause = 1;
    t->first_pause_ms = 300;
    t->pause_ms = 1;
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 5000);
    ASSERT_RESULT(t, UPSTREAM_OK);
    expect_sse_body(t, 20);
    assert_int_equal(t->pauses, t->data_calls);
    assert_true(t->t_done - t->t_start >= 300);
}

static void test_pause_resume_burst(void **state)
{
    struct fx *f = *state;
    /* All events arrive in one read, so curl keeps the rest while paused and hands it over
     * synchronously on resume. */
    struct tx *t = tx_new(f, "/burst?n=300");
    t->pause = 1;
    t->first_pause_ms = 0;
    t->pause_ms = 0;
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 5000);
    ASSERT_RESULT(t, UPSTREAM_OK);
    expect_sse_body(t, 300);
    assert_int_equal(t->pauses, t->data_calls);
    assert_true(t->resumes >= t->pauses - 1);
}

static void test_pause_resume_big(void **state)
{
    struct fx *f = *state;
    struct tx *t = tx_new(f, "/big?n=1048576");
    t->pause = 1;
    t->req.idle_timeout_ms = 200;
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 10000);
    ASSERT_RESULT(t, UPSTREAM_OK);
    assert_int_equal(t->body.len, 1048576);
    for (size_t i = 0; i < t->body.len; i++)
        if (t->body.data[i] != (char)('a' + i % 26))
            fail_msg("byte %zu is '%c', want '%c'", i, t->body.data[i], (char)('a' + i % 26));
    assert_int_equal(t->pauses, t->data_calls);
}

static void test_cancel_mid_stream(void **state)
{
    struct fx *f = *state;
    struct tx *t = tx_new(f, "/sse?n=100&ms=20");
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, t->data_calls >= 2, 3000);
    assert_true(t->data_calls >= 2);
    t->cancelled = 1;
    upstream_cancel(t->x);
    assert_int_equal(upstream_active(f->up), 0);
    expect_disconnects_then_silence(f, 1, t);
}

static void test_cancel_inside_on_data(void **state)
{
    struct fx *f = *state;
    struct tx *t = tx_new(f, "/sse?n=100&ms=10");
    t->cancel_at_data = 2;
    assert_int_equal(tx_start(t), 0);
    expect_disconnects_then_silence(f, 1, t);
    assert_int_equal(t->data_calls, 2);
    assert_int_equal(upstream_active(f->up), 0);
}

static void test_cancel_inside_on_headers(void **state)
{
    struct fx *f = *state;
    struct tx *t = tx_new(f, "/sse?n=100&ms=10");
    t->cancel_in_headers = 1;
    assert_int_equal(tx_start(t), 0);
    expect_disconnects_then_silence(f, 1, t);
    assert_int_equal(t->headers_calls, 1);
    assert_int_equal(t->data_calls, 0);
}

static void test_cancel_other_inside_on_data(void **state)
{
    struct fx *f = *state;
    struct tx *b = tx_new(f, "/sse?n=100&ms=10");
    struct tx *a = tx_new(f, "/sse?n=5&ms=30");
    a->cancel_other = b;
    assert_int_equal(tx_start(b), 0);
    assert_int_equal(tx_start(a), 0);
    RUN_UNTIL(f, tx_finished(a), 3000);
    ASSERT_RESULT(a, UPSTREAM_OK);
    expect_sse_body(a, 5);
    expect_disconnects_then_silence(f, 1, b);
}

static void test_abort_inside_on_data(void **state)
{
    struct fx *f = *state;
    struct tx *t = tx_new(f, "/sse?n=100&ms=10");
    t->abort_at_data = 2;
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 3000);
    ASSERT_RESULT(t, UPSTREAM_ERR_TOO_LARGE);
    assert_int_equal(t->data_calls, 2);
    assert_int_equal(t->done_calls, 1);
    RUN_UNTIL(f, f->srv.disconnects == 1, 1000);
    assert_int_equal(f->srv.disconnects, 1);
}

static void test_abort_after_resume(void **state)
{
    struct fx *f = *state;
    /* The abort comes from data that curl kept during the pause and hands over inside
     * curl_easy_pause(): curl does not end the transfer itself then, we must. */
    struct tx *t = tx_new(f, "/burst?n=50");
    t->pause = 1;
    t->abort_at_data = 2;
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 3000);
    ASSERT_RESULT(t, UPSTREAM_ERR_TOO_LARGE);
    assert_int_equal(t->data_calls, 2);
    assert_int_equal(t->done_calls, 1);
}

static void test_start_inside_on_data(void **state)
{
    struct fx *f = *state;
    struct tx *a = tx_new(f, "/sse?n=3&ms=10");
    struct tx *b = tx_new(f, "/json");
    a->start_at_data = 1;
    a->child = b;
    assert_int_equal(tx_start(a), 0);
    RUN_UNTIL(f, tx_finished(a) && tx_finished(b), 3000);
    ASSERT_RESULT(a, UPSTREAM_OK);
    ASSERT_RESULT(b, UPSTREAM_OK);
    assert_int_equal(b->status, 200);
}

static void test_free_with_active(void **state)
{
    struct fx *f = *state;
    struct tx *t[5];
    for (int i = 0; i < 5; i++) {
        t[i] = tx_new(f, "/sse?n=100&ms=10");
        assert_int_equal(tx_start(t[i]), 0);
    }
    RUN_UNTIL(f, t[4]->data_calls > 0 && t[0]->data_calls > 0, 3000);
    for (int i = 0; i < 5; i++)
        t[i]->cancelled = 1;
    upstream_free(f->up);
    f->up = NULL;
    expect_disconnects_then_silence(f, 5, NULL);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(t[i]->after_cancel, 0);
        assert_int_equal(t[i]->done_calls, 0);
    }
}

static void test_free_inside_on_data(void **state)
{
    struct fx *f = *state;
    struct tx *a = tx_new(f, "/sse?n=100&ms=10");
    struct tx *b = tx_new(f, "/sse?n=100&ms=10");
    a->free_at_data = 2;
    assert_int_equal(tx_start(a), 0);
    assert_int_equal(tx_start(b), 0);
    expect_disconnects_then_silence(f, 2, a);
    assert_null(f->up);
    assert_int_equal(b->after_cancel, 0);
    assert_int_equal(b->done_calls, 0);
}

static void test_headers_too_large(void **state)
{
    struct fx *f = *state;
    struct tx *t = tx_new(f, "/bighdr");
    assert_int_equal(tx_start(t), 0);
    RUN_UNTIL(f, tx_finished(t), 3000);
    ASSERT_RESULT(t, UPSTREAM_ERR_TOO_LARGE);
    assert_int_equal(t->headers_calls, 0);
}

static void test_bad_requests(void **state)
{
    struct fx *f = *state;
    struct upstream_xfer *x = NULL;
    struct upstream_request req = {0};
    req.method = "GET";
    assert_int_equal(upstream_start(f->up, &req, &tx_cb, NULL, &x), ERR_INVAL);
    req.url = "ftp://127.0.0.1/";
    assert_int_equal(upstream_start(f->up, &req, &tx_cb, NULL, &x), ERR_INVAL);
    req.url = "http://127.0.0.1/";
    static const char *const bad[] = {"X-A: 1\r\nX-Injected: 2", NULL};
    req.headers = bad;
    assert_int_equal(upstream_start(f->up, &req, &tx_cb, NULL, &x), ERR_INVAL);
    req.headers = NULL;
    req.method = NULL;
    assert_int_equal(upstream_start(f->up, &req, &tx_cb, NULL, &x), ERR_INVAL);
    assert_int_equal(upstream_active(f->up), 0);
    /* Cancel and resume of NULL are no-ops. */
    upstream_cancel(NULL);
    upstream_resume(NULL);
}

static void test_result_names(void **state)
{
    (void)state;
    assert_string_equal(upstream_result_str(UPSTREAM_OK), "ok");
    assert_string_equal(upstream_result_str(UPSTREAM_ERR_CONNECT), "connect_error");
    assert_string_equal(upstream_result_str(UPSTREAM_ERR_CONNECT_TIMEOUT), "connect_timeout");
    assert_string_equal(upstream_result_str(UPSTREAM_ERR_FIRST_BYTE_TIMEOUT), "first_byte_timeout");
    assert_string_equal(upstream_result_str(UPSTREAM_ERR_TOTAL_TIMEOUT), "total_timeout");
    assert_string_equal(upstream_result_str(UPSTREAM_ERR_IDLE_TIMEOUT), "idle_timeout");
    assert_string_equal(upstream_result_str(UPSTREAM_ERR_IO), "io_error");
    assert_string_equal(upstream_result_str(UPSTREAM_ERR_TOO_LARGE), "too_large");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_post_echo),
        T(test_post_without_content_type),
        T(test_get_and_status),
        T(test_concurrent_50),
        T(test_connection_reuse),
        T(test_connect_refused),
        T(test_connect_timeout),
        T(test_first_byte_timeout),
        T(test_idle_timeout),
        T(test_idle_timer_rearmed_per_chunk),
        T(test_total_timeout),
        T(test_mid_response_close),
        T(test_pause_resume_stream),
        T(test_pause_resume_burst),
        T(test_pause_resume_big),
        T(test_cancel_mid_stream),
        T(test_cancel_inside_on_data),
        T(test_cancel_inside_on_headers),
        T(test_cancel_other_inside_on_data),
        T(test_abort_inside_on_data),
        T(test_abort_after_resume),
        T(test_start_inside_on_data),
        T(test_free_with_active),
        T(test_free_inside_on_data),
        T(test_headers_too_large),
        T(test_bad_requests),
        cmocka_unit_test(test_result_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
