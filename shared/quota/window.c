/* The sliding-window counter: each window keeps what was charged in each
 * sub-window of the last period, with the time of the latest charge in
 * it. A sub-window counts until one period after that latest charge: never
 * more than the limit in any interval of one period, and the time a
 * refusal quotes is never longer than the period. */
#include "quota/quota.h"

#include <string.h>

#define PS_QUOTA_VERSION       2
#define PS_QUOTA_VERSION_INDEX 1 /* the first form: slots named by index */

uint64_t ps_quota_index(uint64_t now_ms, uint64_t period_ms)
{
    return now_ms / period_ms * PS_QUOTA_SLOTS +
           now_ms % period_ms * PS_QUOTA_SLOTS / period_ms;
}

/* The first ms whose index is i, written so no product can overflow. */
static uint64_t ps_quota_slot_start(uint64_t i, uint64_t period_ms)
{
    uint64_t part = i % PS_QUOTA_SLOTS * period_ms;

    if (i / PS_QUOTA_SLOTS > UINT64_MAX / period_ms - 1)
        return PS_QUOTA_NEVER;
    return i / PS_QUOTA_SLOTS * period_ms +
           (part + PS_QUOTA_SLOTS - 1) / PS_QUOTA_SLOTS;
}

static uint64_t ps_quota_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t ps_quota_used(ps_quota_state *s, uint64_t period_ms, uint64_t now_ms)
{
    uint64_t used = 0;
    uint32_t keep = 0;

    for (uint32_t i = 0; i < s->nslots; i++) {
        if (ps_quota_add(s->slots[i].last_ms, period_ms) <= now_ms)
            continue;
        s->slots[keep++] = s->slots[i];
        used = ps_quota_add(used, s->slots[i].count);
    }
    s->nslots = keep;
    return used;
}

/* A charge in the newest slot's sub-window joins it and moves its time
 * forward, so every unit in a slot counts at least one period. A clock
 * that went back leaves slots newer than now: the cost joins the newest
 * one, which keeps it counted at least as long as it should be. */
void ps_quota_charge(ps_quota_state *s, uint64_t period_ms, uint64_t now_ms,
                     uint64_t cost)
{
    uint64_t cur = ps_quota_index(now_ms, period_ms);
    ps_quota_slot *last;

    ps_quota_used(s, period_ms, now_ms);
    last = s->nslots > 0 ? &s->slots[s->nslots - 1] : NULL;
    if (last != NULL && (ps_quota_index(last->last_ms, period_ms) >= cur ||
                         s->nslots > PS_QUOTA_SLOTS)) {
        last->count = ps_quota_add(last->count, cost);
        if (now_ms > last->last_ms)
            last->last_ms = now_ms;
        return;
    }
    s->slots[s->nslots].last_ms = now_ms;
    s->slots[s->nslots].count = cost;
    s->nslots++;
}

static int ps_quota_fits(uint64_t used, uint64_t cost, uint64_t limit)
{
    return cost <= limit && used <= limit - cost;
}

uint64_t ps_quota_frees_at(const ps_quota_state *s, const ps_quota_window *w,
                           uint64_t now_ms, uint64_t cost)
{
    uint64_t used = 0, excess, acc = 0, t;

    if (cost > w->limit)
        return PS_QUOTA_NEVER;
    for (uint32_t i = 0; i < s->nslots; i++)
        used = ps_quota_add(used, s->slots[i].count);
    if (ps_quota_fits(used, cost, w->limit))
        return now_ms;
    excess = used - (w->limit - cost);
    for (uint32_t i = 0; i < s->nslots; i++) {
        acc = ps_quota_add(acc, s->slots[i].count);
        if (acc < excess)
            continue;
        t = ps_quota_add(s->slots[i].last_ms, w->period_ms);
        return t > now_ms ? t : now_ms;
    }
    return PS_QUOTA_NEVER;
}

int ps_quota_warn_due(ps_quota_state *s, const ps_quota_window *w,
                      uint64_t used, uint64_t now_ms, int pct)
{
    if (w->limit == 0 || pct <= 0 || now_ms < s->warned_until)
        return 0;
    if (used * 100 < w->limit * (uint64_t)pct)
        return 0;
    s->warned_until = ps_quota_add(now_ms, w->period_ms);
    return 1;
}

static void ps_quota_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t ps_quota_get64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

size_t ps_quota_state_encode(const ps_quota_state *s,
                             unsigned char buf[PS_QUOTA_STATE_MAX])
{
    memset(buf, 0, 16);
    buf[0] = PS_QUOTA_VERSION;
    buf[1] = (unsigned char)s->nslots;
    ps_quota_put64(buf + 8, s->warned_until);
    for (uint32_t i = 0; i < s->nslots; i++) {
        ps_quota_put64(buf + 16 + 16 * i, s->slots[i].last_ms);
        ps_quota_put64(buf + 24 + 16 * i, s->slots[i].count);
    }
    return 16 + 16 * (size_t)s->nslots;
}

/* A slot stored by index (version 1): its charges were made in its
 * sub-window and not after now. */
static uint64_t ps_quota_index_last_ms(uint64_t index, uint64_t period_ms,
                                       uint64_t now_ms)
{
    uint64_t end = ps_quota_slot_start(ps_quota_add(index, 1), period_ms);

    end = end == PS_QUOTA_NEVER ? end : end - 1;
    return end < now_ms ? end : now_ms;
}

int ps_quota_state_decode(const void *buf, size_t len, uint64_t period_ms,
                          uint64_t now_ms, ps_quota_state *s)
{
    const unsigned char *p = buf;

    static const unsigned char pad[6];

    if (len < 16 ||
        (p[0] != PS_QUOTA_VERSION && p[0] != PS_QUOTA_VERSION_INDEX) ||
        p[1] > PS_QUOTA_SLOTS + 1 || len != 16 + 16 * (size_t)p[1] ||
        memcmp(p + 2, pad, 6) != 0)
        return -1;
    s->nslots = 0;
    s->warned_until = ps_quota_get64(p + 8);
    for (uint32_t i = 0; i < p[1]; i++) {
        uint64_t raw = ps_quota_get64(p + 16 + 16 * i), t = raw;
        uint64_t count = ps_quota_get64(p + 24 + 16 * i);

        if (i > 0 && raw <= ps_quota_get64(p + 16 * i))
            return -1;
        if (p[0] == PS_QUOTA_VERSION_INDEX)
            t = ps_quota_index_last_ms(raw, period_ms, now_ms);
        if (s->nslots > 0 && t <= s->slots[s->nslots - 1].last_ms) {
            /* first form, clamped to now: one slot */
            ps_quota_slot *last = &s->slots[s->nslots - 1];
            last->count = ps_quota_add(last->count, count);
            continue;
        }
        s->slots[s->nslots].last_ms = t;
        s->slots[s->nslots++].count = count;
    }
    return 0;
}

void ps_quota_eval(ps_quota_item *items, size_t n,
                   const uint64_t cost[PS_QUOTA_NMEASURES], int charge,
                   uint64_t now_ms, int warn_pct, ps_quota_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->frees_at = now_ms;
    for (size_t i = 0; i < n; i++) {
        ps_quota_item *it = &items[i];
        uint64_t c = cost[it->win.measure], at;

        it->warn = 0;
        it->used = ps_quota_used(&it->state, it->win.period_ms, now_ms);
        if (ps_quota_fits(it->used, c, it->win.limit))
            continue;
        at = ps_quota_frees_at(&it->state, &it->win, now_ms, c);
        if (!v->over || at > v->frees_at) {
            v->over = 1;
            v->item = i;
            v->frees_at = at;
        }
    }
    if (v->over || !charge)
        return;
    for (size_t i = 0; i < n; i++) {
        ps_quota_item *it = &items[i];
        uint64_t c = cost[it->win.measure];

        if (c == 0)
            continue;
        ps_quota_charge(&it->state, it->win.period_ms, now_ms, c);
        it->used += c;
        it->warn =
            ps_quota_warn_due(&it->state, &it->win, it->used, now_ms, warn_pct);
    }
}
