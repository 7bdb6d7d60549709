#ifndef TG_GATEWAY_H
#define TG_GATEWAY_H
/* The request pipeline's shared types: the per-worker context and the per-request context.
 *
 * A struct gw_worker belongs to one worker thread: its loop, its upstream client, its current config
 * (swapped on reload by that same thread) and its random state. No field is touched by other threads,
 * so no locks are needed on the request path; the only shared datum is the ready flag, read atomically.
 *
 * A struct gw_req is one client request from the moment it is routed until its answer ended. It holds a
 * reference on the config it started with (so a reload never frees deployments under it), the request
 * id, and the facts the access log needs. gw_req_finish() writes the access-log line, ends the HTTP
 * answer and frees it. */
#include <json-c/json.h>
#include <stdint.h>
#include <uv.h>

#include "canon/canon.h"
#include "gateway/config.h"
#include "net/http.h"
#include "net/upstream.h"

/* Work deferred to the end of the current loop turn (see gw_flush_later). */
struct gw_flush {
    struct gw_flush *next, *prev;
    int linked;
    void (*fn)(struct gw_flush *f);
};

struct gw_worker {
    int id;
    uv_loop_t *loop;
    struct upstream *up;
    struct config *cfg;  /* this worker's reference on the current config */
    const int *ready;    /* process-wide readiness (read with __atomic_load_n) */
    uint64_t rng;        /* xorshift64* state */
    uv_check_t flush_check; /* runs the deferred flushes right after each round of I/O */
    struct gw_flush *flush_head;
};

/* Sets up the worker's loop-side state (the flush check handle) on w->loop. */
void gw_worker_init(struct gw_worker *w);
/* Closes it; the loop must run once more for the handle to close. */
void gw_worker_close(struct gw_worker *w);
/* Runs f->fn once at the end of this loop turn, after the I/O callbacks. Stream bytes that arrive in
 * many small pieces during one turn (curl hands over each HTTP chunk separately) then leave in one
 * write. No added latency: the flush runs before the loop sleeps again. Adding a linked f is a
 * no-op. */
void gw_flush_later(struct gw_worker *w, struct gw_flush *f);
/* Drops f from the pending flushes, if it is there. */
void gw_flush_cancel(struct gw_worker *w, struct gw_flush *f);

struct gw_req {
    struct gw_worker *w;
    struct http_request *http;
    struct config *cfg;           /* a reference, dropped at finish */
    char request_id[72];
    const char *route;            /* "chat", "embeddings", "models", "health", ... for the log */
    char *model;                  /* the alias the client asked for, or NULL */
    const struct deployment *dep; /* the deployment chosen, or NULL */
    int status;                   /* the status we answered */
    int stream;
    const char *error_type;       /* short error class for the log, or NULL */
    uint64_t start_ns;
    uint64_t upstream_ns;         /* time spent waiting on the upstream */
    uint64_t ttfb_ns;             /* time to the first byte sent to the client (streams) */
    struct canon_usage usage;
    int finished;
};

/* Returns a number from the worker's generator. */
uint64_t gw_rand(struct gw_worker *w);

/* Creates the context of a routed request (takes a config reference, sets the request id from the
 * client's x-request-id when it is sane, else a new one). */
struct gw_req *gw_req_new(struct gw_worker *w, struct http_request *http, const char *route);
/* Writes the access-log line, ends the HTTP answer (which must have been fully written), frees r. */
void gw_req_finish(struct gw_req *r);
/* Like gw_req_finish, sending tail as the answer's last bytes in the same write as its end. */
void gw_req_finish_with(struct gw_req *r, const char *tail, size_t len);
/* Answers with an OpenAI error object and finishes r. type/code/param may be NULL. */
void gw_req_error(struct gw_req *r, int status, const char *type, const char *code,
                  const char *param, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Answers with a JSON body (status, content type application/json, the request id header) and
 * finishes r. */
void gw_req_json(struct gw_req *r, int status, const char *body, size_t len);

/* Checks the master key (Authorization: Bearer, or x-api-key). Returns 1 when the request may go on;
 * otherwise answers 401, finishes r and returns 0. */
int gw_auth(struct gw_req *r);

struct provider;

/* Applies the deployment's request shaping (defaults, overrides, renames, drops; gateway/shape.c) to
 * the OpenAI-format body in place. p may be NULL. */
void gw_shape_request(const struct deployment *d, const struct provider *p, json_object *body);

/* Runs one model call: picks a deployment of g by weight, builds the upstream request with its
 * provider, relays the answer (streaming or not) and finishes r. Takes ownership of body. */
void gw_proxy(struct gw_req *r, enum canon_op op, json_object *body, const struct model_group *g,
              int stream, int client_wants_usage);

#endif
