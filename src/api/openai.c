/* The OpenAI API surface: request validation, model lookup, and the hand-off to the proxy.
 *
 * Validation is deliberately shallow: the gateway checks what it needs to route and meter (a JSON
 * object, a known model, a boolean stream flag, the field the operation cannot do without) and leaves
 * the rest to the upstream, so unknown fields pass through untouched. Every rejection names the field
 * and says what to send instead. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/alloc.h"
#include "base/err.h"
#include "canon/json.h"

/* Integers beyond 64 bits are legal JSON, but json-c would clamp them and the upstream would get a
 * different number. Refuse them instead of changing them. Returns the byte offset of the first such
 * literal, or -1. */
static long long find_oversized_int(const char *s, size_t n)
{
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
            continue;
        }
        if (ch == '"') {
            in_str = 1;
        } else if ((ch >= '0' && ch <= '9') || ch == '-') {
            size_t start = i, digits = 0, j = i + (ch == '-');
            while (j < n && s[j] >= '0' && s[j] <= '9') {
                j++;
                digits++;
            }
            int frac = j < n && (s[j] == '.' || s[j] == 'e' || s[j] == 'E');
            if (!frac && digits >= 20) {
                unsigned long long v;
                size_t off = start + (ch == '-');
                if (ch == '-' || str_to_u64((struct str){s + off, digits}, &v) != 0)
                    return (long long)start;
            }
            while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == '.' || s[j] == 'e' ||
                             s[j] == 'E' || s[j] == '+' || s[j] == '-'))
                j++;
            i = j - 1;
        }
    }
    return -1;
}

static void line_col(const char *s, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

json_object *api_parse_body(struct gw_req *r)
{
    const struct buf *b = &r->http->body;
    size_t line, col;
    if (b->len == 0) {
        gw_req_error(r, 400, "invalid_request_error", "invalid_json", NULL,
                     "The request body is empty; send a JSON object.");
        return NULL;
    }
    size_t end;
    enum json_tokener_error e;
    json_object *o = canon_json_parse(b->data, b->len, &end, &e);
    if (e != json_tokener_success) {
        line_col(b->data, end, &line, &col);
        gw_req_error(r, 400, "invalid_request_error", "invalid_json", NULL,
                     "We could not parse the JSON body of your request: %s at line %zu column %zu "
                     "(byte %zu). Send a valid JSON object.",
                     json_tokener_error_desc(e),
                     line, col, end);
        json_object_put(o);
        return NULL;
    }
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        gw_req_error(r, 400, "invalid_request_error", "invalid_json", NULL,
                     "The request body must be a JSON object.");
        return NULL;
    }
    long long big = find_oversized_int(b->data, b->len);
    if (big >= 0) {
        json_object_put(o);
        line_col(b->data, (size_t)big, &line, &col);
        gw_req_error(r, 400, "invalid_request_error", "invalid_json", NULL,
                     "The integer at line %zu column %zu (byte %lld) does not fit in 64 bits and "
                     "would be changed in transit; send it as a string or a float.",
                     line, col, big);
        return NULL;
    }
    return o;
}

/* Answers 404 with the models this gateway serves, so a typo is easy to fix. */
static void model_not_found(struct gw_req *r, const char *name)
{
    struct buf known = BUF_INIT;
    const struct config *cfg = r->cfg;
    for (size_t i = 0; i < cfg->n_models && i < 30; i++)
        buf_printf(&known, "%s%s", i ? ", " : "", cfg->models[i].name);
    if (cfg->n_models > 30)
        buf_printf(&known, ", ... (%zu in all, see GET /v1/models)", cfg->n_models);
    gw_req_error(r, 404, "invalid_request_error", "model_not_found", "model",
                 "The model '%s' does not exist on this gateway. Known models: %s.", name,
                 cfg->n_models ? known.data : "(none configured)");
    buf_free(&known);
}

/* The shared path of the three model operations. required names the field the operation needs. */
static void model_call(struct gw_req *r, enum canon_op op, const char *required, json_type req_type)
{
    if (!gw_auth(r))
        return;
    json_object *body = api_parse_body(r), *v;
    if (!body)
        return;
    if (!json_object_object_get_ex(body, "model", &v) || !json_object_is_type(v, json_type_string)) {
        json_object_put(body);
        gw_req_error(r, 400, "invalid_request_error", "missing_model", "model",
                     "You must provide a model parameter: a string naming one of GET /v1/models.");
        return;
    }
    const char *name = json_object_get_string(v);
    r->model = xstrdup(name);
    const struct model_group *g = config_find_model(r->cfg, name, strlen(name));
    if (!g) {
        json_object_put(body);
        model_not_found(r, r->model);
        return;
    }
    /* req_type json_type_null means "present, any type". */
    if (!json_object_object_get_ex(body, required, &v) || !v ||
        (req_type != json_type_null && !json_object_is_type(v, req_type))) {
        json_object_put(body);
        gw_req_error(r, 400, "invalid_request_error", "invalid_value", required,
                     "'%s' is required and must be %s.", required,
                     req_type == json_type_array ? "an array" : "present");
        return;
    }
    int stream = 0, wants_usage = 0;
    if (json_object_object_get_ex(body, "stream", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_boolean)) {
            json_object_put(body);
            gw_req_error(r, 400, "invalid_request_error", "invalid_type", "stream",
                         "'stream' must be a boolean (true or false).");
            return;
        }
        stream = json_object_get_boolean(v);
    }
    if (stream && op == CANON_EMBEDDING) {
        json_object_put(body);
        gw_req_error(r, 400, "invalid_request_error", "invalid_value", "stream",
                     "Embeddings cannot be streamed; remove 'stream'.");
        return;
    }
    json_object *so, *iu;
    if (stream && json_object_object_get_ex(body, "stream_options", &so) &&
        json_object_object_get_ex(so, "include_usage", &iu))
        wants_usage = json_object_get_boolean(iu);
    gw_proxy(r, op, body, g, stream, wants_usage);
}

void api_openai_chat(struct gw_req *r)
{
    model_call(r, CANON_CHAT, "messages", json_type_array);
}

void api_openai_completions(struct gw_req *r)
{
    model_call(r, CANON_COMPLETION, "prompt", json_type_null);
}

void api_openai_embeddings(struct gw_req *r)
{
    model_call(r, CANON_EMBEDDING, "input", json_type_null);
}

static void model_object(struct buf *b, const char *name)
{
    buf_puts(b, "{\"id\":\"");
    buf_json_escape(b, name, strlen(name));
    buf_puts(b, "\",\"object\":\"model\",\"created\":0,\"owned_by\":\"tollgate\"}");
}

void api_openai_models(struct gw_req *r)
{
    if (!gw_auth(r))
        return;
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < r->cfg->n_models; i++) {
        if (i)
            buf_putc(&b, ',');
        model_object(&b, r->cfg->models[i].name);
    }
    buf_puts(&b, "]}");
    gw_req_json(r, 200, b.data, b.len);
    buf_free(&b);
}

void api_openai_model(struct gw_req *r)
{
    if (!gw_auth(r))
        return;
    struct str p = r->http->path;
    size_t pre = sizeof "/v1/models/" - 1;
    char *name = xstrndup(p.p + pre, p.len - pre);
    const struct model_group *g = config_find_model(r->cfg, name, strlen(name));
    if (!g) {
        model_not_found(r, name);
    } else {
        struct buf b = BUF_INIT;
        model_object(&b, g->name);
        gw_req_json(r, 200, b.data, b.len);
        buf_free(&b);
    }
    free(name);
}
