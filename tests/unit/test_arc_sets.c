/* Unit tests for shared/arc/sets.c: ARC fields grouped by instance, and
 * each structural error of RFC 8617 5.1.1 / 5.2 (duplicate, gap, missing
 * member, i= out of range or unreadable) named by its own status. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/arc.h"

#define AS(i)                                                                  \
    {                                                                          \
        "ARC-Seal", "i=" i "; a=rsa-sha256; cv=none; d=x; s=s; b=AA"           \
    }
#define AMS(i)                                                                 \
    {                                                                          \
        "ARC-Message-Signature",                                               \
            "i=" i "; a=rsa-sha256; d=x; s=s; h=from; bh=AA; b=AA"             \
    }
#define AAR(i)                                                                 \
    {                                                                          \
        "ARC-Authentication-Results", " i=" i "; mx.example; spf=pass"         \
    }

typedef struct pair {
    const char *name, *value;
} pair;

static ps_arc_sets_status run(const pair *p, size_t n, ps_arc_sets *s,
                              ps_err *err)
{
    ps_arc_header h[16];

    for (size_t k = 0; k < n; k++)
        h[k] = (ps_arc_header){p[k].name, strlen(p[k].name), p[k].value,
                               strlen(p[k].value)};
    return ps_arc_sets_parse(h, n, s, err);
}

#define RUN(arr, s, err) run(arr, sizeof(arr) / sizeof(arr[0]), s, err)

static void test_two_sets(void **state)
{
    pair p[] = {AS("2"), AMS("2"), AAR("2"), {"Received", " x"},
                AS("1"), AMS("1"), AAR("1"), {"From", " a@b"}};
    ps_arc_sets *s = ps_arc_sets_new();
    ps_err err = {""};

    (void)state;
    assert_int_equal(RUN(p, s, &err), PS_ARC_SETS_OK);
    assert_int_equal(s->count, 2);
    assert_int_equal(s->set[1].part[PS_ARC_AS].pos, 0);
    assert_int_equal(s->set[0].part[PS_ARC_AAR].pos, 6);
    assert_non_null(ps_tagval_find(&s->set[0].part[PS_ARC_AMS].tags, "bh"));
    assert_int_equal(s->set[0].part[PS_ARC_AAR].tags.count, 0);
    assert_memory_equal(s->set[0].part[PS_ARC_AS].value, "i=1;", 4);
    ps_arc_sets_free(s);
}

static void test_none_and_case(void **state)
{
    pair none[] = {{"From", " a@b"}};
    pair lower[] = {{"arc-seal ", "i=1; cv=none; b=A"},
                    {"arc-message-signature", "i=1; b=A"},
                    {"ARC-AUTHENTICATION-RESULTS", "i=1;x"}};
    ps_arc_sets *s = ps_arc_sets_new();
    ps_err err = {""};

    (void)state;
    assert_int_equal(RUN(none, s, &err), PS_ARC_SETS_NONE);
    assert_int_equal(s->count, 0);
    assert_int_equal(RUN(lower, s, &err), PS_ARC_SETS_OK);
    assert_int_equal(s->count, 1);
    ps_arc_sets_free(s);
}

static void expect(const pair *p, size_t n, ps_arc_sets_status want,
                   const char *frag)
{
    ps_arc_sets *s = ps_arc_sets_new();
    ps_err err = {""};

    assert_int_equal(run(p, n, s, &err), want);
    assert_int_equal(s->status, want);
    if (strstr(err.msg, frag) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, frag);
    ps_arc_sets_free(s);
}

#define EXPECT(arr, want, frag)                                                \
    expect(arr, sizeof(arr) / sizeof(arr[0]), want, frag)

static void test_structural_errors(void **state)
{
    pair dup[] = {AS("1"), AMS("1"), AMS("1"), AAR("1")};
    pair gap[] = {AS("2"), AMS("2"), AAR("2")};
    pair missing[] = {AS("1"), AAR("1")};
    pair range[] = {AS("51"), AMS("51"), AAR("51")};
    pair zero[] = {AS("0"), AMS("0"), AAR("0")};
    pair huge[] = {AS("99999999999999999999")};
    pair lead0[] = {AS("01"), AMS("01"), AAR("01")};
    pair noi[] = {{"ARC-Seal", "cv=none; b=A"}};
    pair badi[] = {{"ARC-Seal", "i=a; b=A"}};
    pair badtags[] = {{"ARC-Message-Signature", "i=1; b=A;; d=x"}};
    pair aar_bad[] = {{"ARC-Authentication-Results", " mx; i=1"}};

    (void)state;
    EXPECT(dup, PS_ARC_SETS_DUPLICATE, "second one with i=1");
    EXPECT(gap, PS_ARC_SETS_GAP, "no set with i=1");
    EXPECT(missing, PS_ARC_SETS_MISSING, "has no ARC-Message-Signature");
    EXPECT(range, PS_ARC_SETS_RANGE, "out-of-range");
    EXPECT(zero, PS_ARC_SETS_RANGE, "out-of-range");
    EXPECT(huge, PS_ARC_SETS_RANGE, "out-of-range");
    EXPECT(lead0, PS_ARC_SETS_SYNTAX, "bad i=");
    EXPECT(noi, PS_ARC_SETS_SYNTAX, "ARC-Seal (field 1)");
    EXPECT(badi, PS_ARC_SETS_SYNTAX, "bad i=");
    EXPECT(badtags, PS_ARC_SETS_SYNTAX, "bad tag list");
    EXPECT(aar_bad, PS_ARC_SETS_SYNTAX, "ARC-Authentication-Results");
}

static void test_fifty_sets(void **state)
{
    static char vals[50][3][64];
    ps_arc_header h[150];
    ps_arc_sets *s = ps_arc_sets_new();
    ps_err err = {""};
    const char *names[3] = {"ARC-Seal", "ARC-Message-Signature",
                            "ARC-Authentication-Results"};

    (void)state;
    for (int i = 0; i < 50; i++) {
        snprintf(vals[i][0], 64, "i=%d; cv=pass; b=A", 50 - i);
        snprintf(vals[i][1], 64, "i=%d; b=A", 50 - i);
        snprintf(vals[i][2], 64, "i=%d; mx", 50 - i);
        for (int k = 0; k < 3; k++)
            h[i * 3 + k] = (ps_arc_header){names[k], strlen(names[k]),
                                           vals[i][k], strlen(vals[i][k])};
    }
    assert_int_equal(ps_arc_sets_parse(h, 150, s, &err), PS_ARC_SETS_OK);
    assert_int_equal(s->count, 50);
    assert_string_equal(ps_arc_sets_status_name(s->status), "ok");
    ps_arc_sets_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_sets),
        cmocka_unit_test(test_none_and_case),
        cmocka_unit_test(test_structural_errors),
        cmocka_unit_test(test_fifty_sets),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
