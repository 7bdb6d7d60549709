/* libFuzzer driver for net/http: the input is fed as request bytes to a real server connection.
 *
 * One loop and one server live for the whole run. Each input gets a fresh connection: one end of an
 * AF_UNIX socketpair is handed to the server (http_server_adopt), the driver writes the input into the
 * other end in a few pieces (cut points derived from the first byte), pumping the loop and reading the
 * answers in between, then half-closes and pumps until the server has closed the connection. So the
 * whole path runs: parsing, limits, pipelining, the handler calls, writes, aborts and closing.
 *
 * The first input byte picks the splits, and whether the client half-closes early (the abort path).
 * The request path picks what the handler does: "/s..." streams a chunked answer, "/d..." answers from
 * a later loop iteration (and ends from its abort callback if the client goes first), "/n..." ends
 * without an answer, "/l..." sends less than its Content-Length; anything else echoes the body.
 * Small limits make 413/431 and back-pressure reachable; timeouts are long so runs are deterministic.
 *
 * Build: clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *          fuzz/fuzz_http.c src/net/http.c src/base/\*.c -luv -lhttp_parser -o build-fuzz/fuzz_http
 * Run:   ./build-fuzz/fuzz_http -max_total_time=30 fuzz/corpus/http
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/limits.h"
#include "net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct limits lim;
static struct http_server *srv;
static uv_timer_t later;
static struct http_request *held;

static void answer_later(uv_timer_t *t)
{
    (void)t;
    struct http_request *req = held;
    held = NULL;
    if (req)
        http_respond(req, 201, "text/plain", req->body.data, req->body.len, NULL, 0);
}

static void on_abort(struct http_request *req, void *ud)
{
    (void)ud;
    if (held == req) {
        held = NULL;
        uv_timer_stop(&later);
        http_response_end(req);
    }
}

static void on_drain(struct http_request *req, void *ud)
{
    (void)ud;
    http_response_write(req, "drained", 7);
}

static void handler(struct http_request *req, void *ud)
{
    (void)ud;
    char kind = req->path.len > 1 ? req->path.p[1] : '\0';
    const struct str *h = http_request_header(req, "x-fuzz");
    struct http_header extra[] = {{STR_LIT("X-Fuzz"), h ? *h : STR_LIT("none")}};
    switch (kind) {
    case 's':
        http_request_on_drain(req, on_drain, NULL);
        http_response_start(req, 200, extra, 1, -1);
        for (int i = 0; i < 4; i++)
            http_response_write(req, req->body.data, req->body.len);
        http_response_write(req, req->url.p, req->url.len);
        http_response_end(req);
        break;
    case 'd':
        if (held) { /* one deferred answer at a time */
            http_respond(req, 503, NULL, NULL, 0, NULL, 0);
            break;
        }
        held = req;
        http_request_on_abort(req, on_abort, NULL);
        uv_timer_start(&later, answer_later, 0, 0);
        break;
    case 'n':
        http_response_end(req);
        break;
    case 'l':
        http_response_start(req, 200, NULL, 0, (long long)req->body.len + 5);
        http_response_write(req, req->body.data, req->body.len);
        http_response_end(req);
        break;
    default:
        http_respond(req, 200, "application/octet-stream", req->body.data, req->body.len, extra, 1);
        break;
    }
}

static void setup(void)
{
    lim = limits_default();
    lim.max_header_bytes = 2048;
    lim.max_body_bytes = 4096;
    lim.max_pipelined = 4;
    lim.stream_buffer_bytes = 1024;
    lim.header_timeout_ms = lim.body_timeout_ms = lim.idle_timeout_ms = 60000;
    lim.write_timeout_ms = 60000;
    if (uv_loop_init(&loop) != 0)
        abort();
    struct http_server_opts o = {
        .host = "127.0.0.1", .port = 0, .reuseport = 0, .limits = &lim, .handler = handler};
    if (http_server_start(&loop, &o, &srv) != 0)
        abort();
    uv_timer_init(&loop, &later);
}

static void drain(int fd)
{
    char tmp[65536];
    while (recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT) > 0)
        ;
}

static void pump(int fd, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        drain(fd);
    }
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
    int spins = 0;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return; /* the server closed: the rest is moot */
        if (++spins > 100000)
            abort(); /* the server neither reads nor closes */
        pump(fd, 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size < 1)
        return 0;
    uint8_t ctrl = data[0];
    data++;
    size--;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    if (http_server_adopt(srv, sv[0]) != 0)
        abort();

    /* up to four pieces, cut at points derived from ctrl */
    size_t cuts[5] = {0};
    unsigned pieces = 1 + (ctrl & 3), seed = ctrl * 2654435761u + (unsigned)size;
    cuts[pieces] = size;
    for (unsigned i = 1; i < pieces; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t c = size ? (seed >> 8) % (size + 1) : 0;
        cuts[i] = c < cuts[i - 1] ? cuts[i - 1] : c;
    }
    for (unsigned i = 0; i < pieces; i++) {
        send_all(sv[1], data + cuts[i], cuts[i + 1] - cuts[i]);
        pump(sv[1], 2);
        if ((ctrl & 4) && i == 0)
            shutdown(sv[1], SHUT_WR); /* the client goes away early */
    }
    pump(sv[1], 3);
    shutdown(sv[1], SHUT_WR);
    for (int i = 0; http_server_connections(srv) > 0 || held; i++) {
        if (i > 100000)
            abort(); /* the connection was never closed */
        pump(sv[1], 1);
    }
    pump(sv[1], 1); /* close callbacks free the connection */
    close(sv[1]);
    if (http_server_inflight(srv) != 0)
        abort();
    return 0;
}
