/* loadgen: an open-loop HTTP load generator for the Tollgate benchmark (bench/run.sh).
 *
 *   loadgen --url http://127.0.0.1:P/v1/chat/completions --rate R --duration S
 *           [--connections C] [--body FILE] [--stream] [--warmup S] [--timeout S]
 *
 * Requests are due on a fixed schedule: request i is due at start + i/R, whatever happened to the
 * requests before it (open loop; wrk cannot do this, it only sends when a connection is free). A
 * Linux timerfd watched by libuv wakes the loop at each due time with microsecond precision.
 *
 * Each due request goes to an idle keep-alive connection. When none is idle, a new connection is
 * opened, up to C. When C connections are all busy the request waits in a queue and counts as
 * "late"; its latency is then measured from its *scheduled* time, so a stalled server is charged for
 * the whole wait (no coordinated omission). A request sent on time is measured from the moment it
 * was dispatched (scheduler lag of the generator itself is reported as max_sched_lag_us, not charged
 * to the server).
 *
 * Responses are read in full with http_parser (Content-Length or chunked; for --stream the body must
 * end with the SSE "data: [DONE]" line). A request is ok when its status is 2xx and the body is
 * complete. Latencies of ok requests go into a log-linear histogram (exact below 128 us, < 1.6%
 * relative error above). Requests due during --warmup are sent but not counted.
 *
 * Output, one JSON line on stdout:
 *   {"rate":R,"sent":N,"ok":N,"errors":N,"p50_us":..,"p90_us":..,"p99_us":..,"max_us":..,
 *    "achieved_rps":.., ...}
 * achieved_rps is ok responses per second over the measured window (its start to the last ok
 * response). Exit status 0 when the run completed (even with errors), 2 on bad usage.
 */
#include <errno.h>
#include <http_parser.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"

/* ---- histogram: HdrHistogram-like log-linear buckets over microseconds ------------------------ */

#define H_SUB_BITS 7                    /* 128 exact values, then 64 sub-buckets per power of two */
#define H_SUB (1u << H_SUB_BITS)        /* 128 */
#define H_HALF (H_SUB / 2)              /* 64 */
#define H_MAX_SHIFT 40                  /* covers values up to ~2^47 us */
#define H_BUCKETS (H_SUB + H_MAX_SHIFT * H_HALF)

struct hist {
    uint64_t count[H_BUCKETS];
    uint64_t total;
    uint64_t max;
    uint64_t min;
    double sum;
};

static unsigned hist_index(uint64_t v)
{
    if (v < H_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - (H_SUB_BITS - 1); /* v >> shift lies in [64, 127] */
    if (shift > H_MAX_SHIFT)
        return H_BUCKETS - 1;
    return H_SUB + (shift - 1) * H_HALF + (unsigned)((v >> shift) - H_HALF);
}

/* Highest value that maps to bucket i (what HdrHistogram reports as "highest equivalent value"). */
static uint64_t hist_bucket_high(unsigned i)
{
    if (i < H_SUB)
        return i;
    unsigned shift = (i - H_SUB) / H_HALF + 1;
    uint64_t sub = (i - H_SUB) % H_HALF + H_HALF;
    return ((sub + 1) << shift) - 1;
}

static void hist_record(struct hist *h, uint64_t v)
{
    h->count[hist_index(v)]++;
    if (h->total == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->total++;
    h->sum += (double)v;
}

/* Value at quantile q (0..1): the smallest bucket whose cumulative count reaches ceil(q * total),
 * reported as that bucket's highest value, clamped to the recorded max. */
static uint64_t hist_quantile(const struct hist *h, double q)
{
    if (h->total == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)h->total);
    if (want < 1)
        want = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < H_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= want) {
            uint64_t v = hist_bucket_high(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* ---- options --------------------------------------------------------------------------------- */

struct opts {
    char host[256];
    int port;
    char path[1024];
    double rate;
    double duration;
    double warmup;
    double timeout;
    int connections;
    int stream;
    char *body;
    size_t body_len;
};

static struct opts O = {.rate = 100, .duration = 10, .timeout = 10, .connections = 64};

/* ---- connections ----------------------------------------------------------------------------- */

enum cstate { C_CONNECTING, C_IDLE, C_BUSY, C_CLOSING };

struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    http_parser parser;
    enum cstate state;
    struct conn *next, *prev; /* in the idle list while idle */
    int in_idle;
    /* the request in flight */
    int has_req;
    int measured;
    int late;
    uint64_t t_origin; /* latency is measured from here (dispatch time, or schedule time if late) */
    uint64_t t_sent;
    int got_first_body;
    uint64_t t_first_body;
    int complete;
    char tail[32];
    size_t tail_len;
};

struct wreq {
    uv_write_t req;
    struct conn *c;
};

/* ---- global run state ------------------------------------------------------------------------ */

struct stats {
    uint64_t sent;
    uint64_t ok;
    uint64_t err_status;
    uint64_t err_conn;
    uint64_t err_timeout;
    uint64_t err_body;
    uint64_t unsent;
    uint64_t late;
};

static struct {
    uv_loop_t *loop;
    struct sockaddr_storage addr;
    char *request;
    size_t request_len;

    int tfd;
    uv_poll_t tpoll;
    uv_timer_t sweep;

    uint64_t t_start;         /* schedule origin */
    uint64_t t_measure;       /* requests due at or after this are counted */
    uint64_t t_end;           /* no request is due at or after this */
    uint64_t t_drain_deadline;
    uint64_t period_ns;
    uint64_t issued;          /* requests dispatched or queued so far (schedule index) */
    uint64_t total_due;
    uint64_t max_lag_ns;
    uint64_t t_last_ok;
    int stopping;             /* schedule finished */
    int closing;              /* tearing everything down */

    struct conn **all;        /* live connections, unordered */
    int nall;
    int cap_all;
    int busy;                 /* connections with a request in flight (incl. connecting) */
    uint64_t opened;
    struct conn *idle_head;

    uint64_t *queue;          /* scheduled times of late requests, ring buffer */
    size_t qcap, qhead, qlen;

    struct stats st;
    struct hist lat;
    struct hist ttfb;
    struct hist lag;
} G;

static void dispatch_on(struct conn *c, uint64_t origin, uint64_t sched, int late);
static void conn_close(struct conn *c);
static void maybe_finish(void);
static struct conn *conn_open(void);

static int is_measured(uint64_t sched)
{
    return sched >= G.t_measure;
}

static void queue_push(uint64_t t)
{
    if (G.qlen == G.qcap) {
        size_t ncap = G.qcap ? G.qcap * 2 : 1024;
        uint64_t *nq = xmalloc(ncap * sizeof *nq);
        for (size_t i = 0; i < G.qlen; i++)
            nq[i] = G.queue[(G.qhead + i) % G.qcap];
        free(G.queue);
        G.queue = nq;
        G.qcap = ncap;
        G.qhead = 0;
    }
    G.queue[(G.qhead + G.qlen) % G.qcap] = t;
    G.qlen++;
}

static uint64_t queue_pop(void)
{
    uint64_t t = G.queue[G.qhead];
    G.qhead = (G.qhead + 1) % G.qcap;
    G.qlen--;
    return t;
}

static void idle_push(struct conn *c)
{
    c->state = C_IDLE;
    c->prev = NULL;
    c->next = G.idle_head;
    if (G.idle_head)
        G.idle_head->prev = c;
    G.idle_head = c;
    c->in_idle = 1;
}

static void idle_remove(struct conn *c)
{
    if (!c->in_idle)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        G.idle_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    c->in_idle = 0;
}

static struct conn *idle_pop(void)
{
    struct conn *c = G.idle_head;
    if (c)
        idle_remove(c);
    return c;
}

/* Ends the request in flight on c, counting it under the given outcome. */
enum outcome { OUT_OK, OUT_STATUS, OUT_CONN, OUT_TIMEOUT, OUT_BODY };

static void finish_request(struct conn *c, enum outcome out)
{
    if (!c->has_req)
        return;
    c->has_req = 0;
    G.busy--;
    if (!c->measured)
        return;
    uint64_t now = time_now_ns();
    switch (out) {
    case OUT_OK:
        G.st.ok++;
        hist_record(&G.lat, (now - c->t_origin) / 1000);
        if (O.stream && c->got_first_body)
            hist_record(&G.ttfb, (c->t_first_body - c->t_origin) / 1000);
        G.t_last_ok = now;
        break;
    case OUT_STATUS: G.st.err_status++; break;
    case OUT_CONN: G.st.err_conn++; break;
    case OUT_TIMEOUT: G.st.err_timeout++; break;
    case OUT_BODY: G.st.err_body++; break;
    }
}

/* c has no request any more and stays open: give it the oldest late request, or park it. */
static void conn_free_for_next(struct conn *c)
{
    if (G.qlen > 0) {
        uint64_t sched = queue_pop();
        dispatch_on(c, sched, sched, 1);
        return;
    }
    idle_push(c);
    maybe_finish();
}

/* ---- http_parser callbacks ------------------------------------------------------------------- */

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (!c->got_first_body) {
        c->got_first_body = 1;
        c->t_first_body = time_now_ns();
    }
    /* keep the last bytes to check the stream's end marker */
    if (len >= sizeof c->tail) {
        memcpy(c->tail, at + len - sizeof c->tail, sizeof c->tail);
        c->tail_len = sizeof c->tail;
    } else {
        size_t keep = sizeof c->tail - len;
        if (keep > c->tail_len)
            keep = c->tail_len;
        memmove(c->tail, c->tail + c->tail_len - keep, keep);
        memcpy(c->tail + keep, at, len);
        c->tail_len = keep + len;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct conn *c = p->data;
    c->complete = 1;
    return 0;
}

static http_parser_settings parser_settings = {
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static int tail_has_done(const struct conn *c)
{
    static const char marker[] = "[DONE]";
    size_t m = sizeof marker - 1;
    for (size_t i = 0; i + m <= c->tail_len; i++)
        if (memcmp(c->tail + i, marker, m) == 0)
            return 1;
    return 0;
}

/* ---- I/O ------------------------------------------------------------------------------------- */

static char read_buf[65536];

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    b->base = read_buf;
    b->len = sizeof read_buf;
}

static void close_cb(uv_handle_t *h)
{
    struct conn *c = h->data;
    for (int i = 0; i < G.nall; i++) {
        if (G.all[i] == c) {
            G.all[i] = G.all[--G.nall];
            break;
        }
    }
    free(c);
    /* late requests still waiting and no connection left to serve them: open one */
    if (!G.closing && G.qlen > 0 && G.nall < O.connections && G.idle_head == NULL) {
        struct conn *n = conn_open();
        if (n) {
            uint64_t sched = queue_pop();
            n->has_req = 1;
            n->measured = is_measured(sched);
            n->late = 1;
            n->t_origin = sched;
            G.busy++;
        }
    }
    maybe_finish();
}

static void conn_close(struct conn *c)
{
    if (c->state == C_CLOSING)
        return;
    idle_remove(c);
    c->state = C_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, close_cb);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (n == 0)
        return;
    if (n < 0) {
        if (c->has_req) {
            /* EOF may legitimately end a response without a length */
            if (n == UV_EOF)
                http_parser_execute(&c->parser, &parser_settings, NULL, 0);
            if (c->complete) {
                int ok2xx = c->parser.status_code >= 200 && c->parser.status_code < 300;
                finish_request(c, !ok2xx ? OUT_STATUS : (O.stream && !tail_has_done(c)) ? OUT_BODY : OUT_OK);
            } else {
                finish_request(c, OUT_CONN);
            }
        }
        conn_close(c);
        return;
    }
    if (!c->has_req) {
        /* bytes on an idle connection: the server is confused; drop the connection */
        conn_close(c);
        return;
    }
    size_t done = http_parser_execute(&c->parser, &parser_settings, b->base, (size_t)n);
    if (c->parser.http_errno != HPE_OK && !(c->complete && c->parser.http_errno == HPE_PAUSED)) {
        finish_request(c, OUT_CONN);
        conn_close(c);
        return;
    }
    if (!c->complete)
        return;
    int ok2xx = c->parser.status_code >= 200 && c->parser.status_code < 300;
    enum outcome out = !ok2xx ? OUT_STATUS : (O.stream && !tail_has_done(c)) ? OUT_BODY : OUT_OK;
    int keep = http_should_keep_alive(&c->parser) && done == (size_t)n;
    finish_request(c, out);
    if (!keep || G.closing) {
        conn_close(c);
        return;
    }
    conn_free_for_next(c);
}

static void write_cb(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct conn *c = w->c;
    free(w);
    if (status < 0 && c->state != C_CLOSING) {
        finish_request(c, OUT_CONN);
        conn_close(c);
    }
}

/* Starts the request on connection c (connected, not busy). */
static void send_request(struct conn *c)
{
    c->state = C_BUSY;
    c->complete = 0;
    c->got_first_body = 0;
    c->tail_len = 0;
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    c->t_sent = time_now_ns();
    if (c->measured)
        G.st.sent++;

    uv_buf_t b = uv_buf_init(G.request, (unsigned)G.request_len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)G.request_len)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        finish_request(c, OUT_CONN);
        conn_close(c);
        return;
    }
    if (n > 0) {
        b.base += n;
        b.len -= (size_t)n;
    }
    struct wreq *w = xmalloc(sizeof *w);
    w->c = c;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
    if (rc < 0) {
        free(w);
        finish_request(c, OUT_CONN);
        conn_close(c);
    }
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    if (c->state == C_CLOSING)
        return;
    if (status < 0) {
        finish_request(c, OUT_CONN);
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) < 0) {
        finish_request(c, OUT_CONN);
        conn_close(c);
        return;
    }
    if (c->has_req)
        send_request(c);
    else
        conn_free_for_next(c);
}

/* Opens a new connection (state C_CONNECTING, no request attached), or NULL on failure. */
static struct conn *conn_open(void)
{
    struct conn *c = xcalloc(1, sizeof *c);
    if (uv_tcp_init(G.loop, &c->tcp) < 0) {
        free(c);
        return NULL;
    }
    c->tcp.data = c;
    c->creq.data = c;
    c->state = C_CONNECTING;
    if (G.nall == G.cap_all) {
        G.cap_all = G.cap_all ? G.cap_all * 2 : 64;
        G.all = xrealloc(G.all, (size_t)G.cap_all * sizeof *G.all);
    }
    G.all[G.nall++] = c;
    G.opened++;
    int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&G.addr, connect_cb);
    if (rc < 0) {
        /* counted by the caller through has_req; close asynchronously */
        c->state = C_CLOSING;
        uv_close((uv_handle_t *)&c->tcp, close_cb);
        return NULL;
    }
    return c;
}

/* Puts a request with the given latency origin on c, which is connected and idle. */
static void dispatch_on(struct conn *c, uint64_t origin, uint64_t sched, int late)
{
    c->has_req = 1;
    c->measured = is_measured(sched);
    c->late = late;
    c->t_origin = origin;
    G.busy++;
    send_request(c);
}

/* One request is due at time sched. */
static void dispatch(uint64_t sched, uint64_t now)
{
    struct conn *c = idle_pop();
    if (c) {
        dispatch_on(c, now, sched, 0);
        return;
    }
    if (G.nall < O.connections) {
        c = conn_open();
        if (c) {
            c->has_req = 1;
            c->measured = is_measured(sched);
            c->late = 0;
            c->t_origin = now; /* connect time is charged to the server */
            G.busy++;
        } else if (is_measured(sched)) {
            G.st.err_conn++;
        }
        return;
    }
    if (is_measured(sched))
        G.st.late++;
    queue_push(sched);
}

static uint64_t sched_time(uint64_t i)
{
    return G.t_start + (uint64_t)((double)i * 1e9 / O.rate);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        if (h->type == UV_TCP) {
            struct conn *c = h->data;
            c->state = C_CLOSING;
            idle_remove(c);
            uv_close(h, close_cb);
        } else {
            uv_close(h, NULL);
        }
    }
}

static void teardown(void)
{
    if (G.closing)
        return;
    G.closing = 1;
    /* whatever is still in flight or queued was not served in time */
    for (int i = 0; i < G.nall; i++)
        finish_request(G.all[i], OUT_TIMEOUT);
    while (G.qlen > 0) {
        uint64_t s = queue_pop();
        if (is_measured(s))
            G.st.unsent++;
    }
    uv_walk(G.loop, close_walk_cb, NULL);
}

static void maybe_finish(void)
{
    if (G.stopping && !G.closing && G.busy == 0 && G.qlen == 0)
        teardown();
}

static void tick(uv_poll_t *h, int status, int events)
{
    (void)h;
    (void)events;
    if (status < 0 || G.stopping)
        return;
    uint64_t exp;
    ssize_t r = read(G.tfd, &exp, sizeof exp);
    (void)r;
    uint64_t now = time_now_ns();
    if (now < G.t_start)
        return;
    /* number of requests due by now: i with start + i/R <= now */
    uint64_t due = (uint64_t)floor((double)(now - G.t_start) * O.rate / 1e9) + 1;
    if (due > G.total_due)
        due = G.total_due;
    for (; G.issued < due; G.issued++) {
        uint64_t s = sched_time(G.issued);
        if (is_measured(s)) {
            if (now - s > G.max_lag_ns)
                G.max_lag_ns = now - s;
            hist_record(&G.lag, (now - s) / 1000);
        }
        dispatch(s, now);
    }
    if (G.issued >= G.total_due) {
        G.stopping = 1;
        G.t_drain_deadline = now + (uint64_t)(O.timeout * 1e9);
        uv_poll_stop(&G.tpoll);
        maybe_finish();
    }
}

/* Every 50 ms: time out requests that have waited longer than --timeout, end the drain. */
static void sweep_cb(uv_timer_t *t)
{
    (void)t;
    if (G.closing)
        return;
    uint64_t now = time_now_ns();
    uint64_t limit = (uint64_t)(O.timeout * 1e9);
    for (int i = 0; i < G.nall; i++) {
        struct conn *c = G.all[i];
        if (c->has_req && c->state != C_CLOSING && now - c->t_origin > limit) {
            finish_request(c, OUT_TIMEOUT);
            conn_close(c);
        }
    }
    while (G.qlen > 0 && now - G.queue[G.qhead] > limit) {
        uint64_t s = queue_pop();
        if (is_measured(s))
            G.st.err_timeout++;
    }
    if (G.stopping && now >= G.t_drain_deadline)
        teardown();
    else
        maybe_finish();
}

/* ---- setup ----------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --url http://HOST:PORT/PATH --rate R --duration S [--connections C]\n"
            "               [--body FILE] [--stream] [--warmup S] [--timeout S]\n"
            "  --rate R         requests per second, on a fixed schedule (open loop)\n"
            "  --duration S     seconds measured (after the warmup)\n"
            "  --connections C  most keep-alive connections to open (default 64)\n"
            "  --body FILE      JSON body to POST (default: GET)\n"
            "  --stream         the response is SSE; it must end with data: [DONE]\n"
            "  --warmup S       seconds at the same rate before measuring (default 0)\n"
            "  --timeout S      a request still unanswered after S seconds is an error (default 10)\n");
    exit(2);
}

static int parse_url(const char *url)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) != 0)
        return -1;
    p += 7;
    const char *slash = strchr(p, '/');
    const char *hostend = slash ? slash : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(hostend - p));
    const char *he = colon ? colon : hostend;
    if (he == p || (size_t)(he - p) >= sizeof O.host)
        return -1;
    memcpy(O.host, p, (size_t)(he - p));
    O.host[he - p] = '\0';
    O.port = 80;
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (end != hostend || v <= 0 || v > 65535)
            return -1;
        O.port = (int)v;
    }
    snprintf(O.path, sizeof O.path, "%s", slash ? slash : "/");
    return 0;
}

static double parse_num(const char *s, const char *what)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v >= 0)) {
        fprintf(stderr, "loadgen: bad %s: %s\n", what, s);
        usage();
    }
    return v;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = BUF_INIT;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_append(&b, tmp, n);
    fclose(f);
    /* a trailing newline from an editor is not part of the JSON body */
    while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
        b.len--;
    *len = b.len;
    return buf_detach(&b);
}

static void parse_args(int argc, char **argv)
{
    const char *url = NULL, *body = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--stream") == 0) {
            O.stream = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
        } else if (!has) {
            fprintf(stderr, "loadgen: %s needs a value or is unknown\n", a);
            usage();
        } else if (strcmp(a, "--url") == 0) {
            url = argv[++i];
        } else if (strcmp(a, "--rate") == 0) {
            O.rate = parse_num(argv[++i], "rate");
        } else if (strcmp(a, "--duration") == 0) {
            O.duration = parse_num(argv[++i], "duration");
        } else if (strcmp(a, "--warmup") == 0) {
            O.warmup = parse_num(argv[++i], "warmup");
        } else if (strcmp(a, "--timeout") == 0) {
            O.timeout = parse_num(argv[++i], "timeout");
        } else if (strcmp(a, "--connections") == 0) {
            O.connections = (int)parse_num(argv[++i], "connections");
        } else if (strcmp(a, "--body") == 0) {
            body = argv[++i];
        } else {
            fprintf(stderr, "loadgen: unknown option %s\n", a);
            usage();
        }
    }
    if (!url || parse_url(url) < 0) {
        fprintf(stderr, "loadgen: --url http://HOST:PORT/PATH is required\n");
        usage();
    }
    if (O.rate <= 0 || O.rate > 1e6 || O.duration <= 0 || O.connections < 1 || O.timeout <= 0) {
        fprintf(stderr, "loadgen: need 0 < rate <= 1e6, duration > 0, connections >= 1, timeout > 0\n");
        usage();
    }
    if (body) {
        O.body = read_file(body, &O.body_len);
        if (!O.body) {
            fprintf(stderr, "loadgen: cannot read %s: %s\n", body, strerror(errno));
            exit(2);
        }
    }
}

static void build_request(void)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "%s %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: tollgate-loadgen\r\n",
               O.body ? "POST" : "GET", O.path, O.host, O.port);
    if (O.stream)
        buf_puts(&b, "Accept: text/event-stream\r\n");
    else
        buf_puts(&b, "Accept: application/json\r\n");
    if (O.body)
        buf_printf(&b, "Content-Type: application/json\r\nContent-Length: %zu\r\n", O.body_len);
    buf_puts(&b, "Authorization: Bearer bench\r\n\r\n");
    if (O.body)
        buf_append(&b, O.body, O.body_len);
    G.request_len = b.len;
    G.request = buf_detach(&b);
}

static int resolve(void)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof port, "%d", O.port);
    int rc = getaddrinfo(O.host, port, &hints, &res);
    if (rc != 0 || !res) {
        fprintf(stderr, "loadgen: cannot resolve %s: %s\n", O.host, gai_strerror(rc));
        return -1;
    }
    memcpy(&G.addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static void print_result(void)
{
    const struct stats *s = &G.st;
    uint64_t errors = s->err_status + s->err_conn + s->err_timeout + s->err_body + s->unsent;
    double window_s = O.duration;
    if (G.t_last_ok > G.t_measure)
        window_s = (double)(G.t_last_ok - G.t_measure) / 1e9;
    if (window_s < O.duration)
        window_s = O.duration;
    double achieved = (double)s->ok / window_s;
    printf("{\"rate\":%.6g,\"duration_s\":%.6g,\"stream\":%s,\"connections\":%d,"
           "\"sent\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"errors\":%" PRIu64 ","
           "\"p50_us\":%" PRIu64 ",\"p90_us\":%" PRIu64 ",\"p99_us\":%" PRIu64 ",\"p999_us\":%" PRIu64
           ",\"max_us\":%" PRIu64 ",\"min_us\":%" PRIu64 ",\"mean_us\":%.1f,\"achieved_rps\":%.1f,",
           O.rate, O.duration, O.stream ? "true" : "false", O.connections, s->sent, s->ok, errors,
           hist_quantile(&G.lat, 0.50), hist_quantile(&G.lat, 0.90), hist_quantile(&G.lat, 0.99),
           hist_quantile(&G.lat, 0.999), G.lat.max, G.lat.min,
           G.lat.total ? G.lat.sum / (double)G.lat.total : 0.0, achieved);
    if (O.stream)
        printf("\"ttfb_p50_us\":%" PRIu64 ",\"ttfb_p99_us\":%" PRIu64 ",", hist_quantile(&G.ttfb, 0.50),
               hist_quantile(&G.ttfb, 0.99));
    printf("\"late\":%" PRIu64 ",\"p50_sched_lag_us\":%" PRIu64 ",\"p99_sched_lag_us\":%" PRIu64 ",\"max_sched_lag_us\":%" PRIu64 ",\"connections_opened\":%" PRIu64 ","
           "\"err_status\":%" PRIu64 ",\"err_conn\":%" PRIu64 ",\"err_timeout\":%" PRIu64
           ",\"err_body\":%" PRIu64 ",\"unsent\":%" PRIu64 "}\n",
           s->late, hist_quantile(&G.lag, 0.50), hist_quantile(&G.lag, 0.99), G.max_lag_ns / 1000, G.opened, s->err_status, s->err_conn, s->err_timeout,
           s->err_body, s->unsent);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    if (resolve() < 0)
        return 1;
    build_request();
    signal(SIGPIPE, SIG_IGN);
    /* wake at the due time, not up to 50 us later (the default timer slack) */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

    G.loop = uv_default_loop();
    G.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (G.tfd < 0) {
        fprintf(stderr, "loadgen: timerfd_create: %s\n", strerror(errno));
        return 1;
    }
    G.period_ns = (uint64_t)(1e9 / O.rate);
    if (G.period_ns < 20000) /* above 50k req/s, wake every 20 us and send what is due */
        G.period_ns = 20000;
    G.total_due = (uint64_t)llround((O.warmup + O.duration) * O.rate);
    if (G.total_due == 0)
        G.total_due = 1;

    G.t_start = time_now_ns() + 1000000; /* first request 1 ms from now */
    G.t_measure = G.t_start + (uint64_t)(O.warmup * 1e9);
    G.t_end = G.t_start + (uint64_t)((O.warmup + O.duration) * 1e9);
    struct itimerspec its = {
        .it_value = {(time_t)(G.t_start / 1000000000ull), (long)(G.t_start % 1000000000ull)},
        .it_interval = {(time_t)(G.period_ns / 1000000000ull), (long)(G.period_ns % 1000000000ull)},
    };
    if (timerfd_settime(G.tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
        fprintf(stderr, "loadgen: timerfd_settime: %s\n", strerror(errno));
        return 1;
    }
    uv_poll_init(G.loop, &G.tpoll, G.tfd);
    uv_poll_start(&G.tpoll, UV_READABLE, tick);
    uv_timer_init(G.loop, &G.sweep);
    uv_timer_start(&G.sweep, sweep_cb, 50, 50);

    uv_run(G.loop, UV_RUN_DEFAULT);
    close(G.tfd);
    print_result();
    uv_loop_close(G.loop);
    free(G.request);
    free(O.body);
    free(G.all);
    free(G.queue);
    return 0;
}
