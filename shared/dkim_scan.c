/* The scan behind streaming body canonicalisation: the next byte the
 * canonicaliser must look at, found for relaxed 16 (SSE2) or 8 (SWAR)
 * bytes at a time, for simple with memchr. Plain lines ending in CRLF are no event at all, so ordinary text
 * and base64 flow through one scan per chunk; a byte or line loop costs
 * more than the SHA-256 it feeds. */
#include "dkim_canon.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static int is_wsp(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static int is_eol(uint8_t c)
{
    return c == '\r' || c == '\n';
}

/* The event test itself, for the bytes the wide scans leave over. An LF
 * is an event unless it ends a CRLF and ordinary content follows. */
static int is_event(const uint8_t *p, const uint8_t *end, int relaxed)
{
    int last = p + 1 == end;

    if (*p == '\n')
        return p[-1] != '\r' || last || is_eol(p[1]) ||
               (relaxed && is_wsp(p[1]));
    if (!relaxed || !is_wsp(*p))
        return 0;
    return *p == '\t' || last || is_wsp(p[1]) || is_eol(p[1]);
}

/* The relaxed events (is_event with relaxed set), 16 bytes at a time. */
#if defined(__SSE2__)
#define EQ(x, c) _mm_cmpeq_epi8((x), _mm_set1_epi8(c))

static const uint8_t *scan16(const uint8_t *p, const uint8_t *end)
{
    while (end - p >= 17) {
        __m128i xp = _mm_loadu_si128((const __m128i *)(p - 1));
        __m128i x0 = _mm_loadu_si128((const __m128i *)p);
        __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 1));
        __m128i lf = EQ(x0, '\n');
        __m128i n_eol = _mm_or_si128(EQ(x1, '\r'), EQ(x1, '\n'));
        __m128i n_wsp = _mm_or_si128(EQ(x1, ' '), EQ(x1, '\t'));
        __m128i lf_ev = _mm_or_si128(
            _mm_andnot_si128(EQ(xp, '\r'), lf),
            _mm_and_si128(lf, _mm_or_si128(n_eol, n_wsp)));
        __m128i ws_ev = _mm_or_si128(
            EQ(x0, '\t'), _mm_and_si128(EQ(x0, ' '), _mm_or_si128(n_eol, n_wsp)));
        int m = _mm_movemask_epi8(_mm_or_si128(lf_ev, ws_ev));
        if (m != 0)
            return p + __builtin_ctz((unsigned)m);
        p += 16;
    }
    return p;
}
#else
static const uint8_t *scan16(const uint8_t *p, const uint8_t *end)
{
    (void)end;
    return p;
}
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HIGH 0x8080808080808080ULL

/* 0x80 in each byte of x that equals c, exactly: no borrow runs from one
 * byte into the next. */
static uint64_t eq8(uint64_t x, uint8_t c)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
    uint64_t v = x ^ (0x0101010101010101ULL * c);

    return ~(((v & low7) + low7) | v | low7);
}

static uint64_t load8(const uint8_t *p)
{
    uint64_t x;

    memcpy(&x, p, sizeof(x));
    return x;
}

static const uint8_t *scan8(const uint8_t *p, const uint8_t *end)
{
    while (end - p >= 9) {
        uint64_t xp = load8(p - 1), x0 = load8(p), x1 = load8(p + 1);
        uint64_t lf = eq8(x0, '\n');
        uint64_t n_eol = eq8(x1, '\r') | eq8(x1, '\n');
        uint64_t n_wsp = eq8(x1, ' ') | eq8(x1, '\t');
        uint64_t lf_ev = (lf & ~eq8(xp, '\r')) | (lf & (n_eol | n_wsp));
        uint64_t ws_ev = eq8(x0, '\t') | (eq8(x0, ' ') & (n_eol | n_wsp));
        uint64_t hit = (lf_ev | ws_ev) & HIGH;
        if (hit != 0)
            return p + (__builtin_ctzll(hit) >> 3);
        p += 8;
    }
    return p;
}
#else
static const uint8_t *scan8(const uint8_t *p, const uint8_t *end)
{
    (void)end;
    return p;
}
#endif

/* Simple looks at LFs only, and libc's memchr finds them faster than
 * any scan above. */
static const uint8_t *scan_lf(const uint8_t *p, const uint8_t *end)
{
    const uint8_t *lf;

    while ((lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        if (is_event(lf, end, 0))
            return lf;
        p = lf + 1;
    }
    return end;
}

/* A hit found by a wide scan is found again at once by the next one. */
const uint8_t *ps_dkim_scan(ps_canon canon, const uint8_t *p,
                            const uint8_t *end)
{
    if (canon != PS_CANON_RELAXED)
        return scan_lf(p, end);
    p = scan8(scan16(p, end), end);
    while (p < end && !is_event(p, end, 1))
        p++;
    return p;
}
