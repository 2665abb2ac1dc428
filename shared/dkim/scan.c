/* The scan behind streaming body canonicalisation: the next byte the
 * canonicaliser must look at, found for relaxed 64 bytes at a time (AVX2
 * or SSE2 compares turned into bit masks), for simple with memchr. Plain
 * lines ending in CRLF are no event at all, so ordinary text and base64
 * flow through one scan per chunk; a byte or line loop costs more than
 * the SHA-256 it feeds. */
#include "dkim/canon_int.h"

#include <string.h>

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

/* The relaxed events 64 bytes at a time, as bit masks (bit i = byte i):
 * one compare per special byte (SP, TAB, CR, LF) per vector, then the
 * neighbour conditions of is_event are shifts of those masks. */
typedef struct scan_masks {
    uint64_t sp, tab, cr, lf;
} scan_masks;

static int is_special(uint8_t c)
{
    return is_wsp(c) || is_eol(c);
}

/* An LF is an event unless a CR precedes it and no WSP, CR or LF follows;
 * a SP is one when WSP, CR or LF follows; a TAB always. The bytes just
 * before and after the block come in as single bits. */
static uint64_t events64(scan_masks m, const uint8_t *p)
{
    uint64_t special = m.sp | m.tab | m.cr | m.lf;
    uint64_t next = special >> 1 | (uint64_t)is_special(p[64]) << 63;
    uint64_t prev_cr = m.cr << 1 | (uint64_t)(p[-1] == '\r');

    return (m.lf & (~prev_cr | next)) | m.tab | (m.sp & next);
}

/* The same loop in each instruction set, so the compares inline into it. */
#define SCAN_LOOP(masks)                                                       \
    while (end - p >= 65) {                                                    \
        uint64_t ev = events64(masks(p), p);                                   \
        if (ev != 0)                                                           \
            return p + __builtin_ctzll(ev);                                    \
        p += 64;                                                               \
    }                                                                          \
    return p

#if defined(__x86_64__)
#include <immintrin.h>

static uint64_t movemask16(__m128i x, char c)
{
    return (uint64_t)(unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(x, _mm_set1_epi8(c)));
}

static scan_masks masks_sse2(const uint8_t *p)
{
    scan_masks m = {0, 0, 0, 0};

    for (int i = 0; i < 4; i++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + 16 * i));
        m.sp |= movemask16(x, ' ') << (16 * i);
        m.tab |= movemask16(x, '\t') << (16 * i);
        m.cr |= movemask16(x, '\r') << (16 * i);
        m.lf |= movemask16(x, '\n') << (16 * i);
    }
    return m;
}

__attribute__((target("avx2"))) static uint64_t movemask32(__m256i x, char c)
{
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(
        _mm256_cmpeq_epi8(x, _mm256_set1_epi8(c)));
}

__attribute__((target("avx2"))) static scan_masks masks_avx2(const uint8_t *p)
{
    __m256i lo = _mm256_loadu_si256((const __m256i *)p);
    __m256i hi = _mm256_loadu_si256((const __m256i *)(p + 32));
    scan_masks m;

    m.sp = movemask32(lo, ' ') | movemask32(hi, ' ') << 32;
    m.tab = movemask32(lo, '\t') | movemask32(hi, '\t') << 32;
    m.cr = movemask32(lo, '\r') | movemask32(hi, '\r') << 32;
    m.lf = movemask32(lo, '\n') | movemask32(hi, '\n') << 32;
    return m;
}

__attribute__((target("avx2"))) static const uint8_t *
scan_avx2(const uint8_t *p, const uint8_t *end)
{
    SCAN_LOOP(masks_avx2);
}

static const uint8_t *scan_sse2(const uint8_t *p, const uint8_t *end)
{
    SCAN_LOOP(masks_sse2);
}

const uint8_t *ps_dkim_scan_blocks(int wide, const uint8_t *p,
                                   const uint8_t *end)
{
    return wide && __builtin_cpu_supports("avx2") ? scan_avx2(p, end)
                                                  : scan_sse2(p, end);
}
#else
/* Elsewhere byte by byte into the same masks: correct, not fast. */
static scan_masks masks_bytes(const uint8_t *p)
{
    scan_masks m = {0, 0, 0, 0};

    for (int i = 0; i < 64; i++) {
        m.sp |= (uint64_t)(p[i] == ' ') << i;
        m.tab |= (uint64_t)(p[i] == '\t') << i;
        m.cr |= (uint64_t)(p[i] == '\r') << i;
        m.lf |= (uint64_t)(p[i] == '\n') << i;
    }
    return m;
}

static const uint8_t *scan_bytes(const uint8_t *p, const uint8_t *end)
{
    SCAN_LOOP(masks_bytes);
}

const uint8_t *ps_dkim_scan_blocks(int wide, const uint8_t *p,
                                   const uint8_t *end)
{
    (void)wide;
    return scan_bytes(p, end);
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

/* AVX2 where the CPU has it (asked each time: the answer is a load from
 * what libgcc read at start, and the core keeps no state of its own). */
const uint8_t *ps_dkim_scan(ps_canon canon, const uint8_t *p,
                            const uint8_t *end)
{
    if (canon != PS_CANON_RELAXED)
        return scan_lf(p, end);
    p = ps_dkim_scan_blocks(1, p, end);
    while (p < end && !is_event(p, end, 1))
        p++;
    return p;
}
