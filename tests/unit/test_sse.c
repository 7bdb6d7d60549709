/* Tests for the SSE parser and writer (src/net/sse.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "net/sse.h"

/* Events are rendered as "[event]{data}(id)" one after another, so a whole stream compares as one
 * string and a failing assert prints both sides. */
struct collect {
    struct buf out;
    int count;
    int stop_at; /* return 7 from the callback for this event (1-based), 0 = never */
};

static int collect_cb(void *ud, const struct sse_event *ev)
{
    struct collect *c = ud;
    buf_putc(&c->out, '[');
    buf_append(&c->out, ev->event.p, ev->event.len);
    buf_puts(&c->out, "]{");
    buf_append(&c->out, ev->data.p, ev->data.len);
    buf_puts(&c->out, "}(");
    buf_append(&c->out, ev->id.p, ev->id.len);
    buf_putc(&c->out, ')');
    c->count++;
    return c->stop_at && c->count == c->stop_at ? 7 : 0;
}

/* Parses s split at the given cut points (sorted, each <= len), then finishes when finish is set;
 * returns the rendered events and sets *rc to the first non-zero result (or 0). */
static char *parse_cuts(const char *s, size_t len, const size_t *cuts, size_t ncuts, int finish,
                        size_t cap, int *rc)
{
    struct sse_parser p;
    struct collect c = {BUF_INIT, 0, 0};
    sse_parser_init(&p, cap);
    size_t at = 0;
    *rc = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        int r = sse_parser_feed(&p, s + at, end - at, collect_cb, &c);
        if (r && !*rc)
            *rc = r;
        at = end;
    }
    if (finish) {
        int r = sse_parser_finish(&p, collect_cb, &c);
        if (r && !*rc)
            *rc = r;
    }
    sse_parser_free(&p);
    buf_putc(&c.out, '\0');
    return buf_detach(&c.out);
}

static char *parse(const char *s, int finish, int *rc)
{
    return parse_cuts(s, strlen(s), NULL, 0, finish, 1 << 20, rc);
}

static void expect(const char *in, int finish, const char *want)
{
    int rc;
    char *got = parse(in, finish, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, want);
    free(got);
}

static const char sample[] =
    "\xEF\xBB\xBF"
    ": a comment\r\n"
    "event: message_start\r\n"
    "data: {\"type\":\"message_start\"}\r\n"
    "\r\n"
    "id: 7\n"
    "data: line one\n"
    "data:line two\n"
    "data\n"
    "\n"
    "event: ping\r"
    "data: {}\r"
    "\r"
    "retry: 100\n"
    "unknown: field\n"
    "data:  two spaces\r\n"
    "\r\n"
    "data: [DONE]\n\n";

static const char sample_want[] =
    "[message_start]{{\"type\":\"message_start\"}}()"
    "[]{line one\nline two\n}(7)"
    "[ping]{{}}(7)"
    "[]{ two spaces}(7)"
    "[]{[DONE]}(7)";

static void test_sample_one_shot(void **state)
{
    (void)state;
    expect(sample, 0, sample_want);
}

static void test_every_split(void **state)
{
    (void)state;
    size_t len = sizeof(sample) - 1;
    for (size_t i = 0; i <= len; i++) {
        int rc;
        size_t cut[1] = {i};
        char *got = parse_cuts(sample, len, cut, 1, 0, 1 << 20, &rc);
        assert_int_equal(rc, 0);
        assert_string_equal(got, sample_want);
        free(got);
    }
}

static void test_every_double_split(void **state)
{
    (void)state;
    size_t len = sizeof(sample) - 1;
    for (size_t i = 0; i <= len; i++) {
        for (size_t j = i; j <= len; j++) {
            int rc;
            size_t cuts[2] = {i, j};
            char *got = parse_cuts(sample, len, cuts, 2, 0, 1 << 20, &rc);
            assert_int_equal(rc, 0);
            assert_string_equal(got, sample_want);
            free(got);
        }
    }
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    size_t len = sizeof(sample) - 1;
    size_t cuts[sizeof(sample)];
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    int rc;
    char *got = parse_cuts(sample, len, cuts, len, 0, 1 << 20, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, sample_want);
    free(got);
}

static void test_line_endings(void **state)
{
    (void)state;
    const char *want = "[e]{a\nb}()[]{c}()";
    expect("event: e\ndata: a\ndata: b\n\ndata: c\n\n", 0, want);
    expect("event: e\rdata: a\rdata: b\r\rdata: c\r\r", 0, want);
    expect("event: e\r\ndata: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n", 0, want);
    expect("event: e\r\ndata: a\rdata: b\n\r\ndata: c\n\r", 0, want);
    /* CR CR is two line ends (an empty line), CR LF is one. */
    expect("data: x\r\rdata: y\r\n\r\n", 0, "[]{x}()[]{y}()");
}

static void test_crlf_split(void **state)
{
    (void)state;
    /* The LF of a CRLF arriving in the next feed must not count as a second (empty) line. */
    const char s[] = "data: a\r\ndata: b\r\n\r\n";
    size_t cut[1] = {8}; /* between the first CR and LF */
    int rc;
    char *got = parse_cuts(s, sizeof(s) - 1, cut, 1, 0, 1 << 20, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "[]{a\nb}()");
    free(got);
}

static void test_comments_and_unknown(void **state)
{
    (void)state;
    expect(": keep-alive\n\n:\n\ndata: x\n: inside\ndata: y\n\n", 0, "[]{x\ny}()");
    expect("foo: bar\nDATA: no\ndata: yes\n\n", 0, "[]{yes}()");
}

static void test_no_colon_field(void **state)
{
    (void)state;
    expect("data\n\n", 0, "[]{}()");
    expect("data\ndata\n\n", 0, "[]{\n}()");
    expect("data:\n\n", 0, "[]{}()");
    expect("event\ndata: x\n\n", 0, "[]{x}()");
}

static void test_event_without_data_dropped(void **state)
{
    (void)state;
    expect("event: ping\n\ndata: x\n\n", 0, "[]{x}()");
    expect("event: a\nid: 1\n\n", 0, "");
}

static void test_anthropic(void **state)
{
    (void)state;
    expect("event: message_start\n"
           "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\"}}\n\n"
           "event: content_block_delta\n"
           "data: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hi\"}}\n\n"
           "event: ping\n"
           "data: {\"type\": \"ping\"}\n\n"
           "event: message_stop\n"
           "data: {\"type\":\"message_stop\"}\n\n",
           0,
           "[message_start]{{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\"}}}()"
           "[content_block_delta]{{\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hi\"}}}()"
           "[ping]{{\"type\": \"ping\"}}()"
           "[message_stop]{{\"type\":\"message_stop\"}}()");
}

static void test_openai_done(void **state)
{
    (void)state;
    expect("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
           "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n"
           "data: [DONE]\n\n",
           0,
           "[]{{\"choices\":[{\"delta\":{\"content\":\"a\"}}]}}()"
           "[]{{\"choices\":[{\"delta\":{\"content\":\"b\"}}]}}()"
           "[]{[DONE]}()");
}

static void test_bom(void **state)
{
    (void)state;
    expect("\xEF\xBB\xBF" "data: x\n\n", 0, "[]{x}()");
    /* Only one BOM, only at the start: a second one makes the field name unknown. */
    expect("\xEF\xBB\xBF\xEF\xBB\xBF" "data: x\n\ndata: y\n\n", 0, "[]{y}()");
    /* A BOM prefix that is not a BOM is the start of the first line. */
    expect("\xEF\xBB" "data: x\n\ndata: y\n\n", 0, "[]{y}()");
    /* The BOM split over feeds. */
    const char s[] = "\xEF\xBB\xBF" "data: z\n\n";
    size_t cuts[2] = {1, 2};
    int rc;
    char *got = parse_cuts(s, sizeof(s) - 1, cuts, 2, 0, 1 << 20, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "[]{z}()");
    free(got);
}

static void test_id_and_retry(void **state)
{
    (void)state;
    expect("id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", 0, "[]{a}(1)[]{b}(1)[]{c}()");
    struct sse_parser p;
    struct collect c = {BUF_INIT, 0, 0};
    sse_parser_init(&p, 1024);
    assert_int_equal(p.retry_ms, -1);
    const char *s = "retry: 2500\nretry: x12\nretry:\ndata: a\n\n";
    assert_int_equal(sse_parser_feed(&p, s, strlen(s), collect_cb, &c), 0);
    assert_int_equal(p.retry_ms, 2500);
    /* An id with a NUL byte is ignored. */
    const char t[] = "id: a\0b\ndata: d\n\n";
    assert_int_equal(sse_parser_feed(&p, t, sizeof(t) - 1, collect_cb, &c), 0);
    buf_putc(&c.out, '\0');
    assert_string_equal(c.out.data, "[]{a}()[]{d}()");
    sse_parser_free(&p);
    buf_free(&c.out);
}

static void test_cap(void **state)
{
    (void)state;
    int rc;
    /* The first event fits (16 bytes counted), the second one does not. */
    const char *s = "data: 0123456789\n\ndata: 0123456789\ndata: 0123456789\n\ndata: after\n\n";
    char *got = parse_cuts(s, strlen(s), NULL, 0, 1, 16, &rc);
    assert_int_equal(rc, ERR_TOO_LARGE);
    assert_string_equal(got, "[]{0123456789}()");
    free(got);
    /* Every split gives the same result, even when the long line arrives in pieces. */
    for (size_t i = 0; i <= strlen(s); i++) {
        size_t cut[1] = {i};
        got = parse_cuts(s, strlen(s), cut, 1, 1, 16, &rc);
        assert_int_equal(rc, ERR_TOO_LARGE);
        assert_string_equal(got, "[]{0123456789}()");
        free(got);
    }
    /* A single endless line with no line end is caught without waiting for one. */
    struct sse_parser p;
    struct collect c = {BUF_INIT, 0, 0};
    sse_parser_init(&p, 100);
    char chunk[64];
    memset(chunk, 'x', sizeof(chunk));
    assert_int_equal(sse_parser_feed(&p, chunk, sizeof(chunk), collect_cb, &c), 0);
    assert_int_equal(sse_parser_feed(&p, chunk, sizeof(chunk), collect_cb, &c), ERR_TOO_LARGE);
    /* Sticky. */
    assert_int_equal(sse_parser_feed(&p, "\n\n", 2, collect_cb, &c), ERR_TOO_LARGE);
    assert_int_equal(sse_parser_finish(&p, collect_cb, &c), ERR_TOO_LARGE);
    assert_int_equal(c.count, 0);
    sse_parser_free(&p);
    buf_free(&c.out);
}

static void test_cap_exact(void **state)
{
    (void)state;
    int rc;
    /* "data: 0123456789" is 16 bytes: allowed with cap 16, refused with cap 15. */
    char *got = parse_cuts("data: 0123456789\n\n", 18, NULL, 0, 0, 16, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "[]{0123456789}()");
    free(got);
    got = parse_cuts("data: 0123456789\n\n", 18, NULL, 0, 0, 15, &rc);
    assert_int_equal(rc, ERR_TOO_LARGE);
    assert_string_equal(got, "");
    free(got);
}

static void test_finish(void **state)
{
    (void)state;
    expect("data: a\n\ndata: b\n", 1, "[]{a}()[]{b}()");
    expect("data: a\n\ndata: b\n", 0, "[]{a}()");
    expect("data: [DONE]", 1, "[]{[DONE]}()");
    expect("data: [DONE]", 0, "");
    expect("data: a\n\n", 1, "[]{a}()");
    expect("", 1, "");
    expect(": only a comment", 1, "");
    expect("event: x\ndata: y\r", 1, "[x]{y}()");
}

static void test_callback_stop(void **state)
{
    (void)state;
    struct sse_parser p;
    struct collect c = {BUF_INIT, 0, 2};
    sse_parser_init(&p, 1024);
    const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    assert_int_equal(sse_parser_feed(&p, s, strlen(s), collect_cb, &c), 7);
    assert_int_equal(c.count, 2);
    assert_int_equal(sse_parser_feed(&p, s, strlen(s), collect_cb, &c), 7);
    assert_int_equal(sse_parser_finish(&p, collect_cb, &c), 7);
    assert_int_equal(c.count, 2);
    sse_parser_free(&p);
    buf_free(&c.out);
}

static void test_writer(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    sse_write_event(&b, NULL, "[DONE]", 6);
    assert_string_equal(b.data, "data: [DONE]\n\n");
    buf_reset(&b);
    sse_write_event(&b, "message_start", "{\"a\":1}", 7);
    assert_string_equal(b.data, "event: message_start\ndata: {\"a\":1}\n\n");
    buf_reset(&b);
    sse_write_event(&b, "x", "one\ntwo\r\nthree\rfour\n", 20);
    assert_string_equal(b.data, "event: x\ndata: one\ndata: two\ndata: three\ndata: four\ndata:\n\n");
    buf_reset(&b);
    sse_write_event(&b, NULL, "", 0);
    assert_string_equal(b.data, "data:\n\n");
    buf_reset(&b);
    sse_write_event(&b, "bad\nevent", "d", 1);
    assert_string_equal(b.data, "event: bad\ndata: d\n\n");
    buf_free(&b);
}

static void test_writer_round_trip(void **state)
{
    (void)state;
    static const char *datas[] = {"", "a", "a\nb", "\n", "\n\n", " lead", "x\r\ny", "end\n", ":colon"};
    for (size_t i = 0; i < sizeof(datas) / sizeof(datas[0]); i++) {
        struct buf b = BUF_INIT;
        sse_write_event(&b, "ev", datas[i], strlen(datas[i]));
        int rc;
        char *got = parse(b.data, 0, &rc);
        assert_int_equal(rc, 0);
        struct buf want = BUF_INIT;
        buf_puts(&want, "[ev]{");
        for (const char *q = datas[i]; *q; q++) {
            if (q[0] == '\r' && q[1] == '\n')
                continue;
            buf_putc(&want, *q == '\r' ? '\n' : *q);
        }
        buf_puts(&want, "}()");
        assert_string_equal(got, want.data);
        free(got);
        buf_free(&want);
        buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_one_shot),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_every_double_split),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_crlf_split),
        cmocka_unit_test(test_comments_and_unknown),
        cmocka_unit_test(test_no_colon_field),
        cmocka_unit_test(test_event_without_data_dropped),
        cmocka_unit_test(test_anthropic),
        cmocka_unit_test(test_openai_done),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_id_and_retry),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_cap_exact),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_callback_stop),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_writer_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
