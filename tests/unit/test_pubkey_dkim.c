/* Unit tests for ps_pubkey_dkim_spki (shared/crypto/pubkey.c): a DKIM key
 * record whose p= is a PKCS#1 RSAPublicKey is rewritten to the same key as
 * a SubjectPublicKeyInfo, other tags kept; anything else is left alone. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "crypto/pubkey.h"

/* One RSA-1024 key made for this test, in both encodings. */
#define PKCS1                                                                  \
    "MIGJAoGBAMIBE9sLYjcAVxKCwmf9QgL1QBurNSNF2CGkgjL1JaOL3J8V2XCUD3UtwORbuvzH" \
    "K1f2Ipo+"                                                                 \
    "YKCHiL91dcCWQcDFmGwajJpoQOIn81UbQxIGsAV6q8ZO8ugFfD6O9BUqY1l4CrZl9l0fFDPy" \
    "nrHXsm4Zc+tldE/NKPRCgKa6fy4jAgMBAAE="
#define SPKI                                                                   \
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCARPbC2I3AFcSgsJn/"                \
    "UIC9UAbqzUjRdghpIIy9SWji9yfFdlwlA91LcDkW7r8xytX9iKaPmCgh4i/"              \
    "dXXAlkHAxZhsGoyaaEDiJ/"                                                   \
    "NVG0MSBrAFeqvGTvLoBXw+"                                                   \
    "jvQVKmNZeAq2ZfZdHxQz8p6x17JuGXPrZXRPzSj0QoCmun8uIwIDAQAB"

static void test_pkcs1_rewritten(void **state)
{
    char out[1024];
    const char *rec = "v=DKIM1; k=rsa; p=" PKCS1 "; n=note";

    (void)state;
    assert_int_equal(ps_pubkey_dkim_spki(rec, strlen(rec), out, sizeof out), 1);
    assert_string_equal(out, "v=DKIM1; k=rsa; p=" SPKI "; n=note");
    assert_int_equal(ps_pubkey_dkim_spki(rec, strlen(rec), out, 100), -1);
}

static void test_others_left_alone(void **state)
{
    char out[1024];
    const char *keep[] = {"v=DKIM1; k=rsa; p=" SPKI,
                          "v=DKIM1; p=", "v=DKIM1; k=rsa",
                          "v=DKIM1; p=!!notbase64", "v=DKIM1; np=" PKCS1};

    (void)state;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        assert_int_equal(
            ps_pubkey_dkim_spki(keep[i], strlen(keep[i]), out, sizeof out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pkcs1_rewritten),
        cmocka_unit_test(test_others_left_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
