/* The provider registry and the helpers every provider shares. */
#include "providers/provider.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

extern const struct provider provider_openai;
extern const struct provider provider_azure;

/* Every provider this build knows, looked up by name. */
static const struct provider *const providers[] = {
    &provider_openai,
    &provider_azure,
};

const struct provider *provider_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++)
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
    return NULL;
}

static char names[256];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_build(void)
{
    size_t at = 0;
    for (size_t i = 0; i < sizeof providers / sizeof providers[0] && at < sizeof names; i++)
        at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", i ? ", " : "",
                               providers[i]->name);
}

const char *provider_names(void)
{
    pthread_once(&names_once, names_build);
    return names;
}

void prov_http_init(struct prov_http *h)
{
    memset(h, 0, sizeof *h);
}

void prov_http_free(struct prov_http *h)
{
    buf_free(&h->url);
    buf_free(&h->body);
    for (size_t i = 0; i < h->n_headers; i++)
        free(h->headers[i]);
    h->n_headers = 0;
    h->headers[0] = NULL;
}

void prov_http_header(struct prov_http *h, const char *fmt, ...)
{
    if (h->n_headers >= PROV_MAX_HEADERS)
        return;
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    h->headers[h->n_headers++] = buf_detach(&b);
    h->headers[h->n_headers] = NULL;
}

void prov_http_tail_headers(const struct prov_call *call, struct prov_http *out)
{
    if (call->request_id)
        prov_http_header(out, "x-request-id: %s", call->request_id);
    for (char **h = call->dep->headers; h && *h; h++)
        prov_http_header(out, "%s", *h);
}

static int64_t usage_field(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return -1;
    return json_object_get_int64(v);
}

void prov_usage_from_openai(json_object *usage, struct canon_usage *u)
{
    json_object *d;
    if (!usage || !json_object_is_type(usage, json_type_object))
        return;
    u->input = usage_field(usage, "prompt_tokens");
    u->output = usage_field(usage, "completion_tokens");
    if (json_object_object_get_ex(usage, "prompt_tokens_details", &d))
        u->cached_read = usage_field(d, "cached_tokens");
    if (json_object_object_get_ex(usage, "completion_tokens_details", &d))
        u->reasoning = usage_field(d, "reasoning_tokens");
}

/* Appends a JSON string, or null for NULL. */
static void json_str_or_null(struct buf *out, const char *s)
{
    if (!s) {
        buf_puts(out, "null");
        return;
    }
    buf_putc(out, '"');
    buf_json_escape(out, s, strlen(s));
    buf_putc(out, '"');
}

void prov_error_json(struct buf *out, const char *message, const char *type, const char *code,
                     const char *param)
{
    buf_puts(out, "{\"error\":{\"message\":");
    json_str_or_null(out, message);
    buf_puts(out, ",\"type\":");
    json_str_or_null(out, type);
    buf_puts(out, ",\"param\":");
    json_str_or_null(out, param);
    buf_puts(out, ",\"code\":");
    json_str_or_null(out, code);
    buf_puts(out, "}}");
}
