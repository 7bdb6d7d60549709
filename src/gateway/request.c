/* The per-request context: request id, access log, error answers, master-key auth. */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "gateway/gateway.h"
#include "providers/provider.h"

uint64_t gw_rand(struct gw_worker *w)
{
    if (w->rng == 0) {
        if (getrandom(&w->rng, sizeof w->rng, 0) != sizeof w->rng || w->rng == 0)
            w->rng = time_now_ns() | 1;
    }
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static void flush_run(uv_check_t *h)
{
    struct gw_worker *w = h->data;
    struct gw_flush *f;
    while ((f = w->flush_head) != NULL) {
        gw_flush_cancel(w, f);
        f->fn(f);
    }
    uv_check_stop(h);
}

void gw_worker_init(struct gw_worker *w)
{
    uv_check_init(w->loop, &w->flush_check);
    w->flush_check.data = w;
    w->flush_head = NULL;
}

void gw_worker_close(struct gw_worker *w)
{
    w->flush_head = NULL;
    uv_close((uv_handle_t *)&w->flush_check, NULL);
}

void gw_flush_later(struct gw_worker *w, struct gw_flush *f)
{
    if (f->linked)
        return;
    f->linked = 1;
    f->prev = NULL;
    f->next = w->flush_head;
    if (f->next)
        f->next->prev = f;
    if (!w->flush_head)
        uv_check_start(&w->flush_check, flush_run);
    w->flush_head = f;
}

void gw_flush_cancel(struct gw_worker *w, struct gw_flush *f)
{
    if (!f->linked)
        return;
    if (f->prev)
        f->prev->next = f->next;
    else
        w->flush_head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    f->linked = 0;
    f->next = f->prev = NULL;
}

/* A client-supplied request id is kept when it is short and printable, so it can be logged and
 * forwarded without escaping surprises. */
static int request_id_ok(const struct str *v)
{
    if (!v || v->len == 0 || v->len > 64)
        return 0;
    for (size_t i = 0; i < v->len; i++) {
        char c = v->p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return 0;
    }
    return 1;
}

struct gw_req *gw_req_new(struct gw_worker *w, struct http_request *http, const char *route)
{
    struct gw_req *r = xcalloc(1, sizeof *r);
    r->w = w;
    r->http = http;
    r->cfg = config_ref(w->cfg);
    r->route = route;
    r->start_ns = http->start_ns ? http->start_ns : time_now_ns();
    canon_usage_init(&r->usage);
    const struct str *rid = http_request_header(http, "x-request-id");
    if (request_id_ok(rid)) {
        memcpy(r->request_id, rid->p, rid->len);
        r->request_id[rid->len] = '\0';
    } else {
        uint64_t a = gw_rand(w), b = gw_rand(w);
        snprintf(r->request_id, sizeof r->request_id, "req_%016llx%016llx", (unsigned long long)a,
                 (unsigned long long)b);
    }
    return r;
}

static void log_str_field(struct buf *b, const char *key, const char *v)
{
    if (!v)
        return;
    buf_printf(b, ",\"%s\":\"", key);
    buf_json_escape(b, v, strlen(v));
    buf_putc(b, '"');
}

static void log_usage_field(struct buf *b, const char *key, int64_t v)
{
    if (v >= 0)
        buf_printf(b, ",\"%s\":%lld", key, (long long)v);
}

/* One JSON line per request. It names the key holder never: no header values other than the request
 * id, and never the deployment's api_key. */
static void access_log(struct gw_req *r, uint64_t end_ns)
{
    struct buf b = BUF_INIT;
    double total_ms = (double)(end_ns - r->start_ns) / 1e6;
    double up_ms = (double)r->upstream_ns / 1e6;
    buf_puts(&b, "{\"ts\":\"");
    log_put_timestamp(&b);
    buf_puts(&b, "\",\"type\":\"access\"");
    log_str_field(&b, "request_id", r->request_id);
    log_str_field(&b, "method", r->http->method);
    buf_puts(&b, ",\"path\":\"");
    buf_json_escape(&b, r->http->path.p, r->http->path.len < 256 ? r->http->path.len : 256);
    buf_putc(&b, '"');
    log_str_field(&b, "route", r->route);
    buf_printf(&b, ",\"status\":%d", r->status);
    log_str_field(&b, "model", r->model);
    if (r->dep) {
        log_str_field(&b, "deployment", r->dep->id);
        log_str_field(&b, "provider", r->dep->provider);
    }
    if (r->model)
        buf_printf(&b, ",\"stream\":%s", r->stream ? "true" : "false");
    buf_printf(&b, ",\"duration_ms\":%.3f,\"upstream_ms\":%.3f,\"overhead_ms\":%.3f", total_ms,
               up_ms, total_ms > up_ms ? total_ms - up_ms : 0.0);
    if (r->ttfb_ns)
        buf_printf(&b, ",\"ttfb_ms\":%.3f", (double)r->ttfb_ns / 1e6);
    log_usage_field(&b, "input_tokens", r->usage.input);
    log_usage_field(&b, "output_tokens", r->usage.output);
    log_usage_field(&b, "cached_tokens", r->usage.cached_read);
    log_usage_field(&b, "reasoning_tokens", r->usage.reasoning);
    log_str_field(&b, "error", r->error_type);
    buf_putc(&b, '}');
    log_access_write(b.data, b.len);
    buf_free(&b);
}

void gw_req_finish(struct gw_req *r)
{
    gw_req_finish_with(r, NULL, 0);
}

void gw_req_finish_with(struct gw_req *r, const char *tail, size_t len)
{
    if (!r || r->finished)
        return;
    r->finished = 1;
    if (http_request_aborted(r->http) && !r->error_type)
        r->error_type = "client_closed";
    if (http_request_aborted(r->http) && r->status == 0)
        r->status = 499; /* nginx's "client closed request", for the log only */
    if (log_access_enabled())
        access_log(r, time_now_ns());
    if (len)
        http_response_finish(r->http, tail, len);
    else
        http_response_end(r->http);
    config_unref(r->cfg);
    free(r->model);
    free(r);
}

void gw_req_json(struct gw_req *r, int status, const char *body, size_t len)
{
    struct http_header h[2] = {
        {STR_LIT("content-type"), STR_LIT("application/json")},
        {STR_LIT("x-request-id"), str_c(r->request_id)},
    };
    r->status = status;
    http_response_start(r->http, status, h, 2, (long long)len);
    http_response_write(r->http, body, len);
    gw_req_finish(r);
}

void gw_req_error(struct gw_req *r, int status, const char *type, const char *code,
                  const char *param, const char *fmt, ...)
{
    struct buf msg = BUF_INIT, body = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    prov_error_json(&body, msg.data ? msg.data : "", type, code, param);
    if (!r->error_type)
        r->error_type = code ? code : type;
    gw_req_json(r, status, body.data, body.len);
    buf_free(&msg);
    buf_free(&body);
}

int gw_auth(struct gw_req *r)
{
    const char *key = r->cfg->master_key;
    if (!key || !key[0])
        return 1;
    struct str given = {NULL, 0};
    const struct str *h = http_request_header(r->http, "authorization");
    if (h && h->len > 7 && str_eq_ci((struct str){h->p, 7}, "bearer ")) {
        given = (struct str){h->p + 7, h->len - 7};
        while (given.len && given.p[0] == ' ') {
            given.p++;
            given.len--;
        }
    } else if ((h = http_request_header(r->http, "x-api-key")) != NULL) {
        given = *h;
    }
    size_t klen = strlen(key);
    /* Constant time over the key's length, so the comparison leaks nothing but a length mismatch. */
    if (given.p && given.len == klen && CRYPTO_memcmp(given.p, key, klen) == 0)
        return 1;
    gw_req_error(r, 401, "invalid_request_error", "invalid_api_key", NULL,
                 given.p ? "Incorrect API key provided. Send the gateway's master key as "
                           "'Authorization: Bearer <key>'."
                         : "Missing API key. Send the gateway's master key as "
                           "'Authorization: Bearer <key>'.");
    return 0;
}
