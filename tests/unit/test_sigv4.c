/* Tests for AWS Signature Version 4 signing (src/providers/sigv4.c).
 *
 * With no arguments this runs the cmocka tests. With "--sign" it signs one request read from stdin
 * and prints the headers sigv4_sign() produces, so tests/e2e/sigv4.test.mjs can compare them with
 * the official @smithy/signature-v4. The stdin protocol is one "key=value" per line:
 *   access_key, secret_key, session_token, method, host, path, query, region, service, amz_date,
 *   content_sha256 (1 to set), body (the rest of the line), header (as "Name: value", repeatable).
 * On a bad request it prints the error to stderr and exits 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"
#include "providers/sigv4.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct sigv4_creds example_creds = {
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};

static const struct sigv4_header iam_headers[] = {
    {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};

/* The worked example of the AWS General Reference ("Create a canonical request" ... "Calculate the
 * signature"): GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08. */
static struct sigv4_request iam_request(void)
{
    struct sigv4_request r = {0};
    r.method = "GET";
    r.host = "iam.amazonaws.com";
    r.path = "/";
    r.query = "Action=ListUsers&Version=2010-05-08";
    r.headers = iam_headers;
    r.n_headers = 1;
    r.region = "us-east-1";
    r.service = "iam";
    r.amz_date = "20150830T123600Z";
    return r;
}

/* Returns the canonical request of r signed with c (caller frees); asserts success. */
static char *canonical(const struct sigv4_creds *c, const struct sigv4_request *r)
{
    struct buf b = BUF_INIT;
    assert_int_equal(sigv4_canonical_request(c, r, &b), 0);
    return buf_detach(&b);
}

/* Returns line number line (0-based; 1 is the URI, 2 the query) of r's canonical request (caller
 * frees). */
static char *canonical_line(const struct sigv4_request *r, int line)
{
    char *all = canonical(&example_creds, r);
    char *p = all;
    for (int i = 0; i < line; i++)
        p = strchr(p, '\n') + 1;
    char *end = strchr(p, '\n');
    char *res = xstrndup(p, (size_t)(end - p));
    free(all);
    return res;
}

static void test_aws_iam_example(void **state)
{
    (void)state;
    struct sigv4_request r = iam_request();

    char *creq = canonical(&example_creds, &r);
    assert_string_equal(creq, "GET\n"
                              "/\n"
                              "Action=ListUsers&Version=2010-05-08\n"
                              "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
                              "host:iam.amazonaws.com\n"
                              "x-amz-date:20150830T123600Z\n"
                              "\n"
                              "content-type;host;x-amz-date\n" EMPTY_SHA256);
    char hash[65];
    sigv4_sha256_hex(creq, strlen(creq), hash);
    assert_string_equal(hash, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    free(creq);

    struct buf sts = BUF_INIT;
    assert_int_equal(sigv4_string_to_sign(&example_creds, &r, &sts), 0);
    assert_string_equal(sts.data,
                        "AWS4-HMAC-SHA256\n"
                        "20150830T123600Z\n"
                        "20150830/us-east-1/iam/aws4_request\n"
                        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    buf_free(&sts);

    char sig[65];
    assert_int_equal(sigv4_signature(&example_creds, &r, sig), 0);
    assert_string_equal(sig, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");

    struct buf out = BUF_INIT;
    assert_int_equal(sigv4_sign(&example_creds, &r, &out), 0);
    assert_string_equal(out.data,
                        "X-Amz-Date: 20150830T123600Z\n"
                        "Authorization: AWS4-HMAC-SHA256 "
                        "Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
                        "SignedHeaders=content-type;host;x-amz-date, "
                        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7\n");
    buf_free(&out);
}

/* get-vanilla-query-order-key-case from the AWS SigV4 test suite: parameters arrive unsorted. */
static void test_aws_suite_query_order(void **state)
{
    (void)state;
    struct sigv4_request r = {0};
    r.method = "GET";
    r.host = "example.amazonaws.com";
    r.path = "/";
    r.query = "Param2=value2&Param1=value1";
    r.region = "us-east-1";
    r.service = "service";
    r.amz_date = "20150830T123600Z";
    char sig[65];
    assert_int_equal(sigv4_signature(&example_creds, &r, sig), 0);
    assert_string_equal(sig, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    char *q = canonical_line(&r, 2);
    assert_string_equal(q, "Param1=value1&Param2=value2");
    free(q);
}

static void test_empty_body_hash(void **state)
{
    (void)state;
    char hex[65];
    sigv4_sha256_hex(NULL, 0, hex);
    assert_string_equal(hex, EMPTY_SHA256);
    sigv4_sha256_hex("", 0, hex);
    assert_string_equal(hex, EMPTY_SHA256);
    sigv4_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* Asserts that line number line of the canonical request for path and query is want. */
static void expect_line(const char *path, const char *query, int line, const char *want)
{
    struct sigv4_request r = iam_request();
    r.path = path;
    r.query = query;
    char *got = canonical_line(&r, line);
    assert_string_equal(got, want);
    free(got);
}

static void test_query_sort_and_encode(void **state)
{
    (void)state;
    expect_line("/", NULL, 2, "");
    expect_line("/", "", 2, "");
    expect_line("/", "b=2&a=z&a=y", 2, "a=y&a=z&b=2");
    /* sorted by name first: "a" < "a-b" although '-' < '=' */
    expect_line("/", "a-b=1&a=2", 2, "a=2&a-b=1");
    /* decoded, then encoded per RFC 3986: '~' stays, '+' is literal, space is %20 */
    expect_line("/", "c=%7e+x&e=a%20b%2fc&d", 2, "c=~%2Bx&d=&e=a%20b%2Fc");
    expect_line("/", "k=v=w&&x=", 2, "k=v%3Dw&x=");
    expect_line("/", "%41%e2%82%ac=%C3%A9", 2, "A%E2%82%AC=%C3%A9");

    struct sigv4_request r = iam_request();
    struct buf b = BUF_INIT;
    r.query = "a=%zz";
    assert_int_equal(sigv4_canonical_request(&example_creds, &r, &b), ERR_INVAL);
    r.query = "a=%4";
    assert_int_equal(sigv4_canonical_request(&example_creds, &r, &b), ERR_INVAL);
    buf_free(&b);
}

static void test_path_encoding(void **state)
{
    (void)state;
    expect_line("/", NULL, 1, "/");
    expect_line("//", NULL, 1, "/");
    expect_line("/a/./b/../c//d/", NULL, 1, "/a/c/d/");
    expect_line("/../..", NULL, 1, "/");
    expect_line("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", NULL, 1,
                "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse");
    expect_line("/a b/c:d~e", NULL, 1, "/a%20b/c%3Ad~e");

    struct buf b = BUF_INIT;
    sigv4_uri_encode(&b, "anthropic.claude-v1:0/x y~", 26, 0);
    assert_string_equal(b.data, "anthropic.claude-v1%3A0%2Fx%20y~");
    buf_reset(&b);
    sigv4_uri_encode(&b, "/a:b/", 5, 1);
    assert_string_equal(b.data, "/a%3Ab/");
    buf_free(&b);
}

static void test_header_whitespace(void **state)
{
    (void)state;
    static const struct sigv4_header h[] = {
        {"My-Header1", "   a   b   c  "},
        {"X-Dup", "1"},
        {"content-type", "\tapplication/json\t"},
        {"x-dup", "  two\t\tparts  "},
        {"X-Empty", ""},
    };
    struct sigv4_request r = iam_request();
    r.query = NULL;
    r.headers = h;
    r.n_headers = sizeof h / sizeof h[0];
    char *creq = canonical(&example_creds, &r);
    assert_string_equal(creq, "GET\n/\n\n"
                              "content-type:application/json\n"
                              "host:iam.amazonaws.com\n"
                              "my-header1:a b c\n"
                              "x-amz-date:20150830T123600Z\n"
                              "x-dup:1,two parts\n"
                              "x-empty:\n"
                              "\n"
                              "content-type;host;my-header1;x-amz-date;x-dup;x-empty\n" EMPTY_SHA256);
    free(creq);
}

static void test_session_token(void **state)
{
    (void)state;
    struct sigv4_creds c = example_creds;
    c.session_token = "TOKEN/with+chars==";
    struct sigv4_request r = iam_request();
    struct buf out = BUF_INIT;
    assert_int_equal(sigv4_sign(&c, &r, &out), 0);
    assert_non_null(strstr(out.data, "\nX-Amz-Security-Token: TOKEN/with+chars==\n"));
    assert_non_null(strstr(out.data, "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "));
    char *creq = canonical(&c, &r);
    assert_non_null(strstr(creq, "\nx-amz-security-token:TOKEN/with+chars==\n"));
    free(creq);

    /* A token changes the signature; an empty one is no token. */
    char with[65], without[65], empty[65];
    assert_int_equal(sigv4_signature(&c, &r, with), 0);
    assert_int_equal(sigv4_signature(&example_creds, &r, without), 0);
    c.session_token = "";
    assert_int_equal(sigv4_signature(&c, &r, empty), 0);
    assert_string_not_equal(with, without);
    assert_string_equal(empty, without);
    buf_free(&out);
}

static const char bedrock_body[] = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hello\"}]}],"
                                   "\"inferenceConfig\":{\"maxTokens\":64}}";

/* The expected signature is what @smithy/signature-v4 5.7.5 (the AWS SDK's signer) gives for the
 * same request; tests/e2e/sigv4.test.mjs compares more requests with it live. */
static void test_post_json(void **state)
{
    (void)state;
    static const struct sigv4_header h[] = {{"Content-Type", "application/json"},
                                            {"Accept", "application/json"}};
    struct sigv4_request r = {0};
    r.method = "POST";
    r.host = "bedrock-runtime.us-east-1.amazonaws.com";
    r.path = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse";
    r.headers = h;
    r.n_headers = 2;
    r.body = bedrock_body;
    r.body_len = sizeof bedrock_body - 1;
    r.region = "us-east-1";
    r.service = "bedrock";
    r.amz_date = "20240701T101500Z";
    r.content_sha256 = 1;
    char *creq = canonical(&example_creds, &r);
    assert_string_equal(creq,
                        "POST\n"
                        "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse\n"
                        "\n"
                        "accept:application/json\n"
                        "content-type:application/json\n"
                        "host:bedrock-runtime.us-east-1.amazonaws.com\n"
                        "x-amz-content-sha256:f5b802cc64a01910fd197a46e9e959f3a5795f7728fa5710fb28f1ec3019f545\n"
                        "x-amz-date:20240701T101500Z\n"
                        "\n"
                        "accept;content-type;host;x-amz-content-sha256;x-amz-date\n"
                        "f5b802cc64a01910fd197a46e9e959f3a5795f7728fa5710fb28f1ec3019f545");
    free(creq);

    struct buf out = BUF_INIT;
    assert_int_equal(sigv4_sign(&example_creds, &r, &out), 0);
    assert_non_null(strstr(out.data, "X-Amz-Date: 20240701T101500Z\n"
                                     "X-Amz-Content-Sha256: "
                                     "f5b802cc64a01910fd197a46e9e959f3a5795f7728fa5710fb28f1ec3019f545\n"
                                     "Authorization: AWS4-HMAC-SHA256 "
                                     "Credential=AKIDEXAMPLE/20240701/us-east-1/bedrock/aws4_request, "
                                     "SignedHeaders=accept;content-type;host;x-amz-content-sha256;"
                                     "x-amz-date, Signature=63de7746e79ae95a50e3c2ca3d6a07c66dc78fb9"
                                     "aa7aa2644d1e17710d4482e8\n"));
    buf_free(&out);
}

static void expect_inval(const struct sigv4_creds *c, const struct sigv4_request *r)
{
    struct buf out = BUF_INIT;
    buf_puts(&out, "keep");
    assert_int_equal(sigv4_sign(c, r, &out), ERR_INVAL);
    assert_string_equal(out.data, "keep");
    buf_free(&out);
}

static void test_invalid(void **state)
{
    (void)state;
    struct sigv4_request base = iam_request(), r;
    struct sigv4_creds c;
    struct sigv4_header h[SIGV4_MAX_HEADERS + 1];

    expect_inval(NULL, &base);
    expect_inval(&example_creds, NULL);
    c = example_creds, c.secret_key = "";
    expect_inval(&c, &base);
    c = example_creds, c.access_key = NULL;
    expect_inval(&c, &base);
    c = example_creds, c.session_token = "tok\r\nX-Evil: 1";
    expect_inval(&c, &base);

    /* One malformed string field of the request at a time. */
    static const struct {
        size_t offset;
        const char *bad;
    } bad_fields[] = {
        {offsetof(struct sigv4_request, amz_date), "2015-08-30T12:36:00Z"},
        {offsetof(struct sigv4_request, amz_date), "20150830T123600"},
        {offsetof(struct sigv4_request, path), "model/x"},
        {offsetof(struct sigv4_request, path), NULL},
        {offsetof(struct sigv4_request, region), "us/east"},
        {offsetof(struct sigv4_request, service), ""},
        {offsetof(struct sigv4_request, host), "a.example\r\nX-Evil: 1"},
        {offsetof(struct sigv4_request, method), "GE T"},
        {offsetof(struct sigv4_request, query), "a=%g0"},
    };
    for (size_t i = 0; i < sizeof bad_fields / sizeof bad_fields[0]; i++) {
        r = base;
        memcpy((char *)&r + bad_fields[i].offset, &bad_fields[i].bad, sizeof(const char *));
        expect_inval(&example_creds, &r);
    }
    r = base, r.body = NULL, r.body_len = 3;
    expect_inval(&example_creds, &r);

    static const struct sigv4_header crlf = {"X-A", "v\r\nX-Evil: 1"};
    static const struct sigv4_header host = {"Host", "other.example"};
    static const struct sigv4_header date = {"X-Amz-Date", "20200101T000000Z"};
    static const struct sigv4_header badname = {"X A", "v"};
    const struct sigv4_header *bad[] = {&crlf, &host, &date, &badname};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = base, r.headers = bad[i], r.n_headers = 1;
        expect_inval(&example_creds, &r);
    }
    for (size_t i = 0; i < SIGV4_MAX_HEADERS + 1; i++)
        h[i] = (struct sigv4_header){"X-A", "v"};
    r = base, r.headers = h, r.n_headers = SIGV4_MAX_HEADERS + 1;
    expect_inval(&example_creds, &r);
    r.n_headers = SIGV4_MAX_HEADERS;
    struct buf out = BUF_INIT;
    assert_int_equal(sigv4_sign(&example_creds, &r, &out), 0);
    buf_free(&out);
}

/* --sign mode: see the comment at the top of this file. */
static int sign_main(void)
{
    struct sigv4_creds c = {0};
    struct sigv4_request r = {0};
    struct sigv4_header h[SIGV4_MAX_HEADERS + 1];
    char *names[SIGV4_MAX_HEADERS + 1] = {0};
    char *lines[64] = {0};
    size_t nlines = 0, cap = 0;
    char *line = NULL;
    ssize_t got;
    int rc = 2;
    const struct {
        const char *key;
        const char **slot;
    } fields[] = {
        {"access_key", &c.access_key}, {"secret_key", &c.secret_key},
        {"session_token", &c.session_token}, {"method", &r.method},
        {"host", &r.host}, {"path", &r.path},
        {"query", &r.query}, {"region", &r.region},
        {"service", &r.service}, {"amz_date", &r.amz_date},
    };

    while (nlines < sizeof lines / sizeof lines[0] && (got = getline(&line, &cap, stdin)) >= 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *key = line, *val = eq + 1;
        lines[nlines++] = line; /* keeps key and val alive */
        line = NULL;
        cap = 0;
        const char **slot = NULL;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            if (strcmp(key, fields[i].key) == 0)
                slot = fields[i].slot;
        char *colon = strchr(val, ':');
        if (slot) {
            *slot = val;
        } else if (strcmp(key, "content_sha256") == 0) {
            r.content_sha256 = strcmp(val, "1") == 0;
        } else if (strcmp(key, "body") == 0) {
            r.body = val;
            r.body_len = strlen(val);
        } else if (strcmp(key, "header") == 0 && colon && r.n_headers < SIGV4_MAX_HEADERS + 1) {
            /* one more than allowed, so the signer's own limit is what refuses it */
            names[r.n_headers] = xstrndup(val, (size_t)(colon - val));
            h[r.n_headers] = (struct sigv4_header){names[r.n_headers], colon + 1};
            r.n_headers++;
        }
    }
    r.headers = h;

    struct buf out = BUF_INIT;
    int err = sigv4_sign(&c, &r, &out);
    if (err) {
        fprintf(stderr, "sigv4_sign: %s\n", err_str(err));
    } else {
        fwrite(out.data, 1, out.len, stdout);
        rc = 0;
    }
    buf_free(&out);
    free(line);
    for (size_t i = 0; i < nlines; i++)
        free(lines[i]);
    for (size_t i = 0; i < r.n_headers; i++)
        free(names[i]);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--sign") == 0)
        return sign_main();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_iam_example),
        cmocka_unit_test(test_aws_suite_query_order),
        cmocka_unit_test(test_empty_body_hash),
        cmocka_unit_test(test_query_sort_and_encode),
        cmocka_unit_test(test_path_encoding),
        cmocka_unit_test(test_header_whitespace),
        cmocka_unit_test(test_session_token),
        cmocka_unit_test(test_post_json),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
