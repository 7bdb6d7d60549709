/* Tests for the AWS event stream decoder and encoder (src/net/eventstream.c).
 *
 * `test_eventstream --encode` writes the sample stream below to stdout instead of running the tests;
 * tests/e2e/eventstream.test.mjs decodes it with AWS's own codec (@smithy/eventstream-codec). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "base/buf.h"
#include "base/err.h"
#include "net/eventstream.h"

/* Messages are rendered as text, one line each ("name:type=value ... | payload"), so a whole stream
 * compares as one string and a failing assert prints both sides. */
struct collect {
    struct buf out;
    int count;
    int stop_at; /* return 7 from the callback for this message (1-based), 0 = never */
};

static void put_hex(struct buf *b, struct str s)
{
    for (size_t i = 0; i < s.len; i++)
        buf_printf(b, "%02x", (unsigned char)s.p[i]);
}

static int collect_cb(void *ud, const struct eventstream_message *msg)
{
    struct collect *c = ud;
    for (size_t i = 0; i < msg->nheaders; i++) {
        const struct eventstream_header *h = &msg->headers[i];
        buf_append(&c->out, h->name.p, h->name.len);
        buf_printf(&c->out, ":%d=", (int)h->type);
        if (h->type == EVENTSTREAM_STRING)
            buf_append(&c->out, h->str.p, h->str.len);
        else if (h->type == EVENTSTREAM_BYTES || h->type == EVENTSTREAM_UUID)
            put_hex(&c->out, h->str);
        else
            buf_printf(&c->out, "%lld", (long long)h->num);
        buf_putc(&c->out, ' ');
    }
    buf_puts(&c->out, "| ");
    buf_append(&c->out, msg->payload.p, msg->payload.len);
    buf_putc(&c->out, '\n');
    c->count++;
    return c->stop_at && c->count == c->stop_at ? 7 : 0;
}

/* Decodes s split at the given cut points (sorted, each <= len), then finishes; returns the rendered
 * messages and sets *rc to the first non-zero result (or 0) and *why to the decoder's description. */
static char *decode_cuts(const void *s, size_t len, const size_t *cuts, size_t ncuts, size_t cap,
                         int *rc, char *why, size_t why_size)
{
    struct eventstream_decoder d;
    struct collect c = {BUF_INIT, 0, 0};
    eventstream_decoder_init(&d, cap);
    size_t at = 0;
    *rc = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        int r = eventstream_decoder_feed(&d, (const char *)s + at, end - at, collect_cb, &c);
        if (r && !*rc)
            *rc = r;
        at = end;
    }
    int r = eventstream_decoder_finish(&d);
    if (r && !*rc)
        *rc = r;
    if (why)
        snprintf(why, why_size, "%s", eventstream_decoder_why(&d));
    eventstream_decoder_free(&d);
    buf_putc(&c.out, '\0');
    return buf_detach(&c.out);
}

static char *decode(const void *s, size_t len, size_t cap, int *rc, char *why, size_t why_size)
{
    return decode_cuts(s, len, NULL, 0, cap, rc, why, why_size);
}

static const unsigned char sample_uuid[16] = {0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xef,
                                              0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
static const unsigned char sample_raw[4] = {0, 1, 2, 255};

#define HSTR(n, v) {STR_LIT(n), EVENTSTREAM_STRING, STR_LIT(v), 0}
#define HNUM(n, t, v) {STR_LIT(n), (t), {NULL, 0}, (v)}

/* The sample stream: a message with every header type, a Bedrock delta, and a Bedrock exception
 * with an empty payload. tests/e2e/eventstream.test.mjs expects exactly these values. */
static void sample_stream(struct buf *out)
{
    const struct eventstream_header all[] = {
        HSTR(":event-type", "contentBlockDelta"),
        HSTR(":content-type", "application/json"),
        HSTR(":message-type", "event"),
        HNUM("flag", EVENTSTREAM_TRUE, 0),
        HNUM("off", EVENTSTREAM_FALSE, 0),
        HNUM("b", EVENTSTREAM_BYTE, -7),
        HNUM("s", EVENTSTREAM_SHORT, 1234),
        HNUM("i", EVENTSTREAM_INT, -123456),
        HNUM("l", EVENTSTREAM_LONG, 1234567890123LL),
        {STR_LIT("raw"), EVENTSTREAM_BYTES, {(const char *)sample_raw, 4}, 0},
        HNUM("ts", EVENTSTREAM_TIMESTAMP, 1700000000123LL),
        {STR_LIT("id"), EVENTSTREAM_UUID, {(const char *)sample_uuid, 16}, 0},
    };
    const struct eventstream_header delta[] = {
        HSTR(":event-type", "contentBlockDelta"),
        HSTR(":content-type", "application/json"),
        HSTR(":message-type", "event"),
    };
    const struct eventstream_header exc[] = {
        HSTR(":exception-type", "throttlingException"),
        HSTR(":content-type", "application/json"),
        HSTR(":message-type", "exception"),
    };
    static const char p1[] = "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}";
    static const char p2[] = "{\"contentBlockIndex\":0,\"delta\":{\"text\":\" there\"}}";
    assert_int_equal(eventstream_encode(out, all, sizeof(all) / sizeof(all[0]), p1, strlen(p1)), 0);
    assert_int_equal(eventstream_encode(out, delta, 3, p2, strlen(p2)), 0);
    assert_int_equal(eventstream_encode(out, exc, 3, NULL, 0), 0);
}

static const char sample_rendered[] =
    ":event-type:7=contentBlockDelta :content-type:7=application/json :message-type:7=event "
    "flag:0=1 off:1=0 b:2=-7 s:3=1234 i:4=-123456 l:5=1234567890123 raw:6=000102ff "
    "ts:8=1700000000123 id:9=0123abcd456789ef0123456789abcdef "
    "| {\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}\n"
    ":event-type:7=contentBlockDelta :content-type:7=application/json :message-type:7=event "
    "| {\"contentBlockIndex\":0,\"delta\":{\"text\":\" there\"}}\n"
    ":exception-type:7=throttlingException :content-type:7=application/json "
    ":message-type:7=exception | \n";

/* A frame made by AWS's own codec: @smithy/eventstream-codec 4.5.2, EventStreamCodec(toUtf8,
 * fromUtf8).encode() in a one-off Node script, with the headers and payload of the sample's first
 * message (Int64.fromNumber for "l", a Date for "ts"), bytes printed as this array. */
static const unsigned char aws_frame[229] = {
    0x00, 0x00, 0x00, 0xe5, 0x00, 0x00, 0x00, 0xa8, 0x5d, 0x1b, 0xbc, 0x1c,
    0x0b, 0x3a, 0x65, 0x76, 0x65, 0x6e, 0x74, 0x2d, 0x74, 0x79, 0x70, 0x65,
    0x07, 0x00, 0x11, 0x63, 0x6f, 0x6e, 0x74, 0x65, 0x6e, 0x74, 0x42, 0x6c,
    0x6f, 0x63, 0x6b, 0x44, 0x65, 0x6c, 0x74, 0x61, 0x0d, 0x3a, 0x63, 0x6f,
    0x6e, 0x74, 0x65, 0x6e, 0x74, 0x2d, 0x74, 0x79, 0x70, 0x65, 0x07, 0x00,
    0x10, 0x61, 0x70, 0x70, 0x6c, 0x69, 0x63, 0x61, 0x74, 0x69, 0x6f, 0x6e,
    0x2f, 0x6a, 0x73, 0x6f, 0x6e, 0x0d, 0x3a, 0x6d, 0x65, 0x73, 0x73, 0x61,
    0x67, 0x65, 0x2d, 0x74, 0x79, 0x70, 0x65, 0x07, 0x00, 0x05, 0x65, 0x76,
    0x65, 0x6e, 0x74, 0x04, 0x66, 0x6c, 0x61, 0x67, 0x00, 0x03, 0x6f, 0x66,
    0x66, 0x01, 0x01, 0x62, 0x02, 0xf9, 0x01, 0x73, 0x03, 0x04, 0xd2, 0x01,
    0x69, 0x04, 0xff, 0xfe, 0x1d, 0xc0, 0x01, 0x6c, 0x05, 0x00, 0x00, 0x01,
    0x1f, 0x71, 0xfb, 0x04, 0xcb, 0x03, 0x72, 0x61, 0x77, 0x06, 0x00, 0x04,
    0x00, 0x01, 0x02, 0xff, 0x02, 0x74, 0x73, 0x08, 0x00, 0x00, 0x01, 0x8b,
    0xcf, 0xe5, 0x68, 0x7b, 0x02, 0x69, 0x64, 0x09, 0x01, 0x23, 0xab, 0xcd,
    0x45, 0x67, 0x89, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    0x7b, 0x22, 0x63, 0x6f, 0x6e, 0x74, 0x65, 0x6e, 0x74, 0x42, 0x6c, 0x6f,
    0x63, 0x6b, 0x49, 0x6e, 0x64, 0x65, 0x78, 0x22, 0x3a, 0x30, 0x2c, 0x22,
    0x64, 0x65, 0x6c, 0x74, 0x61, 0x22, 0x3a, 0x7b, 0x22, 0x74, 0x65, 0x78,
    0x74, 0x22, 0x3a, 0x22, 0x48, 0x69, 0x22, 0x7d, 0x7d, 0x11, 0x74, 0x6e,
    0xc9,
};

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t crc(const void *p, size_t n)
{
    return (uint32_t)crc32(0L, p, (uInt)n);
}

/* Appends a hand-made frame: the given lengths (not checked), raw header bytes and payload, and
 * correct CRCs, so a test can reach the checks behind them. */
static void raw_frame(struct buf *out, uint32_t total, uint32_t hlen, const void *headers,
                      size_t headers_len, const char *payload)
{
    unsigned char pre[12];
    put_be32(pre, total);
    put_be32(pre + 4, hlen);
    put_be32(pre + 8, crc(pre, 8));
    size_t start = out->len;
    buf_append(out, pre, 12);
    buf_append(out, headers, headers_len);
    buf_puts(out, payload);
    unsigned char tail[4];
    put_be32(tail, crc(out->data + start, out->len - start));
    buf_append(out, tail, 4);
}

static void expect_error(const void *s, size_t len, size_t cap, int want_rc, const char *want_why,
                         const char *want_msgs)
{
    int rc;
    char why[128];
    char *got = decode(s, len, cap, &rc, why, sizeof(why));
    assert_int_equal(rc, want_rc);
    if (!strstr(why, want_why))
        fail_msg("why is \"%s\", expected it to contain \"%s\"", why, want_why);
    assert_string_equal(got, want_msgs);
    free(got);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sample_stream(&b);
    int rc;
    char *got = decode(b.data, b.len, 1 << 20, &rc, NULL, 0);
    assert_int_equal(rc, 0);
    assert_string_equal(got, sample_rendered);
    free(got);
    buf_free(&b);
}

static void test_aws_frame(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sample_stream(&b);
    /* our encoder writes the very bytes AWS's does */
    assert_true(b.len > sizeof(aws_frame));
    assert_memory_equal(b.data, aws_frame, sizeof(aws_frame));
    int rc;
    char *got = decode(aws_frame, sizeof(aws_frame), 1 << 20, &rc, NULL, 0);
    assert_int_equal(rc, 0);
    const char *nl = strchr(sample_rendered, '\n');
    assert_int_equal(strlen(got), (size_t)(nl - sample_rendered + 1));
    assert_memory_equal(got, sample_rendered, strlen(got));
    free(got);
    buf_free(&b);
}

static void test_every_split(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sample_stream(&b);
    for (size_t cut = 0; cut <= b.len; cut++) {
        int rc;
        char *got = decode_cuts(b.data, b.len, &cut, 1, 1 << 20, &rc, NULL, 0);
        assert_int_equal(rc, 0);
        assert_string_equal(got, sample_rendered);
        free(got);
    }
    buf_free(&b);
}

static void test_every_double_split(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sample_stream(&b);
    for (size_t i = 0; i <= b.len; i += 3) {
        for (size_t j = i; j <= b.len; j++) {
            size_t cuts[2] = {i, j};
            int rc;
            char *got = decode_cuts(b.data, b.len, cuts, 2, 1 << 20, &rc, NULL, 0);
            assert_int_equal(rc, 0);
            assert_string_equal(got, sample_rendered);
            free(got);
        }
    }
    buf_free(&b);
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sample_stream(&b);
    size_t *cuts = malloc(b.len * sizeof(*cuts));
    for (size_t i = 0; i < b.len; i++)
        cuts[i] = i + 1;
    int rc;
    char *got = decode_cuts(b.data, b.len, cuts, b.len - 1, 1 << 20, &rc, NULL, 0);
    assert_int_equal(rc, 0);
    assert_string_equal(got, sample_rendered);
    free(got);
    free(cuts);
    buf_free(&b);
}

/* The rendering of the sample's first message only. */
static char *first_rendered(void)
{
    size_t n = (size_t)(strchr(sample_rendered, '\n') - sample_rendered) + 1;
    char *s = malloc(n + 1);
    memcpy(s, sample_rendered, n);
    s[n] = '\0';
    return s;
}

static void test_prelude_crc(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sample_stream(&b);
    size_t second = sizeof(aws_frame);
    b.data[second + 9] ^= 0x40; /* the second message's prelude CRC */
    char *first = first_rendered();
    expect_error(b.data, b.len, 1 << 20, ERR_PARSE, "prelude CRC mismatch", first);
    b.data[second + 9] ^= 0x40;
    b.data[second + 2] ^= 0x01; /* its total length: the CRC no longer matches the prelude */
    expect_error(b.data, b.len, 1 << 20, ERR_PARSE, "prelude CRC mismatch", first);
    free(first);
    buf_free(&b);
}

static void test_message_crc(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sample_stream(&b);
    char *first = first_rendered();
    size_t second = sizeof(aws_frame);
    b.data[second + 30] ^= 0x20; /* a byte in the second message's headers */
    expect_error(b.data, b.len, 1 << 20, ERR_PARSE, "message CRC mismatch", first);
    b.data[second + 30] ^= 0x20;
    b.data[second - 1] ^= 0x01; /* the first message's own CRC */
    expect_error(b.data, b.len, 1 << 20, ERR_PARSE, "message CRC mismatch", "");
    free(first);
    buf_free(&b);
}

static void test_truncated(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sample_stream(&b);
    char *first = first_rendered();
    expect_error(b.data, sizeof(aws_frame) + 5, 1 << 20, ERR_PARSE, "inside a prelude (5 of 12", first);
    expect_error(b.data, sizeof(aws_frame) + 40, 1 << 20, ERR_PARSE, "inside a message (40 of ", first);
    free(first);
    buf_free(&b);
}

static void test_truncated_keeps_earlier(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sample_stream(&b);
    int rc;
    char why[128];
    char *got = decode(b.data, b.len - 1, 1 << 20, &rc, why, sizeof(why));
    assert_int_equal(rc, ERR_PARSE);
    /* the first two messages were delivered before the stream was cut */
    const char *third = strstr(sample_rendered, ":exception-type");
    assert_int_equal(strlen(got), (size_t)(third - sample_rendered));
    assert_memory_equal(got, sample_rendered, strlen(got));
    free(got);
    buf_free(&b);
}

static void test_too_large(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sample_stream(&b);
    /* the first message is 229 bytes: a cap of 229 takes it, 228 refuses it */
    int rc;
    char *got = decode(aws_frame, sizeof(aws_frame), sizeof(aws_frame), &rc, NULL, 0);
    assert_int_equal(rc, 0);
    free(got);
    expect_error(aws_frame, sizeof(aws_frame), sizeof(aws_frame) - 1, ERR_TOO_LARGE,
                 "message of 229 bytes exceeds the cap of 228", "");
    /* refused at the prelude: the rest of the message need not even arrive */
    expect_error(aws_frame, 12, 100, ERR_TOO_LARGE, "exceeds the cap", "");
    buf_free(&b);
}

static void test_headers_overrun(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    /* the headers length claims more than the message holds */
    raw_frame(&b, 16 + 4, 5, "", 0, "abcd");
    expect_error(b.data, b.len, 1 << 20, ERR_PARSE, "headers length 5 overruns the 20-byte message",
                 "");
    /* a total below the minimum */
    buf_reset(&b);
    raw_frame(&b, 12, 0, "", 0, "");
    expect_error(b.data, b.len, 1 << 20, ERR_PARSE, "below the minimum", "");
    /* a string header whose value runs past the headers length */
    static const unsigned char h1[] = {1, 'x', 7, 0, 9, 'a', 'b'};
    buf_reset(&b);
    raw_frame(&b, 16 + sizeof(h1) + 2, sizeof(h1), h1, sizeof(h1), "zz");
    expect_error(b.data, b.len, 1 << 20, ERR_PARSE, "header \"x\" runs past the headers", "");
    /* a name running past the headers */
    static const unsigned char h2[] = {9, 'x', 'y'};
    buf_reset(&b);
    raw_frame(&b, 16 + sizeof(h2), sizeof(h2), h2, sizeof(h2), "");
    expect_error(b.data, b.len, 1 << 20, ERR_PARSE, "header 1 runs past the headers", "");
    /* a fixed-size value cut short */
    static const unsigned char h3[] = {1, 'n', EVENTSTREAM_INT, 0, 0};
    buf_reset(&b);
    raw_frame(&b, 16 + sizeof(h3), sizeof(h3), h3, sizeof(h3), "");
    expect_error(b.data, b.len, 1 << 20, ERR_PARSE, "header \"n\" runs past the headers", "");
    /* an unknown value type */
    static const unsigned char h4[] = {1, 'q', 10};
    buf_reset(&b);
    raw_frame(&b, 16 + sizeof(h4), sizeof(h4), h4, sizeof(h4), "");
    expect_error(b.data, b.len, 1 << 20, ERR_PARSE, "header \"q\" has unknown type 10", "");
    buf_free(&b);
}

static void test_empty_payload(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(eventstream_encode(&b, NULL, 0, NULL, 0), 0);
    assert_int_equal(b.len, EVENTSTREAM_MIN_MESSAGE_BYTES);
    const struct eventstream_header h[] = {HNUM("t", EVENTSTREAM_TRUE, 0)};
    assert_int_equal(eventstream_encode(&b, h, 1, "", 0), 0);
    int rc;
    char *got = decode(b.data, b.len, EVENTSTREAM_MIN_MESSAGE_BYTES + 3, &rc, NULL, 0);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "| \nt:0=1 | \n");
    free(got);
    buf_free(&b);
}

static void test_too_many_headers(void **state)
{
    (void)state;
    struct eventstream_header h[EVENTSTREAM_MAX_HEADERS + 1];
    for (size_t i = 0; i < EVENTSTREAM_MAX_HEADERS + 1; i++)
        h[i] = (struct eventstream_header)HNUM("f", EVENTSTREAM_FALSE, 0);
    struct buf b = BUF_INIT;
    assert_int_equal(eventstream_encode(&b, h, EVENTSTREAM_MAX_HEADERS, "x", 1), 0);
    int rc;
    char *got = decode(b.data, b.len, 1 << 20, &rc, NULL, 0);
    assert_int_equal(rc, 0);
    free(got);
    buf_reset(&b);
    assert_int_equal(eventstream_encode(&b, h, EVENTSTREAM_MAX_HEADERS + 1, "x", 1), 0);
    expect_error(b.data, b.len, 1 << 20, ERR_LIMIT, "more than 32 headers", "");
    buf_free(&b);
}

static void test_callback_stop(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sample_stream(&b);
    struct eventstream_decoder d;
    struct collect c = {BUF_INIT, 0, 2};
    eventstream_decoder_init(&d, 1 << 20);
    assert_int_equal(eventstream_decoder_feed(&d, b.data, b.len, collect_cb, &c), 7);
    assert_int_equal(c.count, 2);
    /* sticky: later calls return the same and deliver nothing */
    assert_int_equal(eventstream_decoder_feed(&d, b.data, b.len, collect_cb, &c), 7);
    assert_int_equal(eventstream_decoder_finish(&d), 7);
    assert_int_equal(c.count, 2);
    assert_string_equal(eventstream_decoder_why(&d), "");
    eventstream_decoder_free(&d);
    buf_free(&c.out);
    buf_free(&b);
}

static void test_error_sticky(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sample_stream(&b);
    struct eventstream_decoder d;
    struct collect c = {BUF_INIT, 0, 0};
    eventstream_decoder_init(&d, 1 << 20);
    static const char junk[16] = "not a frame....";
    assert_int_equal(eventstream_decoder_feed(&d, junk, sizeof(junk), collect_cb, &c), ERR_PARSE);
    assert_int_equal(eventstream_decoder_feed(&d, b.data, b.len, collect_cb, &c), ERR_PARSE);
    assert_int_equal(eventstream_decoder_finish(&d), ERR_PARSE);
    assert_int_equal(c.count, 0);
    assert_non_null(strstr(eventstream_decoder_why(&d), "prelude CRC mismatch"));
    eventstream_decoder_free(&d);
    buf_free(&c.out);
    buf_free(&b);
}

static int find_cb(void *ud, const struct eventstream_message *msg)
{
    struct buf *out = ud;
    struct str et = eventstream_header_string(msg, ":event-type");
    struct str mt = eventstream_header_string(msg, ":message-type");
    const struct eventstream_header *ts = eventstream_header_find(msg, "ts");
    buf_append(out, mt.p, mt.len);
    buf_putc(out, '/');
    buf_append(out, et.p, et.len);
    buf_printf(out, "/%s/%d;", ts ? "ts" : "-", eventstream_header_string(msg, "ts").p == NULL);
    return 0;
}

static void test_header_lookup(void **state)
{
    (void)state;
    struct buf b = BUF_INIT, out = BUF_INIT;
    sample_stream(&b);
    struct eventstream_decoder d;
    eventstream_decoder_init(&d, 1 << 20);
    assert_int_equal(eventstream_decoder_feed(&d, b.data, b.len, find_cb, &out), 0);
    assert_int_equal(eventstream_decoder_finish(&d), 0);
    assert_string_equal(out.data, "event/contentBlockDelta/ts/1;event/contentBlockDelta/-/1;"
                                  "exception//-/1;");
    eventstream_decoder_free(&d);
    buf_free(&out);
    buf_free(&b);
}

static void test_encode_invalid(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_puts(&b, "keep");
    char big[EVENTSTREAM_MAX_VALUE_BYTES + 1];
    memset(big, 'a', sizeof(big));
    const struct eventstream_header bad[] = {
        {{big, 256}, EVENTSTREAM_TRUE, {NULL, 0}, 0},
        {STR_LIT("s"), EVENTSTREAM_STRING, {big, sizeof(big)}, 0},
        {STR_LIT("u"), EVENTSTREAM_UUID, STR_LIT("short"), 0},
        HNUM("b", EVENTSTREAM_BYTE, 128),
        HNUM("s", EVENTSTREAM_SHORT, -32769),
        HNUM("i", EVENTSTREAM_INT, 2147483648LL),
        HNUM("t", (enum eventstream_type)10, 0),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct eventstream_header h[2] = {HSTR("ok", "fine"), bad[i]};
        assert_int_equal(eventstream_encode(&b, h, 2, "payload", 7), ERR_INVAL);
        assert_string_equal(b.data, "keep");
    }
    /* the edges of each range are fine */
    const struct eventstream_header edges[] = {
        {{big, 255}, EVENTSTREAM_TRUE, {NULL, 0}, 0},
        {STR_LIT("s"), EVENTSTREAM_BYTES, {big, sizeof(big) - 1}, 0},
        HNUM("b", EVENTSTREAM_BYTE, -128), HNUM("b", EVENTSTREAM_BYTE, 127),
        HNUM("s", EVENTSTREAM_SHORT, -32768), HNUM("i", EVENTSTREAM_INT, INT32_MIN),
        HNUM("l", EVENTSTREAM_LONG, INT64_MIN), HNUM("l", EVENTSTREAM_LONG, INT64_MAX),
    };
    buf_reset(&b);
    assert_int_equal(eventstream_encode(&b, edges, sizeof(edges) / sizeof(edges[0]), NULL, 0), 0);
    int rc;
    char *got = decode(b.data, b.len, 1 << 20, &rc, NULL, 0);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(got, " b:2=-128 b:2=127 s:3=-32768 i:4=-2147483648 "
                                "l:5=-9223372036854775808 l:5=9223372036854775807 | \n"));
    free(got);
    buf_free(&b);
}

/* `--encode`: writes the sample stream to stdout for tests/e2e/eventstream.test.mjs. */
static int write_sample(void)
{
    struct buf b = BUF_INIT;
    sample_stream(&b);
    size_t n = fwrite(b.data, 1, b.len, stdout);
    int ok = n == b.len && fflush(stdout) == 0;
    buf_free(&b);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--encode") == 0)
        return write_sample();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_aws_frame),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_every_double_split),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_prelude_crc),
        cmocka_unit_test(test_message_crc),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_truncated_keeps_earlier),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_headers_overrun),
        cmocka_unit_test(test_empty_payload),
        cmocka_unit_test(test_too_many_headers),
        cmocka_unit_test(test_callback_stop),
        cmocka_unit_test(test_error_sticky),
        cmocka_unit_test(test_header_lookup),
        cmocka_unit_test(test_encode_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
