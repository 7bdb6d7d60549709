#ifndef TG_PROVIDER_H
#define TG_PROVIDER_H
/* The provider interface: a provider is a pure translator between the OpenAI-format request and
 * response the gateway speaks and one upstream's wire format. It never touches sockets, retries,
 * timeouts, metering or caching: the gateway core does those once for every provider.
 *
 * The four operations:
 *   build_request       client request (OpenAI JSON) -> upstream URL, headers, body
 *   parse_response      upstream 2xx body -> OpenAI JSON response (+ usage)
 *   parse_stream_event  one upstream SSE event -> zero or more OpenAI chunks (+ usage, end of stream)
 *   map_error           upstream error status + body -> the status and OpenAI error object we answer
 *
 * Providers are registered in a static table (providers.c) and looked up by the `provider` name of a
 * deployment. */
#include <json-c/json.h>
#include <stddef.h>

#include "base/buf.h"
#include "canon/canon.h"
#include "canon/deployment.h"
#include "canon/jscan.h"
#include "net/sse.h"

/* Top-level members of a stream chunk looked at (an OpenAI chunk has about eight). */
#define PROV_CHUNK_MEMBERS 32

/* One call as the provider sees it. */
struct prov_call {
    enum canon_op op;
    const struct deployment *dep;
    json_object *body;       /* the client request, OpenAI format; the provider may modify it */
    int stream;              /* the client asked for a stream */
    const char *request_id;  /* forwarded upstream as x-request-id */
};

/* The upstream HTTP request a provider builds. */
#define PROV_MAX_HEADERS 64
struct prov_http {
    struct buf url;
    char *headers[PROV_MAX_HEADERS + 1]; /* "Name: value", NULL-terminated; owned (free with prov_http_free) */
    size_t n_headers;
    struct buf body;
};

void prov_http_init(struct prov_http *h);
void prov_http_free(struct prov_http *h);
/* Adds a header formatted like printf; silently ignored past PROV_MAX_HEADERS (none of ours reach it). */
void prov_http_header(struct prov_http *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Per-stream state handed to parse_stream_event. */
struct prov_stream {
    const struct prov_call *call;
    void *state;             /* the provider's own, freed by stream_free */
    struct canon_usage usage;
    int done;                /* the provider saw the end of the stream */
    /* Receives one OpenAI chunk: either chunk (an object, ownership moves to the callee) or, on the
     * openai fast path, chunk NULL and raw/raw_len the exact, already validated JSON text from the
     * upstream, which the core sends as it is unless it has to change it. m/n are raw's top-level
     * members as jscan found them (n may exceed PROV_CHUNK_MEMBERS: only that many are in m). */
    void (*emit)(struct prov_stream *st, json_object *chunk, const char *raw, size_t raw_len,
                 const struct jscan_member *m, size_t n);
    void *emit_ud;
};

/* An error answer for the client. */
struct prov_error {
    int status;
    struct buf body;         /* an OpenAI error object */
};

struct provider {
    const char *name;
    /* OpenAI request members this provider does not accept, NULL-terminated, or NULL: what a
     * deployment's drop_params: true removes (docs/providers.md has the table). */
    const char *const *unsupported_params;
    /* Builds the upstream request. Returns 0, or ERR_INVAL with a client-facing message in err
     * (answered as 400). */
    int (*build_request)(const struct prov_call *call, struct prov_http *out, struct buf *err);
    /* Parses a 2xx body. Either sets *passthrough to 1 when the upstream bytes may be sent to the
     * client unchanged (*resp may then be NULL), or sets *resp to the translated OpenAI-format
     * response (owned by the caller). Fills usage.
     * Returns 0, or ERR_PARSE with a message in err (answered as 502). */
    int (*parse_response)(const struct prov_call *call, const char *body, size_t len,
                          json_object **resp, int *passthrough, struct canon_usage *usage,
                          struct buf *err);
    /* Sets up and frees per-stream state (both may be NULL). */
    void (*stream_init)(struct prov_stream *st);
    void (*stream_free)(struct prov_stream *st);
    /* Handles one upstream SSE event: calls st->emit for each resulting OpenAI chunk, updates
     * st->usage, sets st->done at the end. Returns 0, or ERR_PARSE with a message in err. */
    int (*parse_stream_event)(struct prov_stream *st, const struct sse_event *ev, struct buf *err);
    /* Maps an upstream error answer to the client's. */
    void (*map_error)(const struct prov_call *call, int status, const char *body, size_t len,
                      struct prov_error *out);
};

/* Returns the provider called name, or NULL when this build has none by that name. */
const struct provider *provider_find(const char *name);
/* Returns a comma-separated list of the supported provider names (static). */
const char *provider_names(void);

/* Helpers shared by providers. */
/* Reads an OpenAI usage object into u (missing fields stay -1). */
void prov_usage_from_openai(json_object *usage, struct canon_usage *u);
/* Builds an OpenAI error object body. type/code may be NULL. */
void prov_error_json(struct buf *out, const char *message, const char *type, const char *code,
                     const char *param);

/* Adds the headers every provider ends a request with: x-request-id (when the call has one) and
 * the deployment's own `headers`, so those come after, and never replace, the provider's. */
void prov_http_tail_headers(const struct prov_call *call, struct prov_http *out);

/* The OpenAI wire format (openai.c), shared with the providers that speak it at another address
 * and with other credentials (azure.c). */
/* Sets the body's "model" to the deployment's, asks a stream for usage
 * (stream_options.include_usage), writes the body into out and adds Content-Type and Accept. */
void prov_openai_body(const struct prov_call *call, struct prov_http *out);
/* The provider operations of the openai provider (see struct provider). */
int prov_openai_parse_response(const struct prov_call *call, const char *body, size_t len,
                               json_object **resp, int *passthrough, struct canon_usage *usage,
                               struct buf *err);
int prov_openai_parse_stream_event(struct prov_stream *st, const struct sse_event *ev,
                                   struct buf *err);
void prov_openai_map_error(const struct prov_call *call, int status, const char *body, size_t len,
                           struct prov_error *out);

#endif
