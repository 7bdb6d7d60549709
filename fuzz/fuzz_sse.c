/* libFuzzer driver for the SSE parser (src/net/sse.c).
 *
 * Input: byte 0 picks the cap (odd: a small cap from byte 1, to reach ERR_TOO_LARGE; even: 1 MiB),
 * bytes 1-2 pick a split point, the rest is the stream. Properties checked (abort() on failure):
 *   1. feeding the stream in two pieces gives the same events and the same result as one feed;
 *   2. so does feeding it one byte at a time;
 *   3. each event written back with sse_write_event parses to exactly that event.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "net/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct record {
    struct buf out;  /* every event, length-prefixed, so any difference shows */
    int roundtrip;   /* check property 3 for each event */
};

static void put_str(struct buf *b, struct str s)
{
    char len[24];
    int n = snprintf(len, sizeof(len), "%zu:", s.len);
    buf_append(b, len, (size_t)n);
    buf_append(b, s.p, s.len);
}

static int one_event_cb(void *ud, const struct sse_event *ev)
{
    struct buf *b = ud;
    put_str(b, ev->event);
    put_str(b, ev->data);
    return 0;
}

static void check_roundtrip(const struct sse_event *ev)
{
    char *name = NULL;
    if (ev->event.len) {
        if (memchr(ev->event.p, '\0', ev->event.len))
            return; /* the writer takes a C string */
        name = malloc(ev->event.len + 1);
        memcpy(name, ev->event.p, ev->event.len);
        name[ev->event.len] = '\0';
    }
    struct buf wire = BUF_INIT, got = BUF_INIT, want = BUF_INIT;
    sse_write_event(&wire, name, ev->data.p, ev->data.len);
    struct sse_parser p;
    sse_parser_init(&p, (size_t)-1);
    if (sse_parser_feed(&p, wire.data, wire.len, one_event_cb, &got) != 0)
        abort();
    put_str(&want, ev->event);
    put_str(&want, ev->data);
    if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0) {
        fprintf(stderr, "round trip mismatch\n");
        abort();
    }
    sse_parser_free(&p);
    buf_free(&wire);
    buf_free(&got);
    buf_free(&want);
    free(name);
}

static int record_cb(void *ud, const struct sse_event *ev)
{
    struct record *r = ud;
    put_str(&r->out, ev->event);
    put_str(&r->out, ev->data);
    put_str(&r->out, ev->id);
    if (r->roundtrip)
        check_roundtrip(ev);
    return 0;
}

/* Feeds s in pieces ending at the given cuts, finishes, and records the events and the result. */
static void run(const char *s, size_t n, const size_t *cuts, size_t ncuts, size_t cap, int roundtrip,
                struct buf *out)
{
    struct sse_parser p;
    struct record r = {BUF_INIT, roundtrip};
    int rc = 0;
    size_t at = 0;
    sse_parser_init(&p, cap);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        int x = sse_parser_feed(&p, s + at, end - at, record_cb, &r);
        if (x && !rc)
            rc = x;
        at = end;
    }
    int x = sse_parser_finish(&p, record_cb, &r);
    if (x && !rc)
        rc = x;
    buf_printf(&r.out, "rc=%d", rc);
    sse_parser_free(&p);
    *out = r.out;
}

static void must_equal(const struct buf *a, const struct buf *b, const char *what)
{
    if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0) {
        fprintf(stderr, "sse split mismatch (%s)\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t cap = (data[0] & 1) ? 8 + (size_t)data[1] * 4 : (size_t)1 << 20;
    const char *s = (const char *)data + 3;
    size_t n = size - 3;
    size_t cut = n ? ((size_t)data[1] | (size_t)data[2] << 8) % (n + 1) : 0;

    struct buf whole, split, bytes;
    run(s, n, NULL, 0, cap, 1, &whole);
    size_t cuts1[1] = {cut};
    run(s, n, cuts1, 1, cap, 0, &split);
    must_equal(&whole, &split, "two pieces");

    size_t *cuts = malloc((n ? n : 1) * sizeof(*cuts));
    for (size_t i = 0; i < n; i++)
        cuts[i] = i + 1;
    run(s, n, cuts, n ? n - 1 : 0, cap, 0, &bytes);
    must_equal(&whole, &bytes, "byte by byte");
    free(cuts);
    buf_free(&whole);
    buf_free(&split);
    buf_free(&bytes);
    return 0;
}
