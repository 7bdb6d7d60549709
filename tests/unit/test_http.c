/* Tests for net/http: a real server on 127.0.0.1 (ephemeral port) runs its loop in a second thread,
 * and each test talks to it as a raw TCP client from the cmocka thread, checking the bytes it gets
 * back (responses are read with http_parser in response mode, so framing errors show up). Handler-side
 * observations (abort callbacks, drain callbacks, counters) are read after the server thread ended. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/limits.h"
#include "net/http.h"

/* ---- server harness ------------------------------------------------------------------------ */

struct harness {
    uv_loop_t loop;
    struct limits lim;
    struct http_server *srv;
    pthread_t thread;
    uv_async_t stop;
    uv_timer_t later;    /* deferred answers */
    uv_timer_t drip;     /* chunks of a slow stream */
    struct http_request *held; /* request answered later */
    int started;
    /* observations, written by the server thread */
    atomic_int aborts;
    atomic_int drains;
    atomic_int handled;
    atomic_size_t max_queued;
    atomic_size_t big_total;
    size_t inflight_at_stop;
    size_t conns_at_stop;
    int end_in_abort; /* 1: the abort callback ends the request; 0: a timer ends it later */
};

static void close_quiet(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void on_stop(uv_async_t *a)
{
    struct harness *h = a->data;
    h->inflight_at_stop = http_server_inflight(h->srv);
    h->conns_at_stop = http_server_connections(h->srv);
    http_server_close(h->srv);
    close_quiet((uv_handle_t *)&h->later);
    close_quiet((uv_handle_t *)&h->drip);
    close_quiet((uv_handle_t *)&h->stop);
}

static void *server_main(void *arg)
{
    struct harness *h = arg;
    uv_run(&h->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void handler(struct http_request *req, void *ud);

static struct limits test_limits(void)
{
    struct limits l = limits_default();
    l.max_header_bytes = 1024;
    l.max_body_bytes = 4096;
    l.max_connections = 100;
    l.header_timeout_ms = 3000;
    l.body_timeout_ms = 3000;
    l.idle_timeout_ms = 3000;
    l.write_timeout_ms = 5000;
    l.stream_buffer_bytes = 65536;
    return l;
}

static void harness_start(struct harness *h, const struct limits *lim)
{
    h->lim = *lim;
    assert_int_equal(uv_loop_init(&h->loop), 0);
    struct http_server_opts o = {
        .host = "127.0.0.1", .port = 0, .reuseport = 1, .limits = &h->lim, .handler = handler, .ud = h};
    assert_int_equal(http_server_start(&h->loop, &o, &h->srv), 0);
    assert_true(http_server_port(h->srv) > 0);
    uv_async_init(&h->loop, &h->stop, on_stop);
    h->stop.data = h;
    uv_timer_init(&h->loop, &h->later);
    uv_timer_init(&h->loop, &h->drip);
    h->later.data = h->drip.data = h;
    assert_int_equal(pthread_create(&h->thread, NULL, server_main, h), 0);
    h->started = 1;
}

/* Stops the server thread (closing the server) and waits for it; idempotent. */
static void harness_stop(struct harness *h)
{
    if (!h->started)
        return;
    h->started = 0;
    uv_async_send(&h->stop);
    pthread_join(h->thread, NULL);
    assert_int_equal(uv_loop_close(&h->loop), 0);
}

static int setup(void **state)
{
    struct harness *h = calloc(1, sizeof(*h));
    h->end_in_abort = 1;
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    struct harness *h = *state;
    harness_stop(h);
    free(h);
    return 0;
}

static int port_of(struct harness *h)
{
    return http_server_port(h->srv);
}

/* ---- handler (server thread) ---------------------------------------------------------------- */

static int path_is(const struct http_request *req, const char *p)
{
    return req->path.len == strlen(p) && memcmp(req->path.p, p, req->path.len) == 0;
}

static void echo(struct http_request *req)
{
    struct buf b = BUF_INIT;
    const struct str *x = http_request_header(req, "x-test");
    buf_printf(&b, "%s %.*s path=%.*s query=%.*s x-test=%.*s body=%.*s", req->method,
               (int)req->url.len, req->url.p, (int)req->path.len, req->path.p, (int)req->query.len,
               req->query.p, x ? (int)x->len : 0, x ? x->p : "", (int)req->body.len, req->body.data);
    struct http_header extra[] = {{STR_LIT("X-Echo"), STR_LIT("1")}};
    http_respond(req, 200, "text/plain", b.data, b.len, extra, 1);
    buf_free(&b);
}

static void answer_later(uv_timer_t *t)
{
    struct harness *h = t->data;
    struct http_request *req = h->held;
    h->held = NULL;
    if (!req)
        return;
    if (!http_request_aborted(req))
        http_respond(req, 200, "text/plain", "later", 5, NULL, 0);
    else
        http_response_end(req);
}

static void drip_tick(uv_timer_t *t)
{
    struct harness *h = t->data;
    if (h->held && !http_request_aborted(h->held))
        http_response_write(h->held, "tick\n", 5);
}

static void drip_abort(struct http_request *req, void *ud)
{
    struct harness *h = ud;
    atomic_fetch_add(&h->aborts, 1);
    uv_timer_stop(&h->drip);
    if (h->end_in_abort) {
        h->held = NULL;
        http_response_end(req);
    } else {
        uv_timer_start(&h->later, answer_later, 30, 0); /* ends it from another event */
    }
}

static void big_write(struct harness *h, struct http_request *req)
{
    static char chunk[65536];
    memset(chunk, 'z', sizeof(chunk));
    size_t q = 0;
    while (atomic_load(&h->big_total) < (64u << 20)) {
        q = http_response_write(req, chunk, sizeof(chunk));
        atomic_fetch_add(&h->big_total, sizeof(chunk));
        if (q > atomic_load(&h->max_queued))
            atomic_store(&h->max_queued, q);
        if (q > h->lim.stream_buffer_bytes || http_request_aborted(req))
            return; /* wait for the drain callback */
    }
}

static void big_drain(struct http_request *req, void *ud)
{
    struct harness *h = ud;
    atomic_fetch_add(&h->drains, 1);
    h->held = NULL;
    http_response_end(req);
}

static void big_abort(struct http_request *req, void *ud)
{
    struct harness *h = ud;
    atomic_fetch_add(&h->aborts, 1);
    h->held = NULL;
    http_response_end(req);
}

static void handler(struct http_request *req, void *ud)
{
    struct harness *h = ud;
    atomic_fetch_add(&h->handled, 1);
    if (path_is(req, "/echo")) {
        echo(req);
    } else if (path_is(req, "/stream")) {
        struct http_header ct[] = {{STR_LIT("Content-Type"), STR_LIT("text/plain")}};
        http_response_start(req, 200, ct, 1, -1);
        http_response_write(req, "hello ", 6);
        http_response_write(req, "chunked ", 8);
        http_response_write(req, "world", 5);
        http_response_end(req);
    } else if (path_is(req, "/later") || path_is(req, "/stop")) {
        if (path_is(req, "/stop"))
            http_server_stop_accepting(h->srv);
        h->held = req;
        uv_timer_start(&h->later, answer_later, 100, 0);
    } else if (path_is(req, "/drip")) {
        h->held = req;
        http_request_on_abort(req, drip_abort, h);
        http_response_start(req, 200, NULL, 0, -1);
        http_response_write(req, "first\n", 6);
        uv_timer_start(&h->drip, drip_tick, 10, 10);
    } else if (path_is(req, "/big")) {
        h->held = req;
        http_request_on_drain(req, big_drain, h);
        http_request_on_abort(req, big_abort, h);
        http_response_start(req, 200, NULL, 0, -1);
        big_write(h, req);
    } else if (path_is(req, "/noanswer")) {
        http_response_end(req);
    } else if (path_is(req, "/short")) {
        http_response_start(req, 200, NULL, 0, 10);
        http_response_write(req, "abc", 3);
        http_response_end(req);
    } else {
        http_respond(req, 404, "text/plain", "nope", 4, NULL, 0);
    }
}

/* ---- raw client (test thread) --------------------------------------------------------------- */

struct cresp {
    int status;
    struct buf hdrs; /* "name: value\n" lines, names lower-cased */
    struct buf body;
};

struct cli {
    int fd;
    http_parser p;
    int last_was_value;
    struct cresp r[8];
    int n;
    struct buf raw;
    size_t body_bytes; /* of all responses */
    int eof;
    int perr;
};

static int c_on_header_field(http_parser *p, const char *at, size_t len)
{
    struct cli *c = p->data;
    struct cresp *r = &c->r[c->n];
    if (c->last_was_value)
        buf_putc(&r->hdrs, '\n');
    for (size_t i = 0; i < len; i++)
        buf_putc(&r->hdrs, (char)(at[i] >= 'A' && at[i] <= 'Z' ? at[i] + 32 : at[i]));
    c->last_was_value = 0;
    return 0;
}

static int c_on_header_value(http_parser *p, const char *at, size_t len)
{
    struct cli *c = p->data;
    struct cresp *r = &c->r[c->n];
    if (!c->last_was_value)
        buf_puts(&r->hdrs, ": ");
    buf_append(&r->hdrs, at, len);
    c->last_was_value = 1;
    return 0;
}

static int c_on_headers_complete(http_parser *p)
{
    struct cli *c = p->data;
    buf_putc(&c->r[c->n].hdrs, '\n');
    c->last_was_value = 0;
    return 0;
}

static int c_on_body(http_parser *p, const char *at, size_t len)
{
    struct cli *c = p->data;
    c->body_bytes += len;
    if (c->r[c->n].body.len < (1u << 20))
        buf_append(&c->r[c->n].body, at, len);
    return 0;
}

static int c_on_message_complete(http_parser *p)
{
    struct cli *c = p->data;
    c->r[c->n].status = (int)p->status_code;
    if (!c->r[c->n].body.data)
        buf_append(&c->r[c->n].body, "", 0);
    if (c->n < 7)
        c->n++;
    return 0;
}

static const http_parser_settings cli_settings = {
    .on_header_field = c_on_header_field,
    .on_header_value = c_on_header_value,
    .on_headers_complete = c_on_headers_complete,
    .on_body = c_on_body,
    .on_message_complete = c_on_message_complete,
};

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static struct cli *cli_open(struct harness *h)
{
    struct cli *c = calloc(1, sizeof(*c));
    c->fd = tcp_connect(port_of(h));
    assert_true(c->fd >= 0);
    http_parser_init(&c->p, HTTP_RESPONSE);
    c->p.data = c;
    return c;
}

static void cli_free(struct cli *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    for (int i = 0; i < 8; i++) {
        buf_free(&c->r[i].hdrs);
        buf_free(&c->r[i].body);
    }
    buf_free(&c->raw);
    free(c);
}

static void cli_send_n(struct cli *c, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

static void cli_send(struct cli *c, const char *s)
{
    cli_send_n(c, s, strlen(s));
}

static uint64_t now_ms(void)
{
    return time_now_ns() / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Reads once (waiting up to ms); returns 1 if something happened (data or EOF), 0 on timeout. */
static int cli_read_once(struct cli *c, int ms)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    if (poll(&pfd, 1, ms) <= 0)
        return 0;
    char tmp[65536];
    ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
    if (n <= 0) {
        c->eof = 1;
        if (!c->perr)
            http_parser_execute(&c->p, &cli_settings, NULL, 0);
        return 1;
    }
    if (c->raw.len < (1u << 20))
        buf_append(&c->raw, tmp, (size_t)n);
    if (!c->perr) {
        size_t used = http_parser_execute(&c->p, &cli_settings, tmp, (size_t)n);
        if (HTTP_PARSER_ERRNO(&c->p) != HPE_OK || used != (size_t)n)
            c->perr = (int)HTTP_PARSER_ERRNO(&c->p) ? (int)HTTP_PARSER_ERRNO(&c->p) : -1;
    }
    return 1;
}

/* Reads until want responses are complete, EOF, or ms pass; returns the count. */
static int cli_wait(struct cli *c, int want, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (c->n < want && !c->eof) {
        uint64_t t = now_ms();
        if (t >= end || !cli_read_once(c, (int)(end - t)))
            break;
    }
    return c->n;
}

/* Reads until EOF; returns 1 if the server closed within ms. */
static int cli_wait_eof(struct cli *c, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (!c->eof) {
        uint64_t t = now_ms();
        if (t >= end || !cli_read_once(c, (int)(end - t)))
            break;
    }
    return c->eof;
}

/* Returns the value of response header name (lower case), or "(absent)"; the text is kept in a
 * static buffer until the next call. */
static const char *hdr(const struct cresp *r, const char *name)
{
    static char out[256];
    char key[64];
    snprintf(key, sizeof(key), "%s: ", name);
    const char *p = r->hdrs.data;
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        size_t k = strlen(key);
        if (n >= k && memcmp(p, key, k) == 0) {
            size_t v = n - k < sizeof(out) - 1 ? n - k : sizeof(out) - 1;
            memcpy(out, p + k, v);
            out[v] = '\0';
            return out;
        }
        p = eol ? eol + 1 : p + n;
    }
    return "(absent)";
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_get_echo(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "GET /echo?x=1 HTTP/1.1\r\nHost: a\r\nX-Test: abc\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->perr, 0);
    assert_int_equal(c->r[0].status, 200);
    assert_string_equal(c->r[0].body.data, "GET /echo?x=1 path=/echo query=x=1 x-test=abc body=");
    assert_string_equal(hdr(&c->r[0], "content-type"), "text/plain");
    assert_string_equal(hdr(&c->r[0], "x-echo"), "1");
    assert_string_equal(hdr(&c->r[0], "content-length"), "51");
    assert_string_equal(hdr(&c->r[0], "connection"), "(absent)");
    cli_free(c);
}

static void test_post_echo(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->r[0].status, 200);
    assert_string_equal(c->r[0].body.data, "POST /echo path=/echo query= x-test= body=hello");
    cli_free(c);
}

static void test_split_one_byte_writes(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    const char *req = "POST /echo?q=2 HTTP/1.1\r\nHost: a\r\nX-Test: split-value\r\n"
                      "Content-Length: 11\r\n\r\nhello world";
    for (const char *p = req; *p; p++) {
        cli_send_n(c, p, 1);
        sleep_ms(1);
    }
    assert_int_equal(cli_wait(c, 1, 3000), 1);
    assert_int_equal(c->r[0].status, 200);
    assert_string_equal(c->r[0].body.data,
                        "POST /echo?q=2 path=/echo query=q=2 x-test=split-value body=hello world");
    cli_free(c);
}

static void test_pipelined_two(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "GET /echo?n=1 HTTP/1.1\r\nHost: a\r\n\r\nGET /echo?n=2 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(cli_wait(c, 2, 2000), 2);
    assert_string_equal(c->r[0].body.data, "GET /echo?n=1 path=/echo query=n=1 x-test= body=");
    assert_string_equal(c->r[1].body.data, "GET /echo?n=2 path=/echo query=n=2 x-test= body=");
    cli_free(c);
}

static void test_pipelined_three_with_async(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    /* the first answer comes 100 ms later: the other two must wait and come after it, in order */
    cli_send(c, "GET /later HTTP/1.1\r\nHost: a\r\n\r\n"
                "POST /echo?n=2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                "GET /echo?n=3 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(cli_wait(c, 3, 3000), 3);
    assert_int_equal(c->perr, 0);
    assert_string_equal(c->r[0].body.data, "later");
    assert_string_equal(c->r[1].body.data, "POST /echo?n=2 path=/echo query=n=2 x-test= body=abc");
    assert_string_equal(c->r[2].body.data, "GET /echo?n=3 path=/echo query=n=3 x-test= body=");
    cli_free(c);
}

static void test_keepalive_reuse(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    for (int i = 0; i < 3; i++) {
        cli_send(c, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_int_equal(cli_wait(c, i + 1, 2000), i + 1);
        assert_int_equal(c->r[i].status, 200);
    }
    assert_int_equal(c->eof, 0);
    cli_free(c);

    /* HTTP/1.0 keeps the connection only when asked to */
    c = cli_open(h);
    cli_send(c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_string_equal(hdr(&c->r[0], "connection"), "keep-alive");
    cli_send(c, "GET /echo HTTP/1.0\r\n\r\n");
    assert_int_equal(cli_wait(c, 2, 2000), 2);
    assert_string_equal(hdr(&c->r[1], "connection"), "close");
    assert_int_equal(cli_wait_eof(c, 2000), 1);
    cli_free(c);

    /* Connection: close on HTTP/1.1 */
    c = cli_open(h);
    cli_send(c, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_string_equal(hdr(&c->r[0], "connection"), "close");
    assert_int_equal(cli_wait_eof(c, 2000), 1);
    cli_free(c);
}

static void test_chunked_request_body(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    const char *parts[] = {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;e",
                           "xt=1\r\nhel", "lo\r\n", "6\r", "\n world\r\n0\r\nX-Trailer: t\r\n", "\r\n"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        cli_send(c, parts[i]);
        sleep_ms(5);
    }
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->r[0].status, 200);
    assert_string_equal(c->r[0].body.data, "POST /echo path=/echo query= x-test= body=hello world");
    /* the connection stays usable after a chunked body with a trailer */
    cli_send(c, "GET /echo?again HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(cli_wait(c, 2, 2000), 2);
    assert_string_equal(c->r[1].body.data, "GET /echo?again path=/echo query=again x-test= body=");
    cli_free(c);
}

static void test_expect_continue(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1); /* before any body byte was sent */
    assert_int_equal(c->r[0].status, 100);
    cli_send(c, "body");
    assert_int_equal(cli_wait(c, 2, 2000), 2);
    assert_int_equal(c->r[1].status, 200);
    assert_string_equal(c->r[1].body.data, "POST /echo path=/echo query= x-test= body=body");
    cli_free(c);

    /* too large by Content-Length: 413 instead of 100, then close */
    c = cli_open(h);
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                "Content-Length: 5000\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->r[0].status, 413);
    assert_int_equal(cli_wait_eof(c, 3000), 1);
    assert_int_equal(c->n, 1);
    cli_free(c);
}

static void test_headers_too_large(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    char big[2100];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cli_send(c, "GET /echo HTTP/1.1\r\nHost: a\r\nX-Big: ");
    cli_send(c, big);
    cli_send(c, "\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->r[0].status, 431);
    assert_string_equal(c->r[0].body.data,
                        "{\"error\":{\"message\":\"request headers exceed 1024 bytes; raise "
                        "limits.max_header_bytes\",\"type\":\"invalid_request_error\",\"param\":null,"
                        "\"code\":\"request_header_fields_too_large\"}}\n");
    assert_string_equal(hdr(&c->r[0], "content-type"), "application/json");
    assert_string_equal(hdr(&c->r[0], "connection"), "close");
    assert_int_equal(cli_wait_eof(c, 3000), 1);
    cli_free(c);

    /* a head of exactly max_header_bytes is accepted */
    c = cli_open(h);
    const char *pre = "GET /echo HTTP/1.1\r\nX-Pad: ";
    size_t fill = 1024 - strlen(pre) - 4;
    memset(big, 'p', fill);
    big[fill] = '\0';
    cli_send(c, pre);
    cli_send(c, big);
    cli_send(c, "\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->r[0].status, 200);
    cli_free(c);

    /* more header fields than HTTP_MAX_HEADERS */
    c = cli_open(h);
    cli_send(c, "GET /echo HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
        cli_send(c, "a:b\r\n");
    cli_send(c, "\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->r[0].status, 431);
    cli_free(c);
}

/* limits.max_header_count lowers the header-field count accepted, and the 431 names it. */
static void test_header_count_limit(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    l.max_header_count = 5;
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "GET /echo HTTP/1.1\r\na:1\r\nb:2\r\nc:3\r\nd:4\r\ne:5\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->r[0].status, 200);
    cli_free(c);
    c = cli_open(h);
    cli_send(c, "GET /echo HTTP/1.1\r\na:1\r\nb:2\r\nc:3\r\nd:4\r\ne:5\r\nf:6\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->r[0].status, 431);
    assert_non_null(strstr(c->r[0].body.data, "more than 5 header fields; raise "
                                              "limits.max_header_count"));
    cli_free(c);
}

static void test_body_too_large_by_length(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4097\r\n\r\n"); /* no body sent */
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->r[0].status, 413);
    assert_non_null(
        strstr(c->r[0].body.data, "request body exceeds 4096 bytes; raise limits.max_body_bytes"));
    assert_non_null(strstr(c->r[0].body.data, "\"type\":\"invalid_request_error\""));
    assert_int_equal(cli_wait_eof(c, 3000), 1);
    cli_free(c);
    harness_stop(h);
    assert_int_equal(atomic_load(&h->handled), 0);
}

static void test_body_too_large_chunked(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[1100];
    memset(chunk, 'c', 1000);
    memcpy(chunk + 1000, "\r\n", 3);
    for (int i = 0; i < 5; i++) { /* 5000 bytes > 4096 */
        cli_send(c, "3e8\r\n");
        cli_send(c, chunk);
    }
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->r[0].status, 413);
    assert_int_equal(cli_wait_eof(c, 3000), 1);
    cli_free(c);
    harness_stop(h);
    assert_int_equal(atomic_load(&h->handled), 0);
}

static void test_malformed_400(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "GET /echo HTTP/1.1\r\nHost a-header-without-colon\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->r[0].status, 400);
    assert_non_null(strstr(c->r[0].body.data, "\"code\":\"bad_request\""));
    assert_int_equal(cli_wait_eof(c, 3000), 1);
    cli_free(c);

    c = cli_open(h);
    cli_send(c, "\x01\x02 garbage\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->r[0].status, 400);
    cli_free(c);
}

static void test_header_timeout_408(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    l.header_timeout_ms = 150;
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    uint64_t t0 = now_ms();
    cli_send(c, "GET /echo HTTP/1.1\r\nHost: a\r\n"); /* never finished */
    assert_int_equal(cli_wait(c, 1, 3000), 1);
    uint64_t waited = now_ms() - t0;
    assert_int_equal(c->r[0].status, 408);
    assert_non_null(strstr(c->r[0].body.data, "limits.header_timeout_ms"));
    assert_in_range(waited, 100, 2000);
    assert_int_equal(cli_wait_eof(c, 3000), 1);
    cli_free(c);
}

static void test_body_timeout_408(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    l.body_timeout_ms = 150;
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    assert_int_equal(cli_wait(c, 1, 3000), 1);
    assert_int_equal(c->r[0].status, 408);
    assert_non_null(strstr(c->r[0].body.data, "limits.body_timeout_ms"));
    cli_free(c);
}

static void test_idle_timeout_closes(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    l.idle_timeout_ms = 150;
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    uint64_t t0 = now_ms();
    assert_int_equal(cli_wait_eof(c, 3000), 1);
    assert_in_range(now_ms() - t0, 100, 2000);
    assert_int_equal(c->n, 1); /* closed silently */
    assert_int_equal(c->perr, 0);
    cli_free(c);
}

static void run_abort_case(struct harness *h, int end_in_abort)
{
    struct limits l = test_limits();
    h->end_in_abort = end_in_abort;
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "GET /drip HTTP/1.1\r\nHost: a\r\n\r\n");
    while (!strstr(c->raw.data ? c->raw.data : "", "first\n") && cli_read_once(c, 2000))
        ;
    assert_non_null(strstr(c->raw.data, "first\n"));
    close(c->fd); /* the client goes away mid-answer */
    c->fd = -1;
    sleep_ms(200);
    harness_stop(h);
    assert_int_equal(atomic_load(&h->aborts), 1);
    assert_int_equal(h->inflight_at_stop, 0);
    assert_int_equal(h->conns_at_stop, 0);
    cli_free(c);
}

static void test_abort_end_inside_callback(void **state)
{
    run_abort_case(*state, 1);
}

static void test_abort_end_later(void **state)
{
    run_abort_case(*state, 0);
}

static void test_close_aborts_inflight(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "GET /drip HTTP/1.1\r\nHost: a\r\n\r\n");
    while (!strstr(c->raw.data ? c->raw.data : "", "first\n") && cli_read_once(c, 2000))
        ;
    harness_stop(h); /* http_server_close with the answer in flight; the loop must end cleanly */
    assert_int_equal(h->inflight_at_stop, 1);
    assert_int_equal(h->conns_at_stop, 1);
    assert_int_equal(atomic_load(&h->aborts), 1);
    assert_int_equal(cli_wait_eof(c, 2000), 1);
    cli_free(c);
}

static void test_streamed_response(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->perr, 0);
    assert_string_equal(c->raw.data, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                     "Transfer-Encoding: chunked\r\n\r\n"
                                     "6\r\nhello \r\n8\r\nchunked \r\n5\r\nworld\r\n0\r\n\r\n");
    assert_string_equal(c->r[0].body.data, "hello chunked world");
    cli_free(c);

    /* HTTP/1.0 has no chunked coding: the body ends with the connection */
    c = cli_open(h);
    cli_send(c, "GET /stream HTTP/1.0\r\n\r\n");
    assert_int_equal(cli_wait_eof(c, 2000), 1);
    assert_int_equal(c->n, 1);
    assert_string_equal(hdr(&c->r[0], "transfer-encoding"), "(absent)");
    assert_string_equal(hdr(&c->r[0], "connection"), "close");
    assert_string_equal(c->r[0].body.data, "hello chunked world");
    cli_free(c);
}

static void test_backpressure_drain(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    sleep_ms(300); /* not reading: the server's queue fills up */
    assert_int_equal(cli_wait_eof(c, 10000), 1);
    assert_int_equal(c->perr, 0);
    assert_int_equal(c->n, 1);
    harness_stop(h);
    assert_true(atomic_load(&h->max_queued) > l.stream_buffer_bytes);
    assert_int_equal(atomic_load(&h->drains), 1);
    assert_int_equal(atomic_load(&h->aborts), 0);
    assert_int_equal(c->body_bytes, atomic_load(&h->big_total));
    cli_free(c);
}

static void test_write_timeout_aborts(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    l.write_timeout_ms = 200;
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
    sleep_ms(800); /* never reads */
    harness_stop(h);
    assert_int_equal(atomic_load(&h->aborts), 1);
    assert_int_equal(atomic_load(&h->drains), 0);
    assert_int_equal(h->conns_at_stop, 0);
    assert_int_equal(h->inflight_at_stop, 0);
    cli_free(c);
}

static void test_stop_accepting(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    int port = port_of(h);
    struct cli *idle = cli_open(h);
    cli_send(idle, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(cli_wait(idle, 1, 2000), 1);

    struct cli *c = cli_open(h);
    cli_send(c, "GET /stop HTTP/1.1\r\nHost: a\r\n\r\n"); /* stops accepting, answers 100 ms later */
    assert_int_equal(cli_wait_eof(idle, 2000), 1);          /* the idle connection is closed now */
    assert_int_equal(idle->n, 1);
    assert_int_equal(cli_wait(c, 1, 2000), 1); /* the in-flight answer still arrives */
    assert_string_equal(c->r[0].body.data, "later");
    assert_string_equal(hdr(&c->r[0], "connection"), "close");
    assert_int_equal(cli_wait_eof(c, 3000), 1);
    assert_int_equal(tcp_connect(port), -1); /* no listener any more */
    cli_free(idle);
    cli_free(c);
}

static void test_max_connections(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    l.max_connections = 2;
    harness_start(h, &l);
    struct cli *a = cli_open(h), *b = cli_open(h);
    cli_send(a, "GET /echo HTTP/1.1\r\n\r\n");
    cli_send(b, "GET /echo HTTP/1.1\r\n\r\n");
    assert_int_equal(cli_wait(a, 1, 2000), 1);
    assert_int_equal(cli_wait(b, 1, 2000), 1);
    struct cli *x = cli_open(h); /* over the limit: accepted and closed at once */
    assert_int_equal(cli_wait_eof(x, 2000), 1);
    assert_int_equal(x->n, 0);
    cli_free(a);
    sleep_ms(100);
    struct cli *y = cli_open(h);
    cli_send(y, "GET /echo HTTP/1.1\r\n\r\n");
    assert_int_equal(cli_wait(y, 1, 2000), 1);
    assert_int_equal(y->r[0].status, 200);
    cli_free(b);
    cli_free(x);
    cli_free(y);
}

static void test_handler_mistakes(void **state)
{
    struct harness *h = *state;
    struct limits l = test_limits();
    harness_start(h, &l);
    struct cli *c = cli_open(h);
    cli_send(c, "GET /noanswer HTTP/1.1\r\n\r\n");
    assert_int_equal(cli_wait(c, 1, 2000), 1);
    assert_int_equal(c->r[0].status, 500);
    cli_send(c, "GET /echo HTTP/1.1\r\n\r\n"); /* still usable */
    assert_int_equal(cli_wait(c, 2, 2000), 2);
    assert_int_equal(c->r[1].status, 200);
    cli_free(c);

    /* an answer shorter than its Content-Length cannot keep the connection */
    c = cli_open(h);
    cli_send(c, "GET /short HTTP/1.1\r\n\r\n");
    assert_int_equal(cli_wait_eof(c, 1000), 1); /* well before idle_timeout_ms (3000) */
    assert_int_equal(c->n, 0);
    assert_non_null(strstr(c->raw.data, "Content-Length: 10\r\n\r\nabc"));
    cli_free(c);
}

static void test_status_text(void **state)
{
    (void)state;
    assert_string_equal(http_status_text(200), "OK");
    assert_string_equal(http_status_text(431), "Request Header Fields Too Large");
    assert_string_equal(http_status_text(599), "Server Error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_one_byte_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_two, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_three_with_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked_request_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_count_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_too_large_by_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_too_large_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_400, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_timeout_408, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_timeout_408, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_end_inside_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_end_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_aborts_inflight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streamed_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_timeout_aborts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_accepting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_mistakes, setup, teardown),
        cmocka_unit_test(test_status_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
