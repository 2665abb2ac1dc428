/* libFuzzer target for the DKIM canonicalisers and signer: arbitrary
 * header fields and body bytes, cut into arbitrary chunks. The body must
 * canonicalise to the same bytes however it is cut, those bytes must obey
 * the canonical form's rules, and signing must either succeed with a
 * well-formed value or fail with a one-line message. Input: one flag byte,
 * one chunking seed, then a message (header lines, blank line, body). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim.h"
#include "dkim/canon_int.h"
#include "crypto/keys.h"

static ps_key *fuzz_key; /* made once: test code, not the core */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ps_err err;

    (void)argc;
    (void)argv;
    if (ps_key_generate(PS_KEY_ED25519, 0, &fuzz_key, &err) != 0)
        abort();
    return 0;
}

typedef struct grow {
    uint8_t *p;
    size_t len, cap;
} grow;

static int grow_sink(void *arg, const uint8_t *p, size_t n)
{
    grow *g = arg;

    if (g->len + n > g->cap) {
        g->cap = 2 * (g->len + n);
        g->p = realloc(g->p, g->cap);
        if (g->p == NULL)
            abort();
    }
    memcpy(g->p + g->len, p, n);
    g->len += n;
    return 0;
}

/* Chunk sizes from a small LCG seeded by the input: 1..64 bytes. */
static size_t next_chunk(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return 1 + (*state >> 16) % 64;
}

static grow canon_body(ps_canon c, const uint8_t *d, size_t n, uint32_t seed)
{
    ps_dkim_body b;
    grow g = {NULL, 0, 0};

    ps_dkim_body_init(&b, c, grow_sink, &g);
    for (size_t off = 0, k; off < n; off += k) {
        k = seed ? next_chunk(&seed) : n;
        if (k > n - off)
            k = n - off;
        if (ps_dkim_body_update(&b, d + off, k) != 0)
            abort();
    }
    if (ps_dkim_body_final(&b) != 0)
        abort();
    return g;
}

static int has(const grow *g, const char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i + n <= g->len; i++)
        if (memcmp(g->p + i, s, n) == 0)
            return 1;
    return 0;
}

/* What a canonical body never contains. */
static void check_form(ps_canon c, const grow *g)
{
    for (size_t i = 0; i < g->len; i++)
        if (g->p[i] == '\n' && (i == 0 || g->p[i - 1] != '\r'))
            abort(); /* bare LF */
    if (g->len > 0 && (g->len < 2 || memcmp(g->p + g->len - 2, "\r\n", 2)))
        abort();
    if (g->len >= 4 && memcmp(g->p + g->len - 4, "\r\n\r\n", 4) == 0)
        abort(); /* trailing empty line */
    if (c == PS_CANON_SIMPLE && g->len == 0)
        abort();
    if (c == PS_CANON_RELAXED &&
        (has(g, "\t") || has(g, "  ") || has(g, " \r\n")))
        abort();
}

static void check_body(ps_canon c, const uint8_t *d, size_t n, uint32_t seed)
{
    grow whole = canon_body(c, d, n, 0);
    grow cut = canon_body(c, d, n, seed | 1);

    if (whole.len != cut.len ||
        (whole.len && memcmp(whole.p, cut.p, whole.len) != 0))
        abort();
    check_form(c, &whole);
    free(whole.p);
    free(cut.p);
}

/* ---- the signer over the same message ---------------------------------- */

static char *cstr(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);

    if (s == NULL)
        abort();
    memcpy(s, p, n);
    s[n] = '\0'; /* a NUL inside just shortens it, as a C API would */
    return s;
}

/* One header field starting at *i (continuation lines folded in with
 * their line ends); returns 0 at the blank line or the end. */
static int feed_field(ps_dkim_sign *s, const uint8_t *d, size_t n, size_t *i)
{
    size_t start = *i, end = *i, colon;
    char *name, *value;
    ps_err err = {""};

    if (start >= n || d[start] == '\n' ||
        (d[start] == '\r' && start + 1 < n && d[start + 1] == '\n'))
        return 0;
    do {
        while (end < n && d[end] != '\n')
            end++;
        end = end < n ? end + 1 : n;
    } while (end < n && (d[end] == ' ' || d[end] == '\t'));
    for (colon = start; colon < end && d[colon] != ':'; colon++)
        ;
    *i = end;
    if (colon == end)
        return 1; /* not a field: skipped, as an MTA would refuse it */
    name = cstr(d + start, colon - start);
    value = cstr(d + colon + 1, end - colon - 1);
    if (ps_dkim_sign_header(s, name, value, &err) != 0 &&
        (err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL))
        abort();
    free(name);
    free(value);
    return 1;
}

static void check_values(char **v, size_t count)
{
    if (count != 1 || strncmp(v[0], " v=1; a=ed25519-sha256;", 23) != 0 ||
        strstr(v[0], " l=") != NULL || strstr(v[0], "b=") == NULL)
        abort();
    free(v[0]);
    free(v);
}

static void sign(uint8_t flags, const uint8_t *d, size_t n, uint32_t seed)
{
    static const char *const lists[] = {"From", "X-*", "Subject", "*x"};
    ps_dkim_params p = {flags & 1 ? PS_CANON_SIMPLE : PS_CANON_RELAXED,
                        flags & 2 ? PS_CANON_SIMPLE : PS_CANON_RELAXED,
                        flags & 4 ? lists : NULL,
                        3,
                        flags & 8 ? lists + 1 : NULL,
                        2,
                        flags & 16 ? 60 : 0};
    ps_dkim_signer sg = {fuzz_key, "example.com", "fuzz"};
    ps_err err = {""};
    ps_dkim_sign *s = ps_dkim_sign_new(&p, &sg, 1, 1, &err);
    size_t i = 0, count = 0;
    char **v = NULL;

    if (s == NULL)
        abort();
    while (feed_field(s, d, n, &i))
        ;
    i = i < n ? i + (d[i] == '\r' ? 2 : 1) : n;
    for (size_t k; i < n; i += k) {
        k = next_chunk(&seed);
        if (k > n - i)
            k = n - i;
        if (ps_dkim_sign_body(s, d + i, k, &err) != 0)
            abort();
    }
    if (ps_dkim_sign_final(s, &v, &count, &err) == 0)
        check_values(v, count);
    else if (v != NULL || err.msg[0] == '\0' || strchr(err.msg, '\n'))
        abort();
    ps_dkim_sign_free(s);
}

/* The AVX2 and SSE2 block scans see the same events: from every start
 * they stop at the same byte. */
static void check_scans_agree(const uint8_t *d, size_t n)
{
    for (size_t start = 1; start < n && start < 200; start++)
        if (ps_dkim_scan_blocks(0, d + start, d + n) !=
            ps_dkim_scan_blocks(1, d + start, d + n))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t flags;
    uint32_t seed;

    if (size < 2)
        return 0;
    flags = data[0];
    seed = data[1];
    data += 2;
    size -= 2;
    check_body(PS_CANON_SIMPLE, data, size, seed);
    check_body(PS_CANON_RELAXED, data, size, seed);
    check_scans_agree(data, size);
    sign(flags, data, size, seed);
    return 0;
}
