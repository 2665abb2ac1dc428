/* Unit tests for shared/dkim/canon.c and shared/dkim/body.c: the RFC 6376
 * 3.4.5 examples, the empty-body rules, and the body canonicaliser giving
 * the same bytes (and a line-by-line reference's bytes) for every
 * chunking of tricky bodies, in few long runs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/canon_int.h"
#include "base/encode.h"

/* ---- a sink that keeps what it is given --------------------------------- */

typedef struct cap {
    char *data;
    size_t len, cap, calls;
} cap;

static int cap_sink(void *arg, const uint8_t *p, size_t n)
{
    cap *c = arg;

    if (c->len + n + 1 > c->cap) {
        c->cap = 2 * (c->len + n + 1);
        c->data = realloc(c->data, c->cap);
        assert_non_null(c->data);
    }
    memcpy(c->data + c->len, p, n);
    c->len += n;
    c->data[c->len] = '\0';
    c->calls++;
    return 0;
}

/* Canonicalises data cut at the given offsets (ascending, within n). */
static cap canon_cut(ps_canon canon, const char *data, size_t n,
                     const size_t *cuts, size_t ncuts)
{
    ps_dkim_body b;
    cap c = {calloc(1, 1), 0, 1, 0};
    size_t from = 0;

    ps_dkim_body_init(&b, canon, cap_sink, &c);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        assert_int_equal(
            ps_dkim_body_update(&b, (const uint8_t *)data + from, to - from),
            0);
        from = to;
    }
    assert_int_equal(ps_dkim_body_final(&b), 0);
    return c;
}

static cap canon_whole(ps_canon canon, const char *data, size_t n)
{
    return canon_cut(canon, data, n, NULL, 0);
}

/* ---- an independent, line-by-line reading of RFC 6376 3.4.3/3.4.4 ------- */

static size_t ref_line(ps_canon canon, const char *s, size_t n, char *o)
{
    size_t k = 0;
    int wsp = 0;

    if (canon == PS_CANON_SIMPLE) {
        memcpy(o, s, n);
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' || s[i] == '\t') {
            wsp = 1;
            continue;
        }
        if (wsp)
            o[k++] = ' ';
        wsp = 0;
        o[k++] = s[i];
    }
    return k;
}

static char *ref_canon(ps_canon canon, const char *d, size_t n, size_t *len)
{
    char *o = malloc(2 * n + 3);
    size_t k = 0, keep = 0, start = 0;

    for (size_t i = 0; i <= n; i++) {
        size_t end;
        if (i < n && d[i] != '\n')
            continue;
        if (i == n && start == n)
            break; /* no unterminated last line */
        end = (i < n && i > start && d[i - 1] == '\r') ? i - 1 : i;
        size_t l = ref_line(canon, d + start, end - start, o + k);
        k += l;
        o[k++] = '\r';
        o[k++] = '\n';
        if (l > 0)
            keep = k; /* the body ends after the last non-empty line */
        start = i + 1;
    }
    k = keep;
    if (canon == PS_CANON_SIMPLE && k == 0) {
        o[k++] = '\r';
        o[k++] = '\n';
    }
    o[k] = '\0';
    *len = k;
    return o;
}

static void expect_ref(ps_canon canon, const char *d, size_t n, const cap *c)
{
    size_t rlen;
    char *ref = ref_canon(canon, d, n, &rlen);

    if (rlen != c->len || memcmp(ref, c->data, rlen) != 0)
        fail_msg("%s of \"%.*s\" (%zu bytes): got %zu bytes \"%s\", the "
                 "reference %zu bytes \"%s\"",
                 canon == PS_CANON_SIMPLE ? "simple" : "relaxed", (int)n, d, n,
                 c->len, c->data, rlen, ref);
    free(ref);
}

/* ---- RFC 6376 3.4.5 ------------------------------------------------------ */

static void header_is(ps_canon canon, const char *name, const char *value,
                      const char *want)
{
    ps_dkim_buf b = {.max = 4096};

    assert_int_equal(ps_dkim_canon_header(canon, name, strlen(name), value,
                                          strlen(value), &b),
                     0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    ps_dkim_buf_free(&b);
}

static void rfc_example_headers(void **state)
{
    (void)state;
    header_is(PS_CANON_RELAXED, "A", " X", "a:X\r\n");
    header_is(PS_CANON_RELAXED, "B ", " Y\t\r\n\tZ  ", "b:Y Z\r\n");
    header_is(PS_CANON_SIMPLE, "A", " X", "A: X\r\n");
    header_is(PS_CANON_SIMPLE, "B ", " Y\t\r\n\tZ  ", "B : Y\t\r\n\tZ  \r\n");
}

static const char rfc_body[] = " C \r\nD \t E\r\n\r\n\r\n";

static void rfc_example_body(void **state)
{
    cap r = canon_whole(PS_CANON_RELAXED, rfc_body, strlen(rfc_body));
    cap s = canon_whole(PS_CANON_SIMPLE, rfc_body, strlen(rfc_body));

    (void)state;
    assert_string_equal(r.data, " C\r\nD E\r\n");
    assert_string_equal(s.data, " C \r\nD \t E\r\n");
    free(r.data);
    free(s.data);
}

/* ---- header details -------------------------------------------------------
 */

static void header_folding_and_spacing(void **state)
{
    (void)state;
    /* bare LF folding is CRLF to simple, nothing to relaxed */
    header_is(PS_CANON_SIMPLE, "Subject", " a\n b", "Subject: a\r\n b\r\n");
    header_is(PS_CANON_RELAXED, "Subject", " a\n b", "subject:a b\r\n");
    header_is(PS_CANON_RELAXED, "SUBJECT\t ", "\t\t many   words \t",
              "subject:many words\r\n");
    header_is(PS_CANON_RELAXED, "X-Empty", "", "x-empty:\r\n");
    header_is(PS_CANON_RELAXED, "X-Blank", " \t \r\n ", "x-blank:\r\n");
    header_is(PS_CANON_SIMPLE, "X-Empty", "", "X-Empty:\r\n");
    /* 8-bit and UTF-8 bytes go through untouched */
    header_is(PS_CANON_RELAXED, "Subject", " caf\xc3\xa9  \xff",
              "subject:caf\xc3\xa9 \xff\r\n");
    /* a lone CR is not a line end */
    header_is(PS_CANON_RELAXED, "X", " a\rb", "x:a\rb\r\n");
}

static void header_buffer_bound(void **state)
{
    ps_dkim_buf b = {.max = 16};

    (void)state;
    assert_int_equal(
        ps_dkim_canon_header(PS_CANON_RELAXED, "To", 2, " x", 2, &b), 0);
    assert_int_equal(ps_dkim_canon_header(PS_CANON_RELAXED, "Subject", 7,
                                          " too long", 9, &b),
                     -1);
    assert_int_equal(b.len, strlen("to:x\r\n")); /* unchanged by the refusal */
    ps_dkim_buf_free(&b);
}

/* ---- body rules -----------------------------------------------------------
 */

static void body_is(ps_canon canon, const char *in, const char *want)
{
    cap c = canon_whole(canon, in, strlen(in));

    if (strcmp(c.data, want) != 0)
        fail_msg("\"%s\" -> \"%s\", want \"%s\"", in, c.data, want);
    free(c.data);
}

static void body_edge_cases(void **state)
{
    static const struct {
        ps_canon canon;
        const char *in, *want;
    } cases[] = {
        {PS_CANON_SIMPLE, "", "\r\n"},
        {PS_CANON_RELAXED, "", ""},
        {PS_CANON_SIMPLE, "\r\n\r\n", "\r\n"},
        {PS_CANON_RELAXED, "\r\n \r\n\t\r\n", ""},
        {PS_CANON_SIMPLE, " \r\n", " \r\n"},
        {PS_CANON_SIMPLE, "abc", "abc\r\n"},
        {PS_CANON_RELAXED, "abc \t", "abc\r\n"},
        {PS_CANON_SIMPLE, "a\nb\n\n", "a\r\nb\r\n"},
        {PS_CANON_RELAXED, "a  b \n\n \n", "a b\r\n"},
        {PS_CANON_RELAXED, "x\r", "x\r\r\n"},
        {PS_CANON_SIMPLE, "\r", "\r\r\n"},
        {PS_CANON_RELAXED, "a \r b\r\n", "a \r b\r\n"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        body_is(cases[i].canon, cases[i].in, cases[i].want);
}

/* The SHA-256 of the two empty bodies, as every DKIM signer publishes. */
static void empty_body_hashes(void **state)
{
    static const struct {
        ps_canon canon;
        const char *bh;
    } want[] = {
        {PS_CANON_SIMPLE, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY="},
        {PS_CANON_RELAXED, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}};
    uint8_t md[32];
    char b64[64];
    unsigned int mdlen;

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        cap c = canon_whole(want[i].canon, "", 0);
        EVP_Digest(c.data, c.len, md, &mdlen, EVP_sha256(), NULL);
        ps_b64_encode(md, mdlen, b64);
        assert_string_equal(b64, want[i].bh);
        free(c.data);
    }
}

/* ---- every chunking -------------------------------------------------------
 */

static const char *const tricky[] = {
    " C \r\nD \t E\r\n\r\n\r\n",
    "a \t b  \r\n\r\n  \r\n\t\r\nc\r\n\r\n\r\n",
    "x\r\r\n\r\n\ry\r",
    "a\nb \n\n\n",
    "line1\r\nline2\n\r\n \nend  ",
    "  lead\r\n\r\n\r\nmid \r\n \t \r\n",
    "a\r \r\n\r\r\n\n\r",
    "\r\n\r\n\r\nlate\r\n",
    "   ",
    "one two  three\tfour \t\r\n",
};

static void check_cuts(ps_canon canon, const char *d, size_t n,
                       const cap *whole, const size_t *cuts, size_t ncuts)
{
    cap c = canon_cut(canon, d, n, cuts, ncuts);

    if (c.len != whole->len || memcmp(c.data, whole->data, c.len) != 0)
        fail_msg("\"%s\" cut %zu times (first at %zu) differs", d, ncuts,
                 ncuts ? cuts[0] : 0);
    free(c.data);
}

static void every_chunking(ps_canon canon, const char *d)
{
    size_t n = strlen(d), cuts[64];
    cap whole = canon_whole(canon, d, n);

    expect_ref(canon, d, n, &whole);
    for (size_t i = 0; i <= n; i++) /* one cut anywhere */
        check_cuts(canon, d, n, &whole, &i, 1);
    for (size_t i = 0; i <= n; i++) /* two cuts anywhere */
        for (size_t j = i; j <= n; j++) {
            size_t two[2] = {i, j};
            check_cuts(canon, d, n, &whole, two, 2);
        }
    for (size_t i = 0; i < n && i < 64; i++) /* one byte at a time */
        cuts[i] = i + 1;
    check_cuts(canon, d, n, &whole, cuts, n < 64 ? n : 64);
    free(whole.data);
}

static void chunking_is_invisible(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
        every_chunking(PS_CANON_SIMPLE, tricky[i]);
        every_chunking(PS_CANON_RELAXED, tricky[i]);
    }
}

/* Random bodies over the bytes that matter, cut at random places, against
 * the reference (fixed seed: a failure is reproducible). */
static void random_bodies(void **state)
{
    static const char alphabet[] = "ab  \t\t\r\r\n\n\n";
    char d[200];
    size_t cuts[8];
    unsigned seed = 12345;

    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof(d)), ncuts;
        for (size_t i = 0; i < n; i++)
            d[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
        ncuts = (size_t)(rand_r(&seed) % 8);
        for (size_t i = 0; i < ncuts; i++)
            cuts[i] = n ? (size_t)rand_r(&seed) % (n + 1) : 0;
        for (size_t i = 1; i < ncuts; i++) /* insertion sort */
            for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                size_t t = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = t;
            }
        for (int k = 0; k < 2; k++) {
            ps_canon canon = k ? PS_CANON_RELAXED : PS_CANON_SIMPLE;
            cap c = canon_cut(canon, d, n, cuts, ncuts);
            expect_ref(canon, d, n, &c);
            free(c.data);
        }
    }
}

/* Long, mostly plain bodies: events (TAB, double SP, trailing SP, bare
 * LF, empty lines, leading WSP) are rare, so the 16- and 8-byte scans run
 * and must stop exactly on them at every alignment. */
static size_t plain_body(char *d, size_t cap, unsigned *seed)
{
    static const char *const seps[] = {
        " ",     " ",    " ",    " ",  " ",        " ",     "  ", "\t",
        " \r\n", "\r\n", "\r\n", "\n", "\r\n\r\n", "\r\n ", "\r"};
    size_t n = 0;

    while (n + 40 < cap) {
        size_t w = 1 + (size_t)rand_r(seed) % 30;
        const char *sep = seps[rand_r(seed) % (sizeof(seps) / sizeof(seps[0]))];
        for (size_t i = 0; i < w; i++)
            d[n++] = (char)('a' + rand_r(seed) % 26);
        memcpy(d + n, sep, strlen(sep));
        n += strlen(sep);
    }
    return n;
}

static void random_long_bodies(void **state)
{
    char d[4096];
    unsigned seed = 777;

    (void)state;
    for (int iter = 0; iter < 400; iter++) {
        size_t n =
            plain_body(d, 64 + (size_t)rand_r(&seed) % (sizeof(d) - 64), &seed);
        size_t cuts[3] = {(size_t)rand_r(&seed) % n, 0, 0};
        cuts[1] = cuts[0] + (size_t)rand_r(&seed) % (n - cuts[0]);
        cuts[2] = cuts[1] + (size_t)rand_r(&seed) % (n - cuts[1]);
        for (int k = 0; k < 2; k++) {
            ps_canon canon = k ? PS_CANON_RELAXED : PS_CANON_SIMPLE;
            cap c = canon_cut(canon, d, n, cuts, 3);
            expect_ref(canon, d, n, &c);
            free(c.data);
        }
    }
}

/* The 64-byte block scans, AVX2 and SSE2 alike, against the definition
 * in dkim_canon.h byte by byte: from every start, on text dense with
 * events and on text with single events at every position of a block. */
static int scan_event_ref(const uint8_t *p, const uint8_t *end)
{
    int next_special = p + 1 < end && (p[1] == ' ' || p[1] == '\t' ||
                                       p[1] == '\r' || p[1] == '\n');

    if (*p == '\n')
        return p[-1] != '\r' || p + 1 == end || next_special;
    if (*p == '\t')
        return 1;
    return *p == ' ' && (p + 1 == end || next_special);
}

/* Either the event itself, or (no event in the whole blocks scanned) a
 * block boundary with 64 bytes or less left for the byte loop. */
static void expect_blocks_stop_right(const uint8_t *d, size_t n)
{
    const uint8_t *end = d + n;

    for (size_t start = 1; start < n; start++) {
        const uint8_t *want = d + start;
        while (want < end && !scan_event_ref(want, end))
            want++;
        for (int wide = 0; wide < 2; wide++) {
            const uint8_t *got = ps_dkim_scan_blocks(wide, d + start, end);
            if (got != want &&
                (got > want || end - got > 64 || (got - (d + start)) % 64 != 0))
                fail_msg("wide=%d start=%zu: stopped at %td, event at %td",
                         wide, start, got - d, want - d);
        }
        assert_ptr_equal(ps_dkim_scan(PS_CANON_RELAXED, d + start, end), want);
    }
}

static void scan_blocks_match_reference(void **state)
{
    static const char alphabet[] = "ab \t\r\n";
    static const char plain[] = "ab cd\r\n";
    static const char *const evs[] = {"\t", "  ", "\n", " \r", "\r\n "};
    uint8_t d[300];
    unsigned seed = 4242;

    (void)state;
    for (int iter = 0; iter < 200; iter++) {
        for (size_t i = 0; i < sizeof(d); i++)
            d[i] = (uint8_t)alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
        expect_blocks_stop_right(d, sizeof(d));
    }
    for (size_t pos = 0; pos < 150; pos++)
        for (size_t k = 0; k < sizeof(evs) / sizeof(evs[0]); k++) {
            for (size_t i = 0; i < sizeof(d); i++)
                d[i] = (uint8_t)plain[i % (sizeof(plain) - 1)];
            memcpy(d + pos + 1, evs[k], strlen(evs[k]));
            expect_blocks_stop_right(d, 200);
        }
}

/* ---- runs, not bytes ------------------------------------------------------
 */

/* Ordinary text (CRLF lines, single spaces) reaches the sink once per
 * chunk, whatever the canonicalisation: no per-line or per-word calls. */
static void long_runs(void **state)
{
    static const char line[] =
        "The quick brown fox jumps over the lazy dog.\r\n";
    size_t n = 2000 * (sizeof(line) - 1), chunk = 8192, chunks = 0;
    char *d = malloc(n);

    (void)state;
    for (size_t i = 0; i < 2000; i++)
        memcpy(d + i * (sizeof(line) - 1), line, sizeof(line) - 1);
    for (int k = 0; k < 2; k++) {
        ps_dkim_body b;
        cap c = {NULL, 0, 0, 0};
        ps_dkim_body_init(&b, k ? PS_CANON_RELAXED : PS_CANON_SIMPLE, cap_sink,
                          &c);
        chunks = 0;
        for (size_t off = 0; off < n; off += chunk, chunks++)
            ps_dkim_body_update(&b, (uint8_t *)d + off,
                                n - off < chunk ? n - off : chunk);
        ps_dkim_body_final(&b);
        assert_int_equal(c.len, n);
        assert_memory_equal(c.data, d, n);
        if (c.calls > 2 * chunks)
            fail_msg("%zu sink calls for %zu chunks", c.calls, chunks);
        free(c.data);
    }
    free(d);
}

/* A body of 300000 empty lines then text: the held-back lines come out
 * in a few large writes, and a body of only empty lines writes nothing. */
static void many_empty_lines(void **state)
{
    size_t n = 300000 * 2;
    char *d = malloc(n + 2);
    cap c;

    (void)state;
    for (size_t i = 0; i < n; i += 2)
        memcpy(d + i, "\r\n", 2);
    c = canon_whole(PS_CANON_RELAXED, d, n);
    assert_int_equal(c.len, 0);
    assert_int_equal(c.calls, 0);
    free(c.data);
    memcpy(d + n, "x!", 2);
    c = canon_whole(PS_CANON_RELAXED, d, n + 2);
    assert_int_equal(c.len, n + 4);
    assert_true(c.calls < n / 256);
    free(c.data);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc_example_headers),
        cmocka_unit_test(rfc_example_body),
        cmocka_unit_test(header_folding_and_spacing),
        cmocka_unit_test(header_buffer_bound),
        cmocka_unit_test(body_edge_cases),
        cmocka_unit_test(empty_body_hashes),
        cmocka_unit_test(chunking_is_invisible),
        cmocka_unit_test(random_bodies),
        cmocka_unit_test(random_long_bodies),
        cmocka_unit_test(scan_blocks_match_reference),
        cmocka_unit_test(long_runs),
        cmocka_unit_test(many_empty_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
