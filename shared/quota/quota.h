/* Quotas as plain numbers: the [limits] value syntax ("messages 100/1h,
 * bytes 1G/1d") and the sliding-window counter behind each window, with
 * time passed in, so every store, the CLI and the tests share one meaning
 * of "used", "fits" and "frees at". No I/O here. */
#ifndef PS_QUOTA_H
#define PS_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define PS_QUOTA_MAX_WINDOWS 8 /* windows in one [limits] entry */
/* Sub-windows per window. A unit charged at t counts until one period
 * after the latest charge of its sub-window, some time in [t + period,
 * t + period + period/60): never more than N in any interval of one
 * period, a unit frees at most period/60 late, and the wait a refusal
 * quotes is never longer than the period. */
#define PS_QUOTA_SLOTS      60
#define PS_QUOTA_MIN_PERIOD 1000ULL                /* ms: 1s */
#define PS_QUOTA_MAX_PERIOD (366ULL * 86400000ULL) /* ms: 366d */
/* Below 2^53 so Redis's Lua (doubles) does the same sums exactly. */
#define PS_QUOTA_MAX_LIMIT (1ULL << 50)
#define PS_QUOTA_NEVER     UINT64_MAX /* frees_at when a cost can't fit */

typedef enum ps_quota_measure {
    PS_QUOTA_MESSAGES,
    PS_QUOTA_RECIPIENTS,
    PS_QUOTA_BYTES,
    PS_QUOTA_NMEASURES
} ps_quota_measure;

typedef struct ps_quota_window {
    ps_quota_measure measure;
    uint64_t limit;     /* 0..PS_QUOTA_MAX_LIMIT; 0 refuses everything */
    uint64_t period_ms; /* PS_QUOTA_MIN_PERIOD..PS_QUOTA_MAX_PERIOD */
} ps_quota_window;

/* "MEASURE N/PERIOD, ..." with MEASURE messages | recipients | bytes, N a
 * number (bytes may end in K, M, G or T: powers of 1024) and PERIOD a
 * number followed by s, m, h or d ("1h", "30m"; a bare unit means 1). A
 * measure/period pair may appear once. *n receives the count (1..MAX). */
int ps_quota_parse(const char *value, ps_quota_window out[PS_QUOTA_MAX_WINDOWS],
                   size_t *n, ps_err *err);

const char *ps_quota_measure_name(ps_quota_measure m);
/* "messages 100/1h": the largest unit that divides the period and the
 * largest 1024 multiple that divides a byte limit. */
void ps_quota_window_format(const ps_quota_window *w, char *buf, size_t size);
/* "1h2m5s"-style text for a duration in ms (rounded up to seconds). */
void ps_quota_duration_format(uint64_t ms, char *buf, size_t size);
/* The words the SMTP refusal and `postseal quota show` share:
 * "OWNER: messages 100/1h[, used N][, frees in 12m30s]", each part left
 * out when PS_QUOTA_UNKNOWN; a wait of PS_QUOTA_NEVER reads "never fits". */
#define PS_QUOTA_UNKNOWN (UINT64_MAX - 1)
void ps_quota_describe(const char *owner, const ps_quota_window *w,
                       uint64_t used, uint64_t wait_ms, char *buf, size_t size);

/* The counter of one window: the amount charged in each sub-window
 * (index = time * SLOTS / period) that still counts, with the time of its
 * latest charge, sparse, oldest first, and until when the warn_at warning
 * is not to be repeated. */
typedef struct ps_quota_slot {
    uint64_t last_ms; /* the latest charge in this sub-window; counts until
                         last_ms + period */
    uint64_t count;
} ps_quota_slot;

typedef struct ps_quota_state {
    uint64_t warned_until; /* ms */
    uint32_t nslots;
    ps_quota_slot slots[PS_QUOTA_SLOTS + 1];
} ps_quota_state;

/* The slot index of a time. */
uint64_t ps_quota_index(uint64_t now_ms, uint64_t period_ms);
/* Drops sub-windows that left the window; returns what is still used. */
uint64_t ps_quota_used(ps_quota_state *s, uint64_t period_ms, uint64_t now_ms);
/* Adds cost to the current sub-window (trimming first). */
void ps_quota_charge(ps_quota_state *s, uint64_t period_ms, uint64_t now_ms,
                     uint64_t cost);
/* The first ms at which used + cost <= limit, now_ms if it fits already,
 * PS_QUOTA_NEVER if cost > limit. s must be trimmed (ps_quota_used). */
uint64_t ps_quota_frees_at(const ps_quota_state *s, const ps_quota_window *w,
                           uint64_t now_ms, uint64_t cost);
/* Whether to log the warn_at warning now that used is in the window: the
 * first time used reaches pct% of the limit, then once per period. */
int ps_quota_warn_due(ps_quota_state *s, const ps_quota_window *w,
                      uint64_t used, uint64_t now_ms, int pct);

/* Stored form of a state: little-endian, versioned, at most this long. */
#define PS_QUOTA_STATE_MAX (16 + 16 * (PS_QUOTA_SLOTS + 1))
size_t ps_quota_state_encode(const ps_quota_state *s,
                             unsigned char buf[PS_QUOTA_STATE_MAX]);
/* Refuses (-1) anything not written by encode: wrong length or version,
 * too many slots, slots out of order. A state of the first form (slots
 * by sub-window index) is read as the window of period_ms it belongs to,
 * at now_ms: a slot's latest charge is taken as its sub-window's end, or
 * now if that is later than now (nothing was charged after now). */
int ps_quota_state_decode(const void *buf, size_t len, uint64_t period_ms,
                          uint64_t now_ms, ps_quota_state *s);

/* One window of one counter as a store evaluates a request: the store
 * loads state, ps_quota_eval decides, the store writes back what changed. */
typedef struct ps_quota_item {
    ps_quota_window win;
    ps_quota_state state; /* in: as stored; out: to store if charged */
    uint64_t used;        /* out: after the charge, if any */
    int warn;             /* out: log the warn_at line for this item */
} ps_quota_item;

typedef struct ps_quota_verdict {
    int over;          /* 1: refused, nothing charged */
    size_t item;       /* the item that refused (the one freeing last) */
    uint64_t frees_at; /* ms, or PS_QUOTA_NEVER */
} ps_quota_verdict;

/* All or nothing: with charge, every item is charged its measure's cost
 * only if every item fits (used + cost <= limit); without, items are
 * only checked. Of several refusing items, the one freeing last is named,
 * since the request can't pass before then. */
void ps_quota_eval(ps_quota_item *items, size_t n,
                   const uint64_t cost[PS_QUOTA_NMEASURES], int charge,
                   uint64_t now_ms, int warn_pct, ps_quota_verdict *v);

#endif
