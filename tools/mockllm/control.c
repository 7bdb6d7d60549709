/* control.c: the /mock/ routes, the counters behind them and the ring of recorded requests.
 *
 * 1. Counters live per worker, one cache line each, updated with relaxed atomics by their owner
 *    and summed on read, so the request path never shares a line between threads. A reset stores
 *    zero into the monotonic counters; the gauges (active, connections) are left alone.
 * 2. Requests carrying x-request-id are kept in a ring of MOCK_RECORD_SLOTS entries, shared by all
 *    workers behind one mutex. Each entry is stored as the finished JSON answer, so a lookup is a
 *    scan and a copy. Bodies longer than MOCK_RECORD_MAX_BODY are cut ("body_truncated": true).
 * 3. "body" holds the raw body as a JSON string; bytes that are not valid UTF-8 are written as
 *    \u00XX. "body_base64" holds the exact bytes. */
#include <http_parser.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "mock.h"

struct record {
    char *id;
    char *json;
    size_t len;
};

static struct mock_stats *control_stats_arr;
static unsigned control_nstats;
static struct record control_ring[MOCK_RECORD_SLOTS];
static size_t control_ring_next;
static pthread_mutex_t control_lock = PTHREAD_MUTEX_INITIALIZER;

void mock_control_init(int nworkers)
{
    size_t size = (size_t)nworkers * sizeof(struct mock_stats);
    void *p = NULL;
    if (posix_memalign(&p, 64, size) != 0)
        abort();
    memset(p, 0, size);
    control_stats_arr = p;
    control_nstats = (unsigned)nworkers;
}

void mock_control_free(void)
{
    free(control_stats_arr);
    control_stats_arr = NULL;
    for (size_t i = 0; i < MOCK_RECORD_SLOTS; i++) {
        free(control_ring[i].id);
        free(control_ring[i].json);
        control_ring[i] = (struct record){0};
    }
}

struct mock_stats *mock_control_worker_stats(unsigned i)
{
    return &control_stats_arr[i];
}

/* Returns the length of the valid UTF-8 sequence at s (at most n bytes), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Appends bytes as a quoted JSON string, writing invalid UTF-8 bytes as \u00XX. */
static void put_bytes(struct buf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)p;
    buf_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        size_t l;
        while (i < n && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' && (l = utf8_len(s + i, n - i)))
            i += l;
        buf_append(b, p + run, i - run);
        if (i == n)
            break;
        if (s[i] < 0x80) {
            buf_json_escape(b, p + i, 1);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[s[i] >> 4], hex[s[i] & 15]};
            buf_append(b, e, 6);
        }
        i++;
    }
    buf_putc(b, '"');
}

void mock_control_record(const struct mock_req *q)
{
    if (!q->request_id.len)
        return;
    struct buf b = BUF_INIT;
    MOCK_LIT(&b, "{\"method\":\"");
    buf_puts(&b, http_method_str((enum http_method)q->method));
    MOCK_LIT(&b, "\",\"path\":");
    put_bytes(&b, q->path.p, q->path.len);
    MOCK_LIT(&b, ",\"url\":");
    put_bytes(&b, q->url.p, q->url.len);
    MOCK_LIT(&b, ",\"headers\":{");
    int first = 1;
    for (size_t i = 0; i < q->nhdrs; i++) {
        const struct mock_hdr *h = &q->hdrs[i];
        const char *name = q->hbase + h->name_off;
        size_t j;
        for (j = 0; j < i; j++)
            if (q->hdrs[j].name_len == h->name_len &&
                memcmp(q->hbase + q->hdrs[j].name_off, name, h->name_len) == 0)
                break;
        if (j < i)
            continue; /* a repeated header was joined into its first occurrence */
        if (!first)
            buf_putc(&b, ',');
        first = 0;
        put_bytes(&b, name, h->name_len);
        buf_putc(&b, ':');
        struct buf v = BUF_INIT;
        for (j = i; j < q->nhdrs; j++) {
            const struct mock_hdr *o = &q->hdrs[j];
            if (o->name_len != h->name_len || memcmp(q->hbase + o->name_off, name, h->name_len))
                continue;
            if (v.len)
                MOCK_LIT(&v, ", ");
            buf_append(&v, q->hbase + o->val_off, o->val_len);
        }
        put_bytes(&b, v.data ? v.data : "", v.len);
        buf_free(&v);
    }
    size_t blen = q->body.len > MOCK_RECORD_MAX_BODY ? MOCK_RECORD_MAX_BODY : q->body.len;
    MOCK_LIT(&b, "},\"body\":");
    put_bytes(&b, q->body.p ? q->body.p : "", blen);
    MOCK_LIT(&b, ",\"body_base64\":\"");
    mock_gen_base64(&b, q->body.p ? q->body.p : "", blen);
    MOCK_LIT(&b, "\",\"body_truncated\":");
    if (blen < q->body.len)
        MOCK_LIT(&b, "true}");
    else
        MOCK_LIT(&b, "false}");

    char *id = xstrndup(q->request_id.p, q->request_id.len);
    size_t len = b.len;
    char *json = buf_detach(&b);
    pthread_mutex_lock(&control_lock);
    struct record *slot = &control_ring[control_ring_next];
    control_ring_next = (control_ring_next + 1) % MOCK_RECORD_SLOTS;
    char *old_id = slot->id, *old_json = slot->json;
    *slot = (struct record){id, json, len};
    pthread_mutex_unlock(&control_lock);
    free(old_id);
    free(old_json);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void mock_control_request(struct mock_req *q, struct mock_reply *r)
{
    /* The id follows "/mock/requests/" and may be percent-encoded. */
    struct str raw = {q->path.p + 15, q->path.len - 15};
    struct buf id = BUF_INIT;
    for (size_t i = 0; i < raw.len; i++) {
        int hi, lo;
        if (raw.p[i] == '%' && i + 2 < raw.len && (hi = hexval(raw.p[i + 1])) >= 0 &&
            (lo = hexval(raw.p[i + 2])) >= 0) {
            buf_putc(&id, (char)(hi << 4 | lo));
            i += 2;
        } else {
            buf_putc(&id, raw.p[i]);
        }
    }
    int found = 0;
    struct buf *b = q->tmp;
    buf_reset(b);
    pthread_mutex_lock(&control_lock);
    for (size_t k = 0; k < MOCK_RECORD_SLOTS && id.len; k++) {
        size_t at = (control_ring_next + MOCK_RECORD_SLOTS - 1 - k) % MOCK_RECORD_SLOTS;
        struct record *rec = &control_ring[at];
        if (!rec->id)
            break;
        if (strlen(rec->id) == id.len && memcmp(rec->id, id.data, id.len) == 0) {
            buf_append(b, rec->json, rec->len);
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&control_lock);
    if (found)
        mock_reply_full(r, q, 200, "application/json", b->data, b->len, NULL);
    else
        mock_reply_error_openai(r, q, 404, "mockllm: no recorded request with that x-request-id",
                                NULL);
    buf_free(&id);
}

void mock_control_stats(struct mock_req *q, struct mock_reply *r)
{
    unsigned long long req = 0, started = 0, completed = 0, disc = 0;
    long long active = 0, conns = 0;
    for (unsigned i = 0; i < control_nstats; i++) {
        struct mock_stats *s = &control_stats_arr[i];
        req += atomic_load_explicit(&s->requests, memory_order_relaxed);
        started += atomic_load_explicit(&s->streams_started, memory_order_relaxed);
        completed += atomic_load_explicit(&s->streams_completed, memory_order_relaxed);
        disc += atomic_load_explicit(&s->client_disconnects, memory_order_relaxed);
        active += atomic_load_explicit(&s->active, memory_order_relaxed);
        conns += atomic_load_explicit(&s->connections, memory_order_relaxed);
    }
    struct buf *b = q->tmp;
    buf_reset(b);
    buf_printf(b,
               "{\"requests\":%llu,\"streams_started\":%llu,\"streams_completed\":%llu,"
               "\"client_disconnects\":%llu,\"active\":%lld,\"connections\":%lld}",
               req, started, completed, disc, active, conns);
    mock_reply_full(r, q, 200, "application/json", b->data, b->len, NULL);
}

void mock_control_reset(struct mock_req *q, struct mock_reply *r)
{
    for (unsigned i = 0; i < control_nstats; i++) {
        struct mock_stats *s = &control_stats_arr[i];
        atomic_store_explicit(&s->requests, 0, memory_order_relaxed);
        atomic_store_explicit(&s->streams_started, 0, memory_order_relaxed);
        atomic_store_explicit(&s->streams_completed, 0, memory_order_relaxed);
        atomic_store_explicit(&s->client_disconnects, 0, memory_order_relaxed);
    }
    static const char ok[] = "{\"ok\":true}";
    mock_reply_full(r, q, 200, "application/json", ok, sizeof(ok) - 1, NULL);
}
