/* Tests of mockllm's pure parts: the deterministic text, token estimates, base64, embedding
 * vectors, JSON string escaping, and the reply builder (segments, chunks, stream faults, errors).
 * mockllm is not part of libtollgate, so its two pure files are compiled into this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "../../tools/mockllm/gen.c"
#include "../../tools/mockllm/reply.c"

/* Fails unless the buffer holds exactly want, printing both. */
#define assert_buf_eq(b, want) assert_buf_eq_((b), (want), __FILE__, __LINE__)
static void assert_buf_eq_(const struct buf *b, const char *want, const char *file, int line)
{
    const char *got = b->data ? b->data : "";
    if (b->len != strlen(want) || memcmp(got, want, b->len) != 0) {
        print_error("expected:\n  [%s]\ngot:\n  [%.*s]\n", want, (int)b->len, got);
        _fail(file, line);
    }
}

#define assert_contains(hay, needle) assert_contains_(hay, needle, __FILE__, __LINE__)
static void assert_contains_(const char *hay, const char *needle, const char *file, int line)
{
    if (!hay || !strstr(hay, needle)) {
        print_error("expected to find:\n  %s\nin:\n%s\n", needle, hay ? hay : "(null)");
        _fail(file, line);
    }
}

static void test_word_lengths_match(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < GEN_NWORDS; i++) {
        assert_int_equal(gen_word_len[i], strlen(gen_words[i]));
        buf_puts(&b, gen_words[i]);
        buf_putc(&b, ' ');
    }
    assert_buf_eq(&b, gen_block);
    buf_free(&b);
}

static void test_text_and_pieces(void **state)
{
    (void)state;
    struct buf t = BUF_INIT, p = BUF_INIT;
    mock_gen_text(&t, 5);
    assert_buf_eq(&t, "The quick brown fox jumps");
    buf_reset(&t);
    mock_gen_text(&t, 100); /* wraps around the list */
    for (uint32_t i = 0; i < 100; i++)
        mock_gen_piece(&p, i);
    assert_int_equal(t.len, p.len);
    assert_memory_equal(t.data, p.data, t.len);
    buf_reset(&t);
    mock_gen_text(&t, 0);
    assert_int_equal(t.len, 0);
    buf_free(&t);
    buf_free(&p);
}

static void test_tokens(void **state)
{
    (void)state;
    assert_int_equal(mock_gen_tokens(0), 0);
    assert_int_equal(mock_gen_tokens(1), 1);
    assert_int_equal(mock_gen_tokens(7), 1);
    assert_int_equal(mock_gen_tokens(8), 2);
}

static void test_tool_pieces_join(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < mock_gen_tool_arg_npieces; i++)
        buf_puts(&b, mock_gen_tool_arg_pieces[i]);
    assert_buf_eq(&b, MOCK_TOOL_ARGS);
    buf_free(&b);
}

static void test_base64(void **state)
{
    (void)state;
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        struct buf b = BUF_INIT;
        mock_gen_base64(&b, in[i], strlen(in[i]));
        assert_buf_eq(&b, out[i]);
        buf_free(&b);
    }
}

static void test_vector_unit_and_deterministic(void **state)
{
    (void)state;
    float a[16], b[16], c[16];
    mock_gen_vector(a, 16, mock_gen_fnv1a("alpha", 5));
    mock_gen_vector(b, 16, mock_gen_fnv1a("alpha", 5));
    mock_gen_vector(c, 16, mock_gen_fnv1a("beta", 4));
    double n = 0;
    for (int i = 0; i < 16; i++)
        n += (double)a[i] * a[i];
    assert_true(fabs(n - 1.0) < 1e-5);
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, c, sizeof(a));
    assert_true(mock_gen_fnv1a("", 0) == 0xcbf29ce484222325ull);
}

static void test_json_put_str_escapes(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    mock_json_put_str(&b, "a\"b\\c\n\x01 é", 10);
    assert_buf_eq(&b, "\"a\\\"b\\\\c\\n\\u0001 é\"");
    buf_reset(&b);
    mock_json_put_u64(&b, 0);
    buf_putc(&b, ' ');
    mock_json_put_u64(&b, 18446744073709551615ull);
    assert_buf_eq(&b, "0 18446744073709551615");
    buf_free(&b);
}

static void test_segments(void **state)
{
    (void)state;
    struct mock_reply r;
    mock_reply_init(&r);
    mock_reply_reset(&r, 10);
    buf_puts(&r.data, "head");
    mock_reply_pause(&r, 0); /* merges */
    buf_puts(&r.data, "more");
    mock_reply_pause(&r, 5);
    mock_reply_pause(&r, 7); /* the new segment is still empty: it waits longer */
    buf_puts(&r.data, "tail");
    assert_int_equal(r.nseg, 2);
    assert_int_equal(r.segs[0].delay_ms, 10);
    assert_int_equal(r.segs[1].start, 8);
    assert_int_equal(r.segs[1].delay_ms, 12);
    mock_reply_add_delay(&r, MOCK_MAX_DELAY_MS);
    assert_int_equal(r.segs[1].delay_ms, MOCK_MAX_DELAY_MS);
    mock_reply_free(&r);
}

static void test_chunks(void **state)
{
    (void)state;
    struct mock_reply r;
    mock_reply_init(&r);
    mock_reply_reset(&r, 0);
    mock_reply_chunk(&r, "hello", 5);
    mock_reply_chunk(&r, "abcdefghijklmnopqrstuvwxyz", 26);
    mock_reply_chunk_end(&r);
    assert_buf_eq(&r.data, "5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n");
    mock_reply_free(&r);
}

/* A request view with the default parameters and scratch buffers. */
struct fixture {
    struct mock_req q;
    struct buf tmp, ev;
    struct mock_reply r;
};

static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->q.keep_alive = 1;
    f->q.p.words = 12;
    f->q.p.cut_after = -1;
    f->q.tmp = &f->tmp;
    f->q.ev = &f->ev;
    mock_reply_init(&f->r);
    mock_reply_reset(&f->r, 0);
}

static void fixture_free(struct fixture *f)
{
    buf_free(&f->tmp);
    buf_free(&f->ev);
    mock_reply_free(&f->r);
}

static void test_head_connection_headers(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    f.q.request_id = STR_LIT("rid-1");
    mock_reply_full(&f.r, &f.q, 200, "application/json", "{}", 2, NULL);
    assert_buf_eq(&f.r.data,
                  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                  "x-request-id: rid-1\r\n\r\n{}");
    mock_reply_reset(&f.r, 0);
    f.q.keep_alive = 0;
    mock_reply_head(&f.r, &f.q, 200, "text/event-stream", -1, NULL);
    assert_contains(f.r.data.data, "Transfer-Encoding: chunked");
    assert_contains(f.r.data.data, "Connection: close\r\n");
    mock_reply_reset(&f.r, 0);
    f.q.keep_alive = 1;
    f.q.http10 = 1;
    mock_reply_head(&f.r, &f.q, 200, "application/json", 0, NULL);
    assert_contains(f.r.data.data, "Connection: keep-alive\r\n");
    fixture_free(&f);
}

static void test_errors(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    mock_reply_error_openai(&f.r, &f.q, 429, "slow down", NULL);
    assert_contains(f.r.data.data, "HTTP/1.1 429 Too Many Requests\r\n");
    assert_contains(f.r.data.data, "retry-after: 1\r\n");
    assert_contains(f.r.data.data,
                    "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\","
                    "\"param\":null,\"code\":null}}");
    mock_reply_reset(&f.r, 0);
    f.q.p.retry_after = 9;
    mock_reply_error_anthropic(&f.r, &f.q, 529, "busy");
    assert_contains(f.r.data.data, "retry-after: 9\r\n");
    assert_contains(
        f.r.data.data,
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}");
    mock_reply_reset(&f.r, 0);
    f.q.p.retry_after = 0;
    mock_reply_error_openai(&f.r, &f.q, 400, "bad", "messages");
    assert_contains(f.r.data.data, "\"type\":\"invalid_request_error\",\"param\":\"messages\"");
    assert_true(strstr(f.r.data.data, "retry-after") == NULL);
    fixture_free(&f);
}

static void test_sse_cut_after(void **state)
{
    (void)state;
    struct fixture f;
    struct mock_sse s;
    fixture_init(&f);
    f.q.p.cut_after = 2;
    f.q.p.ttft_ms = 100;
    f.q.p.chunk_delay_ms = 10;
    struct buf ev = BUF_INIT;
    buf_puts(&ev, "data: {}\n\n");
    mock_sse_start(&s, &f.r, &f.q, 5, "data: {bad\n\n");
    assert_int_equal(mock_sse_next(&s), 1);
    mock_sse_event(&s, &ev);
    assert_int_equal(mock_sse_next(&s), 1);
    mock_sse_event(&s, &ev);
    assert_int_equal(mock_sse_next(&s), 0);
    buf_free(&ev);
    assert_int_equal(f.r.end, REPLY_CLOSE);
    assert_int_equal(f.r.stream, 1);
    assert_int_equal(f.r.stream_complete, 0);
    /* The head at once, ttft before the first content event, the chunk delay before the next. */
    assert_int_equal(f.r.nseg, 3);
    assert_int_equal(f.r.segs[0].delay_ms, 0);
    assert_int_equal(f.r.segs[1].delay_ms, 100);
    assert_int_equal(f.r.segs[2].delay_ms, 10);
    fixture_free(&f);

    /* A cut beyond the content closes before the closing events. */
    fixture_init(&f);
    f.q.p.cut_after = 50;
    mock_sse_start(&s, &f.r, &f.q, 1, "data: {bad\n\n");
    assert_int_equal(mock_sse_next(&s), 1);
    assert_int_equal(mock_sse_end(&s), 0);
    assert_int_equal(f.r.end, REPLY_CLOSE);
    fixture_free(&f);
}

static void test_sse_malformed_in_the_middle(void **state)
{
    (void)state;
    struct fixture f;
    struct mock_sse s;
    struct buf ev = BUF_INIT;
    fixture_init(&f);
    f.q.p.malformed = 1;
    mock_sse_start(&s, &f.r, &f.q, 4, "data: {bad\n\n");
    buf_puts(&ev, "data: {}\n\n");
    for (int i = 0; i < 4; i++) {
        assert_int_equal(mock_sse_next(&s), 1);
        mock_sse_event(&s, &ev);
    }
    assert_int_equal(mock_sse_end(&s), 1);
    mock_sse_done(&s);
    const char *body = strstr(f.r.data.data, "\r\n\r\n") + 4;
    assert_string_equal(body, "a\r\ndata: {}\n\n\r\na\r\ndata: {}\n\n\r\nc\r\ndata: {bad\n\n\r\n"
                              "a\r\ndata: {}\n\n\r\na\r\ndata: {}\n\n\r\n0\r\n\r\n");
    assert_int_equal(f.r.stream_complete, 1);
    buf_free(&ev);
    fixture_free(&f);
}

static void test_json_result_faults(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    f.q.p.malformed = 1;
    mock_reply_json_result(&f.r, &f.q, "{\"a\":1234}", 10);
    assert_contains(f.r.data.data, "Content-Length: 5\r\n\r\n{\"a\":");
    fixture_free(&f);

    fixture_init(&f);
    f.q.p.cut_after = 0;
    f.q.p.ttft_ms = 30;
    mock_reply_json_result(&f.r, &f.q, "{\"a\":1234}", 10);
    assert_contains(f.r.data.data, "Content-Length: 10\r\n\r\n{\"a\":");
    assert_true(strstr(f.r.data.data, "1234") == NULL);
    assert_int_equal(f.r.end, REPLY_CLOSE);
    assert_int_equal(f.r.segs[0].delay_ms, 30);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_word_lengths_match),
        cmocka_unit_test(test_text_and_pieces),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_tool_pieces_join),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_vector_unit_and_deterministic),
        cmocka_unit_test(test_json_put_str_escapes),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_head_connection_headers),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_sse_cut_after),
        cmocka_unit_test(test_sse_malformed_in_the_middle),
        cmocka_unit_test(test_json_result_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
