#ifndef TG_UPSTREAM_H
#define TG_UPSTREAM_H
/* The upstream HTTP client: one libcurl multi handle per worker, driven by the worker's libuv loop
 * through curl_multi_socket_action (uv_poll per socket, one uv_timer).
 *
 * Connections are reused per worker; TLS is verified; HTTP/2 is negotiated over TLS (ALPN) and
 * multiplexed; plaintext upstreams use HTTP/1.1 (curl 7.88's h2c reuse is broken).
 *
 * Timeouts per transfer: connect, first byte (headers), total, and idle (the longest gap between body
 * bytes, for streams). A transfer ends in exactly one on_done call unless it was cancelled with
 * upstream_cancel(), after which no callback runs at all.
 */
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/limits.h"
#include "base/str.h"

struct upstream;
struct upstream_xfer;

/* Finished easy handles kept per client for reuse. */
#define UPSTREAM_EASY_POOL 64

/* Response header block caps; past either the transfer ends with UPSTREAM_ERR_TOO_LARGE. */
#define UPSTREAM_MAX_HEADER_BYTES 65536
#define UPSTREAM_MAX_HEADERS 256

/* How a transfer ended. */
enum upstream_result {
    UPSTREAM_OK = 0,
    UPSTREAM_ERR_CONNECT,       /* could not connect (refused, DNS, TLS handshake) */
    UPSTREAM_ERR_CONNECT_TIMEOUT,
    UPSTREAM_ERR_FIRST_BYTE_TIMEOUT,
    UPSTREAM_ERR_TOTAL_TIMEOUT,
    UPSTREAM_ERR_IDLE_TIMEOUT,  /* gap between body bytes too long */
    UPSTREAM_ERR_IO,            /* connection reset or closed mid-response, protocol error */
    UPSTREAM_ERR_TOO_LARGE,     /* a callback refused the data (e.g. a cap) */
};

/* Returned by on_data to pause the transfer (back-pressure); resume with upstream_resume(). The bytes
 * passed in that call are considered consumed. */
#define UPSTREAM_PAUSE 1
/* Returned by on_data or on_headers to abort the transfer; on_done then runs with UPSTREAM_ERR_TOO_LARGE. */
#define UPSTREAM_ABORT 2

/* Callbacks run on the loop's thread. on_headers and on_data run inside curl: from them, cancel,
 * resume, start and free are allowed and take effect when curl returns (a transfer started there
 * begins then). on_done runs outside curl. on_headers and on_data may be NULL. */
struct upstream_callbacks {
    /* The status line and all headers of the final response arrived (1xx interim responses are
     * skipped; trailers are not reported). headers are "name: value" pairs as received, names and
     * values trimmed, folded lines joined; the strs are valid only during the call. Return 0 or
     * UPSTREAM_ABORT. */
    int (*on_headers)(void *ud, int status, const struct str *names, const struct str *values,
                      size_t n);
    /* Body bytes (not de-chunked by us: curl already did). Return 0, UPSTREAM_PAUSE or UPSTREAM_ABORT. */
    int (*on_data)(void *ud, const char *data, size_t len);
    /* The transfer ended; message is a short human text for errors (never contains secrets; "ok" on
     * success; valid during the call). An HTTP error status is UPSTREAM_OK here: the status went to
     * on_headers. */
    void (*on_done)(void *ud, enum upstream_result result, const char *message);
};

struct upstream_request {
    const char *method;              /* "POST", "GET" */
    const char *url;
    const char *const *headers;      /* "Name: value" strings, NULL-terminated; copied. "Expect:" is
                                      * always added; with a body and no Content-Type, none is sent
                                      * (curl would invent a form type) */
    const char *body;                /* borrowed until on_done or cancel (a cancel made inside a
                                      * callback: until control returns to the loop) */
    size_t body_len;
    uint32_t connect_timeout_ms;     /* 0 = no limit of ours (curl still stops at 300 s) */
    uint32_t first_byte_timeout_ms;
    uint32_t total_timeout_ms;
    uint32_t idle_timeout_ms;
    int insecure;                    /* 1 = do not verify TLS (only if the config says so) */
};

/* Creates the client on loop. */
struct upstream *upstream_new(uv_loop_t *loop);
/* Cancels all transfers (no callbacks) and frees the client once its handles closed; the loop must
 * keep running until then. */
void upstream_free(struct upstream *u);
/* Starts a transfer; returns 0 and sets *out (owned by the client until on_done returns or until
 * upstream_cancel), or ERR_INVAL for a bad request (no URL or method, a scheme other than http or
 * https, CR or LF in a header). */
int upstream_start(struct upstream *u, const struct upstream_request *req,
                   const struct upstream_callbacks *cb, void *ud, struct upstream_xfer **out);
/* Stops a transfer at once and closes its connection if mid-response; no callback runs afterwards. */
void upstream_cancel(struct upstream_xfer *x);
/* Resumes a transfer paused by UPSTREAM_PAUSE. */
void upstream_resume(struct upstream_xfer *x);
/* Returns the number of active transfers. */
size_t upstream_active(const struct upstream *u);
/* Returns a static name for a result ("connect_timeout", ...), for logs and error bodies. */
const char *upstream_result_str(enum upstream_result r);

#endif
