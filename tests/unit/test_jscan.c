/* jscan: validation agrees with RFC 8259 on the cases that matter, and member spans are exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "canon/jscan.h"

static int ok(const char *s)
{
    return jscan(s, strlen(s), NULL, 0, NULL, NULL) == 0;
}

static void test_valid(void **state)
{
    (void)state;
    const char *good[] = {
        "{}", "[]", "0", "-0", "1.5e-3", "-12E+4", "\"\"", "true", "false", "null", " \t\r\n{} \n",
        "{\"a\":[1,2,{\"b\":null}],\"c\":\"x\\\"y\\\\z\\u00e9\\n\"}", "[[[[[]]]]]",
        "\"\xc3\xa9\xf0\x9f\x98\x80\"", "{\"k\" : 1 , \"l\":2}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!ok(good[i]))
            print_error("refused valid JSON: %s\n", good[i]);
        assert_true(ok(good[i]));
    }
}

static void test_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", ".5", "1e", "-",
        "+1", "tru", "nul", "\"abc", "\"a\\x\"", "\"\\u12G4\"", "\"a\nb\"", "[1 2]", "{} {}",
        "NaN", "Infinity", "'a'", "{\"a\":1}x", "[\"\\u00\"]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ok(bad[i]))
            print_error("accepted invalid JSON: %s\n", bad[i]);
        assert_false(ok(bad[i]));
    }
}

static void test_error_offset(void **state)
{
    (void)state;
    size_t at = 0;
    const char *s = "{\"a\":[1,2,}";
    assert_int_equal(jscan(s, strlen(s), NULL, 0, NULL, &at), ERR_PARSE);
    assert_int_equal(at, 10);
}

static void test_depth(void **state)
{
    (void)state;
    char deep[2 * JSCAN_MAX_DEPTH + 10];
    size_t d = JSCAN_MAX_DEPTH;
    memset(deep, '[', d);
    memset(deep + d, ']', d);
    deep[2 * d] = '\0';
    assert_true(ok(deep));
    memset(deep, '[', d + 1);
    memset(deep + d + 1, ']', d + 1);
    deep[2 * d + 2] = '\0';
    assert_false(ok(deep));
}

static void test_members(void **state)
{
    (void)state;
    const char *s = "{\"id\":\"x\",\"choices\":[{\"delta\":{\"usage\":1}}], \"usage\" : {\"a\":2} }";
    struct jscan_member m[4];
    size_t n = 0;
    assert_int_equal(jscan(s, strlen(s), m, 4, &n, NULL), 0);
    assert_int_equal(n, 3);
    const struct jscan_member *u = jscan_find(m, n, "usage");
    assert_non_null(u);
    assert_memory_equal(u->value.p, "{\"a\":2}", u->value.len);
    assert_int_equal(u->value.len, 7);
    const struct jscan_member *c = jscan_find(m, n, "choices");
    assert_non_null(c);
    assert_int_equal(c->value.len, strlen("[{\"delta\":{\"usage\":1}}]"));
    assert_null(jscan_find(m, n, "delta")); /* nested keys are not top-level members */

    /* more members than room: the count is still exact */
    assert_int_equal(jscan(s, strlen(s), m, 1, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(m[0].key.p, "id", 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),   cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_error_offset), cmocka_unit_test(test_depth),
        cmocka_unit_test(test_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
