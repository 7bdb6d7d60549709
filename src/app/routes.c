/* The route table: method + path -> handler, declared as data. Paths are also served without the
 * /v1 prefix, as LiteLLM does, so a client configured with a bare base URL works too. */
#include <string.h>

#include "api/api.h"
#include "app/app.h"

struct route {
    const char *method;
    const char *path;
    int prefix;        /* match path as a prefix (the rest is a parameter) */
    const char *name;  /* for the access log */
    void (*handler)(struct gw_req *r);
};

static const struct route routes[] = {
    {"POST", "/v1/chat/completions", 0, "chat", api_openai_chat},
    {"POST", "/v1/completions", 0, "completions", api_openai_completions},
    {"POST", "/v1/embeddings", 0, "embeddings", api_openai_embeddings},
    {"GET", "/v1/models", 0, "models", api_openai_models},
    {"GET", "/v1/models/", 1, "models", api_openai_model},
    {"POST", "/chat/completions", 0, "chat", api_openai_chat},
    {"POST", "/completions", 0, "completions", api_openai_completions},
    {"POST", "/embeddings", 0, "embeddings", api_openai_embeddings},
    {"GET", "/models", 0, "models", api_openai_models},
    {"GET", "/healthz", 0, "health", api_healthz},
    {"GET", "/readyz", 0, "health", api_readyz},
};

static int path_matches(const struct route *rt, struct str path)
{
    size_t n = strlen(rt->path);
    if (rt->prefix)
        return path.len > n && memcmp(path.p, rt->path, n) == 0;
    return path.len == n && memcmp(path.p, rt->path, n) == 0;
}

void app_route(struct http_request *req, void *ud)
{
    struct gw_worker *w = ud;
    const struct route *wrong_method = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *rt = &routes[i];
        if (!path_matches(rt, req->path))
            continue;
        if (strcmp(rt->method, req->method) != 0) {
            wrong_method = rt;
            continue;
        }
        rt->handler(gw_req_new(w, req, rt->name));
        return;
    }
    struct gw_req *r = gw_req_new(w, req, "unknown");
    if (wrong_method)
        api_method_not_allowed(r, wrong_method->method);
    else
        api_not_found(r);
}
