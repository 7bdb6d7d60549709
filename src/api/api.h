#ifndef TG_API_H
#define TG_API_H
/* The HTTP surfaces. Each handler takes a routed request context, answers it (now or later) and
 * finishes it. The route table that maps method + path to these lives in app/routes.c. */
#include "gateway/gateway.h"

/* OpenAI API (api/openai.c). */
void api_openai_chat(struct gw_req *r);
void api_openai_completions(struct gw_req *r);
void api_openai_embeddings(struct gw_req *r);
void api_openai_models(struct gw_req *r);
void api_openai_model(struct gw_req *r); /* GET /v1/models/{id} */

/* Health (api/health.c). */
void api_healthz(struct gw_req *r);
void api_readyz(struct gw_req *r);

/* Answers 404 for an unknown path and 405 (with Allow) for a known path with the wrong method. */
void api_not_found(struct gw_req *r);
void api_method_not_allowed(struct gw_req *r, const char *allow);

/* Parses a JSON request body into an object. Returns it, or NULL after answering 400 (with the error
 * position) and finishing r. */
json_object *api_parse_body(struct gw_req *r);

#endif
