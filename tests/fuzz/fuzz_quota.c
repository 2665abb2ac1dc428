/* libFuzzer target for shared/quota/parse.c and window.c: limit
 * lists parse and print back to the same windows, or are refused with a
 * reason; stored states decode and re-encode byte for byte, or are refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quota/quota.h"

static void ps_fuzz_parse(const char *text)
{
    ps_quota_window w[PS_QUOTA_MAX_WINDOWS], back[PS_QUOTA_MAX_WINDOWS];
    char buf[64];
    ps_err err = {""};
    size_t n, m;

    if (ps_quota_parse(text, w, &n, &err) != 0) {
        if (err.msg[0] == '\0')
            abort();
        return;
    }
    if (n == 0 || n > PS_QUOTA_MAX_WINDOWS)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (w[i].limit > PS_QUOTA_MAX_LIMIT ||
            w[i].period_ms < PS_QUOTA_MIN_PERIOD ||
            w[i].period_ms > PS_QUOTA_MAX_PERIOD)
            abort();
        ps_quota_window_format(&w[i], buf, sizeof(buf));
        if (ps_quota_parse(buf, back, &m, &err) != 0 || m != 1 ||
            back[0].measure != w[i].measure || back[0].limit != w[i].limit ||
            back[0].period_ms != w[i].period_ms)
            abort();
    }
}

static void ps_fuzz_state(const uint8_t *data, size_t size)
{
    ps_quota_state st;
    unsigned char buf[PS_QUOTA_STATE_MAX];
    ps_quota_window w = {PS_QUOTA_MESSAGES, 100, 3600000};
    uint64_t now = 1700000000000ULL, at;

    if (size > 16)
        w.period_ms = PS_QUOTA_MIN_PERIOD + data[16] * 1000ULL;
    if (ps_quota_state_decode(data, size, w.period_ms, now, &st) != 0)
        return;
    /* the current version re-encodes byte for byte (version 1 is read) */
    if (data[0] != 1 &&
        (ps_quota_state_encode(&st, buf) != size || memcmp(buf, data, size)))
        abort();
    ps_quota_used(&st, w.period_ms, now);
    at = ps_quota_frees_at(&st, &w, now, 1);
    if (at < now)
        abort();
    ps_quota_charge(&st, w.period_ms, now, 1);
    if (st.nslots > PS_QUOTA_SLOTS + 1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);

    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    ps_fuzz_parse(text);
    ps_fuzz_state(data, size);
    free(text);
    return 0;
}
