/* The upstream HTTP client: one libcurl multi handle driven by a libuv loop.
 *
 * Decisions:
 * 1. curl owns the sockets; we only watch them. CURLMOPT_SOCKETFUNCTION gives one uv_poll_t per
 *    socket (struct upstream_sock, attached with curl_multi_assign). On CURL_POLL_REMOVE the poll
 *    is stopped at once and closed; its memory goes in the close callback. uv_poll_stop() drops
 *    the fd from the loop's watcher table and from epoll while the fd is still open (curl calls
 *    REMOVE before it closes), so when curl hands us the same fd number again right away (a new
 *    connection, or a paused transfer being unpaused) a fresh uv_poll_t on it is fine even though
 *    the old one is still closing.
 * 2. CURLMOPT_TIMERFUNCTION only (re)arms one uv_timer_t; curl_multi_socket_action runs from the
 *    uv callbacks, never from inside a curl callback. A zero timeout is a zero uv timer (it runs
 *    in the next timer phase, no 1 ms floor); because libuv 1.44 runs a timer re-armed with 0
 *    inside its own callback again in the same phase, a long streak of those falls back to 1 ms so
 *    I/O cannot starve.
 * 3. Re-entrancy. curl forbids most of its API inside its callbacks, and our callbacks
 *    (on_headers, on_data) run inside curl. u->in_curl counts the curl calls on the stack that can
 *    call back (socket_action, curl_easy_pause, remove_handle). Anything the user asks for
 *    meanwhile (cancel, resume, start, abort, free) is recorded on the transfer and queued;
 *    u_reap() runs it once the outermost curl call returned, after draining curl_multi_info_read.
 *    on_done always runs outside curl, so it may start, cancel or free anything.
 * 4. A transfer ends in exactly one on_done, unless cancelled. Its easy handle is removed and
 *    cleaned up before on_done runs (so a retry started from on_done can reuse the connection),
 *    and the struct is freed in the close callback of its one uv timer. Removing a transfer
 *    mid-response makes curl close an HTTP/1.1 connection ("Removed with partial response") or
 *    reset an h2 stream, so the upstream sees the cancel at once.
 * 5. Timeouts: connect and total are curl's (CURLOPT_CONNECTTIMEOUT_MS, CURLOPT_TIMEOUT_MS); first
 *    byte and idle are ours, on the transfer's single uv timer: first byte from start until the
 *    final header block, then idle, re-armed at each body chunk and stopped while paused (the
 *    slowness is then ours, not the upstream's). Whether a curl timeout hit before the connection
 *    was up is known exactly from CURLOPT_PREREQFUNCTION, which runs once the connection is
 *    established.
 * 6. Back-pressure: on_data returning UPSTREAM_PAUSE has consumed its bytes, so we return the full
 *    length and call curl_easy_pause(CURLPAUSE_RECV) from inside the write callback (allowed).
 *    curl 7.88 may still call the write callback again in the same round (its chop loop does not
 *    recheck the pause); those calls get CURL_WRITEFUNC_PAUSE, so curl keeps the bytes and
 *    re-delivers them on resume. curl_easy_pause(CURLPAUSE_CONT) may deliver that kept data
 *    synchronously; it runs under in_curl like socket_action, and curl arms a zero timer to pick
 *    the socket up again.
 * 7. HTTP/2 is negotiated by ALPN over TLS only and multiplexed (CURLPIPE_MULTIPLEX, PIPEWAIT);
 *    plaintext uses HTTP/1.1 because h2c connection reuse is broken in curl 7.88 (curl#10634).
 *    Connections per host are unlimited and up to UPSTREAM_MAX_CONNECTS idle ones are kept, so a
 *    burst of streams does not close reusable connections.
 * 8. Bytes pass through as sent: no Accept-Encoding, no decoding; curl only de-chunks.
 */
#include "net/upstream.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"

/* Idle connections kept in the multi's cache (curl's default is 4 x handles, which closes
 * connections after a burst that the next burst wants again). */
#define UPSTREAM_MAX_CONNECTS 1024
/* Zero-timeout re-arms in one timer phase before we fall back to 1 ms (see decision 2). */
#define UPSTREAM_ZERO_TIMER_STREAK 64

struct upstream_sock {
    uv_poll_t poll;
    struct upstream *u;
    curl_socket_t fd;
    struct upstream_sock *prev, *next; /* u->socks, until closed */
};

struct upstream_xfer {
    struct upstream *u;
    CURL *easy;
    struct curl_slist *hdrs;
    struct upstream_callbacks cb;
    void *ud;
    uv_timer_t timer; /* first-byte timeout until headers, then idle timeout */
    uint32_t connect_ms, first_byte_ms, total_ms, idle_ms;
    struct buf head;  /* header lines of the current response, each NUL-terminated */
    size_t n_head;
    int https;
    int added;        /* in the multi */
    int released;     /* easy handle gone, timer closing */
    int done;         /* on_done called (or about to be) */
    int cancelled;
    int paused;
    int headers_done;
    int connected;
    int queued;       /* on u's deferred-work queue */
    int want_add;
    int want_resume;
    enum upstream_result abort_result; /* UPSTREAM_OK = none */
    const char *abort_msg;
    char errbuf[CURL_ERROR_SIZE];
    char msg[CURL_ERROR_SIZE + 64];
    struct upstream_xfer *prev, *next; /* u->xfers, until released */
    struct upstream_xfer *qnext;
};

struct upstream {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct upstream_xfer *xfers;
    struct upstream_xfer *qhead, *qtail;
    struct upstream_sock *socks;
    size_t active;
    size_t open_handles; /* uv handles not yet closed: timer, polls, transfer timers */
    int in_curl;
    int reaping;
    int freeing;
    int destroyed;
    int in_timer_cb;
    unsigned zero_streak;
    uint64_t timer_phase_now;
    CURL *idle_easy[UPSTREAM_EASY_POOL]; /* reset handles kept for the next transfers */
    size_t n_idle_easy;
};

static pthread_once_t upstream_once = PTHREAD_ONCE_INIT;

/* Returns an easy handle for a new transfer: a pooled one (already reset), or a new one. A new handle
 * costs curl a large zeroed allocation and its buffers; under load that was a tenth of the
 * instructions per request. */
static CURL *easy_get(struct upstream *u)
{
    CURL *e = u->n_idle_easy ? u->idle_easy[--u->n_idle_easy] : curl_easy_init();
    if (!e) {
        log_error("upstream: curl_easy_init failed");
        abort();
    }
    return e;
}

/* Keeps a finished handle for reuse (reset to defaults), or frees it when the pool is full. */
static void easy_put(struct upstream *u, CURL *e)
{
    if (u->n_idle_easy < UPSTREAM_EASY_POOL && !u->freeing && !u->destroyed) {
        curl_easy_reset(e);
        u->idle_easy[u->n_idle_easy++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

static void upstream_global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("upstream: curl_global_init failed");
        abort();
    }
}

const char *upstream_result_str(enum upstream_result r)
{
    switch (r) {
    case UPSTREAM_OK: return "ok";
    case UPSTREAM_ERR_CONNECT: return "connect_error";
    case UPSTREAM_ERR_CONNECT_TIMEOUT: return "connect_timeout";
    case UPSTREAM_ERR_FIRST_BYTE_TIMEOUT: return "first_byte_timeout";
    case UPSTREAM_ERR_TOTAL_TIMEOUT: return "total_timeout";
    case UPSTREAM_ERR_IDLE_TIMEOUT: return "idle_timeout";
    case UPSTREAM_ERR_IO: return "io_error";
    case UPSTREAM_ERR_TOO_LARGE: return "too_large";
    }
    return "unknown";
}

/* ---- handle bookkeeping ---- */

static void u_handle_closed(struct upstream *u)
{
    if (--u->open_handles == 0 && u->destroyed)
        free(u);
}

static void u_timer_close_cb(uv_handle_t *h)
{
    u_handle_closed(h->data);
}

static void sock_close_cb(uv_handle_t *h)
{
    struct upstream_sock *sk = h->data;
    struct upstream *u = sk->u;
    free(sk);
    u_handle_closed(u);
}

static void sock_close(struct upstream_sock *sk)
{
    struct upstream *u = sk->u;
    if (sk->prev)
        sk->prev->next = sk->next;
    else
        u->socks = sk->next;
    if (sk->next)
        sk->next->prev = sk->prev;
    sk->prev = sk->next = NULL;
    uv_poll_stop(&sk->poll);
    uv_close((uv_handle_t *)&sk->poll, sock_close_cb);
}

static void xfer_close_cb(uv_handle_t *h)
{
    struct upstream_xfer *x = h->data;
    struct upstream *u = x->u;
    free(x);
    u_handle_closed(u);
}

static void u_queue(struct upstream *u, struct upstream_xfer *x)
{
    if (x->queued)
        return;
    x->queued = 1;
    x->qnext = NULL;
    if (u->qtail)
        u->qtail->qnext = x;
    else
        u->qhead = x;
    u->qtail = x;
}

static struct upstream_xfer *u_dequeue(struct upstream *u)
{
    struct upstream_xfer *x = u->qhead;
    if (!x)
        return NULL;
    u->qhead = x->qnext;
    if (!u->qhead)
        u->qtail = NULL;
    x->qnext = NULL;
    x->queued = 0;
    return x;
}

/* Removes the easy handle from the multi, frees curl's state and closes the timer; the struct
 * itself is freed in the timer's close callback. Never inside a curl callback. */
static void xfer_release(struct upstream_xfer *x)
{
    struct upstream *u = x->u;
    if (x->released)
        return;
    x->released = 1;
    if (x->prev)
        x->prev->next = x->next;
    else
        u->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    if (x->easy) {
        u->in_curl++;
        if (x->added)
            curl_multi_remove_handle(u->multi, x->easy);
        easy_put(u, x->easy);
        u->in_curl--;
        x->easy = NULL;
    }
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    buf_free(&x->head);
    uv_close((uv_handle_t *)&x->timer, xfer_close_cb);
}

/* Ends a transfer with result r and the text already in x->msg: releases it, then calls on_done.
 * Never inside a curl callback. */
static void xfer_finish(struct upstream_xfer *x, enum upstream_result r)
{
    x->done = 1;
    x->u->active--;
    xfer_release(x);
    x->cb.on_done(x->ud, r, x->msg);
}

/* Records that x must end with result r (first reason wins) and queues it; curl usually ends it
 * first through the callback's error return, and u_reap() catches the cases where it does not. */
static void xfer_set_abort(struct upstream_xfer *x, enum upstream_result r, const char *msg)
{
    if (x->abort_result == UPSTREAM_OK) {
        x->abort_result = r;
        x->abort_msg = msg;
    }
    u_queue(x->u, x);
}

/* ---- curl results ---- */

static const char *xfer_curl_text(struct upstream_xfer *x, CURLcode code)
{
    return x->errbuf[0] ? x->errbuf : curl_easy_strerror(code);
}

/* Maps how curl ended x to a result, and writes the message. */
static enum upstream_result xfer_map_result(struct upstream_xfer *x, CURLcode code)
{
    if (x->abort_result != UPSTREAM_OK) {
        snprintf(x->msg, sizeof(x->msg), "%s", x->abort_msg);
        return x->abort_result;
    }
    switch (code) {
    case CURLE_OK:
        if (!x->headers_done) {
            snprintf(x->msg, sizeof(x->msg), "upstream sent no response headers");
            return UPSTREAM_ERR_IO;
        }
        snprintf(x->msg, sizeof(x->msg), "ok");
        return UPSTREAM_OK;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
        snprintf(x->msg, sizeof(x->msg), "could not connect to upstream: %s",
                 xfer_curl_text(x, code));
        return UPSTREAM_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        /* Before the connection was up this is the connect limit, unless the total limit is the
         * shorter one (then that one hit). */
        if (!x->connected && (x->connect_ms ? x->total_ms == 0 || x->connect_ms <= x->total_ms
                                            : x->total_ms == 0)) {
            if (x->connect_ms)
                snprintf(x->msg, sizeof(x->msg), "could not connect to upstream within %u ms",
                         (unsigned)x->connect_ms);
            else
                snprintf(x->msg, sizeof(x->msg), "could not connect to upstream: %s",
                         xfer_curl_text(x, code));
            return UPSTREAM_ERR_CONNECT_TIMEOUT;
        }
        snprintf(x->msg, sizeof(x->msg), "upstream response did not complete within %u ms",
                 (unsigned)x->total_ms);
        return UPSTREAM_ERR_TOTAL_TIMEOUT;
    case CURLE_FILESIZE_EXCEEDED:
        snprintf(x->msg, sizeof(x->msg), "upstream response too large");
        return UPSTREAM_ERR_TOO_LARGE;
    case CURLE_WRITE_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
        snprintf(x->msg, sizeof(x->msg), "upstream response refused");
        return UPSTREAM_ERR_TOO_LARGE;
    default:
        snprintf(x->msg, sizeof(x->msg), "upstream connection failed: %s", xfer_curl_text(x, code));
        return UPSTREAM_ERR_IO;
    }
}

/* ---- deferred work ---- */

static void u_destroy(struct upstream *u);
static void xfer_do_resume(struct upstream_xfer *x);

/* Collects finished transfers from curl and calls their on_done. */
static void u_process_done(struct upstream *u)
{
    CURLMsg *m;
    int left;
    while (!u->freeing && u->multi && (m = curl_multi_info_read(u->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURLcode code = m->data.result;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        struct upstream_xfer *x = (struct upstream_xfer *)priv;
        if (!x || x->released || x->done)
            continue;
        if (x->cancelled) {
            xfer_release(x);
            continue;
        }
        xfer_finish(x, xfer_map_result(x, code));
    }
}

/* Runs the work deferred while curl was on the stack; then frees the client if that was asked. */
static void u_reap(struct upstream *u)
{
    if (u->reaping || u->in_curl)
        return;
    u->reaping = 1;
    for (;;) {
        u_process_done(u);
        if (u->freeing)
            break;
        struct upstream_xfer *x = u_dequeue(u);
        if (!x)
            break;
        if (x->released || x->done)
            continue;
        if (x->cancelled) {
            xfer_release(x);
        } else if (x->abort_result != UPSTREAM_OK) {
            snprintf(x->msg, sizeof(x->msg), "%s", x->abort_msg);
            xfer_finish(x, x->abort_result);
        } else if (x->want_add) {
            x->want_add = 0;
            CURLMcode mc = curl_multi_add_handle(u->multi, x->easy);
            if (mc == CURLM_OK) {
                x->added = 1;
            } else {
                snprintf(x->msg, sizeof(x->msg), "could not start upstream transfer: %s",
                         curl_multi_strerror(mc));
                xfer_finish(x, UPSTREAM_ERR_IO);
            }
        } else if (x->want_resume) {
            x->want_resume = 0;
            xfer_do_resume(x);
        }
    }
    while (u_dequeue(u))
        ;
    u->reaping = 0;
    if (u->freeing)
        u_destroy(u);
}

/* ---- the loop side: sockets and the multi timer ---- */

static void u_action(struct upstream *u, curl_socket_t fd, int flags)
{
    int running = 0;
    if (!u->multi)
        return;
    u->in_curl++;
    CURLMcode mc = curl_multi_socket_action(u->multi, fd, flags, &running);
    u->in_curl--;
    if (mc != CURLM_OK)
        log_warn("upstream: curl_multi_socket_action: %s", curl_multi_strerror(mc));
    u_reap(u);
}

static void u_poll_cb(uv_poll_t *h, int status, int events)
{
    struct upstream_sock *sk = h->data;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    /* sk may be closed during the action; it is not touched afterwards. */
    u_action(sk->u, sk->fd, flags);
}

static void u_timer_cb(uv_timer_t *t)
{
    struct upstream *u = t->data;
    uint64_t now = uv_now(u->loop);
    if (now != u->timer_phase_now) {
        u->timer_phase_now = now;
        u->zero_streak = 0;
    }
    u->in_timer_cb = 1;
    u_action(u, CURL_SOCKET_TIMEOUT, 0);
    u->in_timer_cb = 0;
}

static int u_curl_timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
    struct upstream *u = userp;
    (void)multi;
    if (u->destroyed)
        return 0;
    if (timeout_ms < 0) {
        uv_timer_stop(&u->timer);
        return 0;
    }
    if (timeout_ms == 0 && u->in_timer_cb && ++u->zero_streak > UPSTREAM_ZERO_TIMER_STREAK)
        timeout_ms = 1;
    uv_timer_start(&u->timer, u_timer_cb, (uint64_t)timeout_ms, 0);
    return 0;
}

/* Never returns -1: curl 7.88 marks the whole multi dead on that. A socket we fail to watch stalls
 * only its transfer, which then times out. */
static int u_curl_socket_fn(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct upstream *u = userp;
    struct upstream_sock *sk = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (sk)
            sock_close(sk);
        return 0;
    }
    if (u->destroyed)
        return 0;
    if (!sk) {
        sk = xcalloc(1, sizeof(*sk));
        sk->u = u;
        sk->fd = s;
        int rc = uv_poll_init_socket(u->loop, &sk->poll, s);
        if (rc < 0) {
            log_error("upstream: cannot watch socket %d: %s", (int)s, uv_strerror(rc));
            free(sk);
            return 0;
        }
        sk->poll.data = sk;
        u->open_handles++;
        sk->next = u->socks;
        if (u->socks)
            u->socks->prev = sk;
        u->socks = sk;
        curl_multi_assign(u->multi, s, sk);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&sk->poll, events, u_poll_cb);
    return 0;
}

/* ---- per-transfer callbacks (inside curl) ---- */

static void xfer_timer_cb(uv_timer_t *t);

static void xfer_arm(struct upstream_xfer *x, uint32_t ms)
{
    if (ms)
        uv_timer_start(&x->timer, xfer_timer_cb, ms, 0);
    else
        uv_timer_stop(&x->timer);
}

static void xfer_timer_cb(uv_timer_t *t)
{
    struct upstream_xfer *x = t->data;
    if (x->released || x->done || x->cancelled || x->paused)
        return;
    if (!x->headers_done) {
        snprintf(x->msg, sizeof(x->msg), "no response headers from upstream within %u ms",
                 (unsigned)x->first_byte_ms);
        xfer_finish(x, UPSTREAM_ERR_FIRST_BYTE_TIMEOUT);
    } else {
        snprintf(x->msg, sizeof(x->msg), "no data from upstream for %u ms", (unsigned)x->idle_ms);
        xfer_finish(x, UPSTREAM_ERR_IDLE_TIMEOUT);
    }
}

static int xfer_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Hands the collected header block to on_headers; returns non-zero when the transfer must stop. */
static int xfer_deliver_headers(struct upstream_xfer *x)
{
    long code = 0;
    x->headers_done = 1;
    xfer_arm(x, x->idle_ms);
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    int rc = 0;
    if (x->cb.on_headers) {
        struct str *names = xmalloc((x->n_head ? x->n_head : 1) * sizeof(*names));
        struct str *values = xmalloc((x->n_head ? x->n_head : 1) * sizeof(*values));
        size_t n = 0;
        const char *p = x->head.data, *end = x->head.data + x->head.len;
        while (p && p < end) {
            size_t len = strlen(p);
            const char *colon = memchr(p, ':', len);
            if (colon && colon > p) {
                const char *ne = colon;
                while (ne > p && xfer_is_ows(ne[-1]))
                    ne--;
                const char *v = colon + 1, *ve = p + len;
                while (v < ve && xfer_is_ows(*v))
                    v++;
                while (ve > v && xfer_is_ows(ve[-1]))
                    ve--;
                names[n] = (struct str){p, (size_t)(ne - p)};
                values[n] = (struct str){v, (size_t)(ve - v)};
                n++;
            }
            p += len + 1;
        }
        rc = x->cb.on_headers(x->ud, (int)code, names, values, n);
        free(names);
        free(values);
    }
    buf_free(&x->head);
    x->n_head = 0;
    if (x->cancelled)
        return -1;
    if (rc == UPSTREAM_ABORT) {
        xfer_set_abort(x, UPSTREAM_ERR_TOO_LARGE, "upstream response refused by the gateway");
        return -1;
    }
    return 0;
}

static size_t xfer_header_cb(char *ptr, size_t size, size_t nmemb, void *userp)
{
    struct upstream_xfer *x = userp;
    size_t len = size * nmemb, n = len;
    if (x->cancelled || x->abort_result != UPSTREAM_OK)
        return 0;
    if (x->headers_done)
        return len; /* trailers */
    while (n > 0 && (ptr[n - 1] == '\n' || ptr[n - 1] == '\r'))
        n--;
    if (n == 0) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 100 && code < 200) { /* interim response: wait for the final one */
            buf_reset(&x->head);
            x->n_head = 0;
            return len;
        }
        return xfer_deliver_headers(x) ? 0 : len;
    }
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) { /* status line: a new response starts */
        buf_reset(&x->head);
        x->n_head = 0;
        return len;
    }
    if (x->head.len + n + 2 > UPSTREAM_MAX_HEADER_BYTES || x->n_head >= UPSTREAM_MAX_HEADERS) {
        xfer_set_abort(x, UPSTREAM_ERR_TOO_LARGE, "upstream response headers too large");
        return 0;
    }
    if (xfer_is_ows(ptr[0]) && x->n_head > 0) { /* obsolete line folding: continue the value */
        size_t i = 0;
        while (i < n && xfer_is_ows(ptr[i]))
            i++;
        x->head.len--; /* drop the previous line's NUL */
        buf_putc(&x->head, ' ');
        buf_append(&x->head, ptr + i, n - i);
        buf_append(&x->head, "", 1);
        return len;
    }
    buf_append(&x->head, ptr, n);
    buf_append(&x->head, "", 1);
    x->n_head++;
    return len;
}

static size_t xfer_write_cb(char *ptr, size_t size, size_t nmemb, void *userp)
{
    struct upstream_xfer *x = userp;
    size_t len = size * nmemb;
    if (x->cancelled || x->abort_result != UPSTREAM_OK)
        return 0;
    if (x->paused)
        return CURL_WRITEFUNC_PAUSE; /* curl keeps these bytes and re-delivers them on resume */
    if (!x->headers_done && xfer_deliver_headers(x))
        return 0;
    xfer_arm(x, x->idle_ms);
    int rc = x->cb.on_data ? x->cb.on_data(x->ud, ptr, len) : 0;
    if (x->cancelled)
        return 0;
    if (rc == UPSTREAM_ABORT) {
        xfer_set_abort(x, UPSTREAM_ERR_TOO_LARGE, "upstream response refused by the gateway");
        return 0;
    }
    if (rc == UPSTREAM_PAUSE) {
        x->paused = 1;
        uv_timer_stop(&x->timer);
        curl_easy_pause(x->easy, CURLPAUSE_RECV);
    }
    return len;
}

static int xfer_prereq_cb(void *userp, char *primary_ip, char *local_ip, int primary_port,
                          int local_port)
{
    struct upstream_xfer *x = userp;
    (void)primary_ip;
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    x->connected = 1;
    return CURL_PREREQFUNC_OK;
}

/* ---- public API ---- */

struct upstream *upstream_new(uv_loop_t *loop)
{
    pthread_once(&upstream_once, upstream_global_init);
    struct upstream *u = xcalloc(1, sizeof(*u));
    u->loop = loop;
    u->multi = curl_multi_init();
    if (!u->multi) {
        log_error("upstream: curl_multi_init failed");
        abort();
    }
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, u_curl_socket_fn);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, u_curl_timer_fn);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(u->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, (long)UPSTREAM_MAX_CONNECTS);
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    u->open_handles = 1;
    return u;
}

/* Frees everything once nothing of curl is on the stack: transfers, the multi, sockets, the timer.
 * u itself goes when the last handle has closed. */
static void u_destroy(struct upstream *u)
{
    if (u->destroyed)
        return;
    while (u->xfers)
        xfer_release(u->xfers);
    while (u->n_idle_easy)
        curl_easy_cleanup(u->idle_easy[--u->n_idle_easy]);
    /* Stop watching while curl's fds are still open; curl closes them in cleanup. */
    for (struct upstream_sock *sk = u->socks; sk; sk = sk->next)
        uv_poll_stop(&sk->poll);
    u->in_curl++;
    curl_multi_cleanup(u->multi);
    u->in_curl--;
    u->multi = NULL;
    u->destroyed = 1;
    while (u->socks)
        sock_close(u->socks);
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->timer, u_timer_close_cb);
}

void upstream_free(struct upstream *u)
{
    if (!u || u->freeing)
        return;
    u->freeing = 1;
    for (struct upstream_xfer *x = u->xfers; x; x = x->next) {
        if (!x->cancelled && !x->done) {
            x->cancelled = 1;
            u->active--;
            uv_timer_stop(&x->timer);
        }
    }
    if (u->in_curl || u->reaping)
        return; /* u_reap() finishes it when the stack unwinds */
    u_destroy(u);
}

/* Returns 1 when s is a header line we may send: no CR, LF or NUL (no header injection). */
static int upstream_header_ok(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

static int upstream_has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (const char *const *h = headers; h && *h; h++)
        if (strncasecmp(*h, name, n) == 0 && ((*h)[n] == ':' || (*h)[n] == ';'))
            return 1;
    return 0;
}

int upstream_start(struct upstream *u, const struct upstream_request *req,
                   const struct upstream_callbacks *cb, void *ud, struct upstream_xfer **out)
{
    int https;
    if (!u || u->freeing || !req || !req->url || !req->method || !req->method[0] || !cb ||
        !cb->on_done || !out || (req->body_len && !req->body))
        return ERR_INVAL;
    if (strncasecmp(req->url, "https://", 8) == 0)
        https = 1;
    else if (strncasecmp(req->url, "http://", 7) == 0)
        https = 0;
    else
        return ERR_INVAL;
    if (strpbrk(req->method, " \t\r\n") || !upstream_header_ok(req->url))
        return ERR_INVAL;
    for (const char *const *h = req->headers; h && *h; h++)
        if (!upstream_header_ok(*h))
            return ERR_INVAL;

    struct upstream_xfer *x = xcalloc(1, sizeof(*x));
    x->u = u;
    x->cb = *cb;
    x->ud = ud;
    x->https = https;
    x->connect_ms = req->connect_timeout_ms;
    x->first_byte_ms = req->first_byte_timeout_ms;
    x->total_ms = req->total_timeout_ms;
    x->idle_ms = req->idle_timeout_ms;
    buf_init(&x->head);
    x->easy = easy_get(u);
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
    curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, xfer_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, xfer_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, xfer_prereq_cb);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
    if (https) {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L);
    if (x->connect_ms)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)x->connect_ms);
    if (x->total_ms)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)x->total_ms);

    int has_body = req->body_len > 0 || strcmp(req->method, "POST") == 0;
    if (strcmp(req->method, "GET") == 0 && !req->body_len) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "HEAD") == 0 && !req->body_len) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        if (has_body) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body_len ? req->body : "");
        }
        if (strcmp(req->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    }

    for (const char *const *h = req->headers; h && *h; h++)
        x->hdrs = curl_slist_append(x->hdrs, *h);
    /* No 100-continue round trip: upstreams answer at once and the wait only adds latency. */
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    /* curl would invent "application/x-www-form-urlencoded" for a body; send none instead. */
    if (has_body && !upstream_has_header(req->headers, "Content-Type"))
        x->hdrs = curl_slist_append(x->hdrs, "Content-Type:");
    if (!x->hdrs) {
        log_error("upstream: out of memory building headers");
        abort();
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);

    uv_timer_init(u->loop, &x->timer);
    x->timer.data = x;
    u->open_handles++;
    xfer_arm(x, x->first_byte_ms);
    x->next = u->xfers;
    if (u->xfers)
        u->xfers->prev = x;
    u->xfers = x;
    u->active++;
    *out = x;

    if (u->in_curl) { /* inside a callback: curl refuses add_handle there */
        x->want_add = 1;
        u_queue(u, x);
        return 0;
    }
    CURLMcode mc = curl_multi_add_handle(u->multi, e);
    if (mc != CURLM_OK) {
        log_error("upstream: curl_multi_add_handle: %s", curl_multi_strerror(mc));
        x->cancelled = 1;
        u->active--;
        xfer_release(x);
        *out = NULL;
        return ERR_INVAL;
    }
    x->added = 1;
    return 0;
}

void upstream_cancel(struct upstream_xfer *x)
{
    if (!x || x->released || x->done || x->cancelled)
        return;
    struct upstream *u = x->u;
    x->cancelled = 1;
    u->active--;
    uv_timer_stop(&x->timer);
    if (u->in_curl) {
        u_queue(u, x); /* its own callbacks now refuse data; released when curl returns */
        return;
    }
    xfer_release(x);
}

/* Unpauses x; curl may deliver kept data before this returns. Never inside a curl callback. */
static void xfer_do_resume(struct upstream_xfer *x)
{
    struct upstream *u = x->u;
    if (!x->paused || x->released || x->done || x->cancelled)
        return;
    x->paused = 0;
    xfer_arm(x, x->idle_ms);
    u->in_curl++;
    CURLcode rc = curl_easy_pause(x->easy, CURLPAUSE_CONT);
    u->in_curl--;
    if (rc != CURLE_OK && !x->cancelled && x->abort_result == UPSTREAM_OK)
        xfer_set_abort(x, UPSTREAM_ERR_IO, "upstream transfer failed on resume");
    if (x->abort_result != UPSTREAM_OK)
        u_queue(u, x); /* curl does not end a transfer whose write failed inside curl_easy_pause */
}

void upstream_resume(struct upstream_xfer *x)
{
    if (!x || x->released || x->done || x->cancelled || !x->paused)
        return;
    struct upstream *u = x->u;
    if (u->in_curl) {
        x->want_resume = 1;
        u_queue(u, x);
        return;
    }
    xfer_do_resume(x);
    u_reap(u);
}

size_t upstream_active(const struct upstream *u)
{
    return u ? u->active : 0;
}
