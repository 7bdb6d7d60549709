/* /healthz: the process is alive and its loop turns. /readyz: the config is loaded and every worker
 * listens; it turns 503 as soon as a graceful shutdown starts, so load balancers stop sending. */
#include "api/api.h"

void api_healthz(struct gw_req *r)
{
    static const char body[] = "{\"status\":\"ok\"}";
    gw_req_json(r, 200, body, sizeof body - 1);
}

void api_readyz(struct gw_req *r)
{
    static const char ok[] = "{\"status\":\"ready\"}";
    static const char no[] = "{\"status\":\"not ready\"}";
    if (r->w->ready && __atomic_load_n(r->w->ready, __ATOMIC_ACQUIRE))
        gw_req_json(r, 200, ok, sizeof ok - 1);
    else
        gw_req_json(r, 503, no, sizeof no - 1);
}

void api_not_found(struct gw_req *r)
{
    gw_req_error(r, 404, "invalid_request_error", "unknown_url", NULL,
                 "Unknown request URL: %s %.*s. The gateway serves /v1/chat/completions, "
                 "/v1/completions, /v1/embeddings, /v1/models, /healthz and /readyz.",
                 r->http->method, (int)(r->http->path.len > 200 ? 200 : r->http->path.len),
                 r->http->path.p);
}

void api_method_not_allowed(struct gw_req *r, const char *allow)
{
    gw_req_error(r, 405, "invalid_request_error", "method_not_allowed", NULL,
                 "Method %s is not allowed on %.*s; use %s.", r->http->method,
                 (int)(r->http->path.len > 200 ? 200 : r->http->path.len), r->http->path.p, allow);
}
