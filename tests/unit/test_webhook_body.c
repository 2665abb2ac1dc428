/* Unit tests for the body readers of the webhook schemes: the strict JSON
 * reader (shared/webhook/json.c) and the form fields of urlencoded and
 * multipart bodies (shared/webhook/form.c). */
/* clang-format off: cmocka.h needs these first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <string.h>

#include "webhook/webhook_int.h"

static int check(const char *s)
{
    return ps_json_check(s, strlen(s), NULL);
}

static void test_json_valid(void **state)
{
    static const char *const ok[] = {
        "{}",
        " {\"a\": 1} ",
        "{\"a\":[1,-2.5e+3,0,0.1,true,false,null,\"x\",{},[]]}",
        "{\"\\u00e9\\ud83d\\ude00\\n\\\"\": \"caf\xc3\xa9 \xf0\x9f\x98\x80\"}",
        "{\"a\":{\"b\":{\"c\":{}}}}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(check(ok[i]), 0);
}

static void test_json_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "\"x\"",
        "{",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":-}",
        "{\"a\":tru}",
        "{\"a\":\"\x01\"}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\ud83d\"}",
        "{\"a\":\"\\ude00\"}",
        "{\"a\":\"\xc3\"}",
        "{\"a\":\"\xc0\xaf\"}",
        "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{} x",
        "{a:1}",
        "{\"a\" 1}",
    };
    char deep[200];
    size_t n = 0;
    ps_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(check(bad[i]), -1);
    n += (size_t)snprintf(deep, sizeof(deep), "{\"a\":");
    for (int i = 0; i < PS_JSON_MAX_DEPTH + 1; i++)
        deep[n++] = '[';
    for (int i = 0; i < PS_JSON_MAX_DEPTH + 1; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    assert_int_equal(ps_json_check(deep, n, &err), -1);
    assert_non_null(strstr(err.msg, "nested too deep"));
}

static void test_json_members(void **state)
{
    static const char doc[] =
        "{\"Type\": \"Notification\", \"Mess\\u0061ge\": \"a\\nb\\u00e9\","
        " \"n\": 12, \"o\": {\"k\": \"v\"}, \"dup\": 1, \"dup\": 2,"
        " \"arr\": [\"Type\", {\"Type\": 1}]}";
    ps_json_val root = ps_json_root(doc, sizeof(doc) - 1), v, w;
    char out[64];
    size_t len;

    (void)state;
    assert_int_equal(ps_json_check(doc, sizeof(doc) - 1, NULL), 0);
    assert_int_equal(ps_json_member(&root, "Type", &v), 1);
    assert_int_equal(ps_json_string(&v, out, sizeof(out), &len), 0);
    assert_int_equal(len, 12);
    assert_memory_equal(out, "Notification", 12);
    assert_int_equal(ps_json_member(&root, "Message", &v), 1);
    assert_int_equal(ps_json_string(&v, out, sizeof(out), &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "a\nb\xc3\xa9", 5);
    assert_int_equal(ps_json_string(&v, out, 3, &len), -1);
    assert_int_equal(ps_json_member(&root, "n", &v), 1);
    assert_int_equal(v.type, PS_JSON_NUMBER);
    assert_int_equal(ps_json_string(&v, out, sizeof(out), &len), -1);
    assert_int_equal(ps_json_member(&root, "o", &v), 1);
    assert_int_equal(ps_json_member(&v, "k", &w), 1);
    assert_int_equal(ps_json_member(&root, "k", &w), 0);
    assert_int_equal(ps_json_member(&root, "dup", &v), -1);
    assert_int_equal(ps_json_member(&root, "missing", &v), 0);
    assert_int_equal(ps_json_member(&w, "k", &v), 0); /* not an object */
}

static int urlenc(const char *body, const char *name, char *out, size_t *len)
{
    return ps_form_urlencoded(body, strlen(body), name, out, 64, len);
}

static void test_urlencoded(void **state)
{
    char out[64];
    size_t len;

    (void)state;
    assert_int_equal(urlenc("a=1&token=x%2By+z&b=", "token", out, &len), 1);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "x+y z", 5);
    assert_int_equal(urlenc("a=1&b=", "b", out, &len), 1);
    assert_int_equal(len, 0);
    assert_int_equal(urlenc("tok%65n=7", "token", out, &len), 1);
    assert_int_equal(urlenc("a=1", "token", out, &len), 0);
    assert_int_equal(urlenc("token=1&token=2", "token", out, &len), -1);
    assert_int_equal(urlenc("token=%zz", "token", out, &len), -1);
    assert_int_equal(urlenc("token=%4", "token", out, &len), -1);
    assert_int_equal(urlenc("", "token", out, &len), 0);
}

static int multi(const char *body, const char *ct, const char *name, char *out,
                 size_t *len)
{
    return ps_form_multipart(body, strlen(body), ct, strlen(ct), name, out, 64,
                             len);
}

static void test_multipart(void **state)
{
    static const char body[] =
        "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n"
        "\r\nA\r\n--XyZ\r\ncontent-disposition: form-data; name=\"file\"; "
        "filename=\"name=token\"\r\nContent-Type: text/plain\r\n\r\nline1\r\n"
        "line2\r\n--XyZ\r\nContent-Disposition: form-data; name=\"token\"\r\n"
        "\r\nT0k\r\n--XyZ--\r\n";
    static const char twice[] =
        "--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n1\r\n"
        "--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n2\r\n"
        "--b--";
    char out[64];
    size_t len;

    (void)state;
    assert_int_equal(
        multi(body, "multipart/form-data; boundary=XyZ", "token", out, &len),
        1);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "T0k", 3);
    assert_int_equal(
        multi(body, "multipart/form-data; boundary=\"XyZ\"", "file", out, &len),
        1);
    assert_int_equal(len, 12);
    assert_int_equal(
        multi(body, "multipart/form-data; boundary=XyZ", "missing", out, &len),
        0);
    assert_int_equal(multi(body, "multipart/form-data", "token", out, &len),
                     -1);
    assert_int_equal(
        multi(body, "multipart/form-data; boundary=Q", "token", out, &len), -1);
    assert_int_equal(
        multi(twice, "multipart/form-data; boundary=b", "token", out, &len),
        -1);
    assert_int_equal(multi("--b\r\nX: y\r\n\r\nunterminated",
                           "multipart/form-data; boundary=b", "token", out,
                           &len),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_valid),
        cmocka_unit_test(test_json_invalid),
        cmocka_unit_test(test_json_members),
        cmocka_unit_test(test_urlencoded),
        cmocka_unit_test(test_multipart),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
