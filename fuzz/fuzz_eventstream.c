/* libFuzzer driver for the AWS event stream decoder (src/net/eventstream.c).
 *
 * Input: byte 0 holds flags (bit 0: a small cap from byte 1, to reach ERR_TOO_LARGE, else 1 MiB;
 * bit 1: recompute the CRCs of the frames in the stream first, so mutations reach the header parser
 * instead of dying at a CRC check), bytes 1-2 pick a split point, the rest is the stream.
 * Properties checked (abort() on failure):
 *   1. feeding the stream in two pieces gives the same messages, result and error text as one feed;
 *   2. so does feeding it one byte at a time;
 *   3. each message encoded again with eventstream_encode decodes to exactly that message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "base/buf.h"
#include "net/eventstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct record {
    struct buf out; /* every message, length-prefixed, so any difference shows */
    int roundtrip;  /* check property 3 for each message */
};

static void put_str(struct buf *b, struct str s)
{
    buf_printf(b, "%zu:", s.len);
    buf_append(b, s.p, s.len);
}

static void put_message(struct buf *b, const struct eventstream_message *msg)
{
    buf_printf(b, "[%zu]", msg->nheaders);
    for (size_t i = 0; i < msg->nheaders; i++) {
        const struct eventstream_header *h = &msg->headers[i];
        put_str(b, h->name);
        buf_printf(b, "t%d n%lld ", (int)h->type, (long long)h->num);
        put_str(b, h->str);
    }
    put_str(b, msg->payload);
}

static int one_message_cb(void *ud, const struct eventstream_message *msg)
{
    put_message(ud, msg);
    return 0;
}

static void check_roundtrip(const struct eventstream_message *msg)
{
    struct buf wire = BUF_INIT, got = BUF_INIT, want = BUF_INIT;
    if (eventstream_encode(&wire, msg->headers, msg->nheaders, msg->payload.p, msg->payload.len) != 0) {
        fprintf(stderr, "eventstream: a decoded message does not encode\n");
        abort();
    }
    struct eventstream_decoder d;
    eventstream_decoder_init(&d, wire.len);
    if (eventstream_decoder_feed(&d, wire.data, wire.len, one_message_cb, &got) != 0 ||
        eventstream_decoder_finish(&d) != 0)
        abort();
    put_message(&want, msg);
    if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0) {
        fprintf(stderr, "eventstream: round trip mismatch\n");
        abort();
    }
    eventstream_decoder_free(&d);
    buf_free(&wire);
    buf_free(&got);
    buf_free(&want);
}

static int record_cb(void *ud, const struct eventstream_message *msg)
{
    struct record *r = ud;
    put_message(&r->out, msg);
    if (r->roundtrip)
        check_roundtrip(msg);
    return 0;
}

/* Feeds s in pieces ending at the given cuts, finishes, and records the messages and the result. */
static void run(const unsigned char *s, size_t n, const size_t *cuts, size_t ncuts, size_t cap,
                int roundtrip, struct buf *out)
{
    struct eventstream_decoder d;
    struct record r = {BUF_INIT, roundtrip};
    int rc = 0;
    size_t at = 0;
    eventstream_decoder_init(&d, cap);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        int x = eventstream_decoder_feed(&d, s + at, end - at, record_cb, &r);
        if (x && !rc)
            rc = x;
        at = end;
    }
    int x = eventstream_decoder_finish(&d);
    if (x && !rc)
        rc = x;
    buf_printf(&r.out, "rc=%d why=%s", rc, eventstream_decoder_why(&d));
    eventstream_decoder_free(&d);
    *out = r.out;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Rewrites the prelude and message CRCs of each frame that fits in s[0..n). */
static void fix_crcs(unsigned char *s, size_t n)
{
    size_t at = 0;
    while (n - at >= EVENTSTREAM_PRELUDE_BYTES) {
        unsigned char *p = s + at;
        put_be32(p + 8, (uint32_t)crc32(0L, p, 8));
        size_t total = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (total < EVENTSTREAM_MIN_MESSAGE_BYTES || total > n - at)
            break;
        put_be32(p + total - 4, (uint32_t)crc32(0L, p, (uInt)(total - 4)));
        at += total;
    }
}

static void must_equal(const struct buf *a, const struct buf *b, const char *what)
{
    if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0) {
        fprintf(stderr, "eventstream split mismatch (%s)\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t cap = (data[0] & 1) ? EVENTSTREAM_MIN_MESSAGE_BYTES + (size_t)data[1] : (size_t)1 << 20;
    size_t n = size - 3;
    unsigned char *s = malloc(n ? n : 1);
    if (n)
        memcpy(s, data + 3, n);
    if (data[0] & 2)
        fix_crcs(s, n);
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
    free(s);
    buf_free(&whole);
    buf_free(&split);
    buf_free(&bytes);
    return 0;
}
