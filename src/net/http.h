#ifndef TG_HTTP_H
#define TG_HTTP_H
/* HTTP/1.1 server connections on a libuv loop, parsed by libhttp-parser.
 *
 * One struct http_server per worker thread: it owns a listening socket (SO_REUSEPORT, so each worker
 * has its own) and the connections accepted on it. For each complete request the server calls the
 * handler once; the handler answers now or later (asynchronously) through the http_response_* calls.
 *
 * Ownership: a struct http_request belongs to the server. It stays valid until the handler calls
 * http_response_end() (for a buffered answer http_respond() does that). If the client goes away first,
 * the abort callback (if set) fires; the handler must then stop its work and still call
 * http_response_end(), which only frees. There is exactly one release path.
 *
 * Pipelining: requests on one connection are handled one at a time and answered in order; parsing of
 * the next pipelined request resumes when the previous answer has ended.
 *
 * Limits (base/limits.h): header bytes (431), body bytes (413, checked against Content-Length before
 * reading and while reading chunked bodies), header and body timeouts (408), idle keep-alive timeout
 * and write timeout (connection closed), connections per worker (closed at accept). `Expect:
 * 100-continue` is answered with `100 Continue` before the body is read (or 413 if too large).
 */
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"
#include "base/limits.h"
#include "base/str.h"

struct http_server;
struct http_conn;

struct http_header {
    struct str name;
    struct str value;
};

/* Room for request headers; limits.max_header_count (at most this) sets how many are accepted, more
 * answer 431. */
#define HTTP_MAX_HEADERS LIMIT_HEADER_COUNT_MAX

struct http_request {
    struct http_conn *conn;
    const char *method;   /* "GET", "POST", ... (static string) */
    struct str url;       /* the raw request target, path plus query */
    struct str path;      /* path only, without the query */
    struct str query;     /* after '?', empty if none */
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t n_headers;
    struct buf body;      /* the whole body, de-chunked; NUL-terminated */
    int http_minor;       /* 0 or 1 (HTTP/1.x) */
    int keep_alive;       /* the client allows the connection to stay open */
    uint64_t start_ns;    /* monotonic time the first byte of this request arrived */
    void *user;           /* free for the handler */
};

typedef void (*http_handler_fn)(struct http_request *req, void *ud);
typedef void (*http_event_fn)(struct http_request *req, void *ud);

struct http_server_opts {
    const char *host;
    int port;
    int reuseport;               /* set SO_REUSEPORT (one listener per worker) */
    const struct limits *limits; /* borrowed; must outlive the server */
    http_handler_fn handler;
    void *ud;
};

/* Binds and listens on loop; returns 0 and sets *out, or a negative uv error code (uv_strerror).
 * port 0 binds an ephemeral port (see http_server_port). The first call in the process also ignores
 * SIGPIPE and lifts http_parser's global header-size cap (limits.max_header_bytes is enforced here). */
int http_server_start(uv_loop_t *loop, const struct http_server_opts *opts, struct http_server **out);
/* Returns the port the listener is bound to (useful after binding port 0). */
int http_server_port(const struct http_server *s);
/* Serves an already connected stream socket (TCP, or AF_UNIX such as one end of a socketpair) as a
 * new connection of s. The server owns fd from now on, also on failure (it is closed then). Returns 0,
 * UV_EBUSY when the server is stopping or at limits->max_connections, or another negative uv error. */
int http_server_adopt(struct http_server *s, uv_os_sock_t fd);
/* Stops accepting new connections (graceful shutdown); open connections go on, and idle keep-alive
 * connections are closed, as are connections once their current answer ends. */
void http_server_stop_accepting(struct http_server *s);
/* Returns the number of open connections. */
size_t http_server_connections(const struct http_server *s);
/* Returns the number of requests whose answer has not ended yet. */
size_t http_server_inflight(const struct http_server *s);
/* Closes every connection at once (pending requests get their abort callback) and the listener, then
 * frees the server from a close callback; the loop must keep running until it has. */
void http_server_close(struct http_server *s);

/* Looks up a request header by name, ignoring case; returns NULL if absent. */
const struct str *http_request_header(const struct http_request *req, const char *name);
/* Sets the callback run when the client disconnects before the answer ended. */
void http_request_on_abort(struct http_request *req, http_event_fn cb, void *ud);
/* Returns 1 once the client has gone away (writes are then dropped). */
int http_request_aborted(const struct http_request *req);

/* Starts the answer. content_length >= 0 sends Content-Length; -1 streams the body with chunked
 * transfer encoding (or until close for HTTP/1.0). headers are extra "Name: value" pairs (copied);
 * Content-Length, Transfer-Encoding and Connection among them are ignored, as the server adds
 * Date-free minimal headers itself: Content-Length or Transfer-Encoding, and Connection when closing.
 * HEAD, 1xx, 204 and 304 answers carry no body (writes are dropped). */
void http_response_start(struct http_request *req, int status, const struct http_header *headers,
                         size_t n_headers, long long content_length);
/* Queues body bytes (copied). Returns the number of bytes queued on the connection and not yet
 * written to the socket, which is the back-pressure signal: above limits->stream_buffer_bytes the caller
 * should pause its producer and wait for the drain callback. Returns 0 once the client is gone. Bytes
 * beyond the announced Content-Length are dropped; without http_response_start, starts a 200 stream. */
size_t http_response_write(struct http_request *req, const void *data, size_t len);
/* Sets the callback run once the queued bytes fall below half of stream_buffer_bytes again. */
void http_request_on_drain(struct http_request *req, http_event_fn cb, void *ud);
/* Ends the answer and releases req (see ownership above). req must not be used afterwards. An answer
 * never started becomes a 500; one shorter than its Content-Length closes the connection. */
void http_response_end(struct http_request *req);
/* Writes the last body bytes and ends the answer, in one write where the framing allows (the chunked
 * terminator goes out with the bytes). Like http_response_write + http_response_end. */
void http_response_finish(struct http_request *req, const void *data, size_t len);
/* A whole answer in one call: start + write + end. */
void http_respond(struct http_request *req, int status, const char *content_type, const void *body,
                  size_t len, const struct http_header *headers, size_t n_headers);

/* Returns the reason phrase of a status code ("OK", "Not Found", ...). */
const char *http_status_text(int status);

#endif
