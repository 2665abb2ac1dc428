/* libFuzzer target for shared/arc/seal.c: any header block (fields split
 * at lines that do not start with whitespace) and body, sealed with each
 * cv=, either makes a set whose instance follows the highest one present
 * and whose three values are there, stops (instance 50, a failed seal),
 * or refuses with a reason; never crashes or leaks. The first input byte
 * picks cv= and where the body starts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arc/arc_seal.h"
#include "crypto/keys.h"

#define MAX_FIELDS 256

static ps_key *fuzz_key(void)
{
    static ps_key *key; /* made once: generating is slow, sealing is not */
    ps_err err;

    if (key == NULL && ps_key_generate(PS_KEY_ED25519, 0, &key, &err) != 0)
        abort();
    return key;
}

/* The end of the field starting at p: its last continuation line's LF. */
static const char *field_end(const char *p, const char *end)
{
    const char *lf;

    while ((lf = memchr(p, '\n', (size_t)(end - p))) != NULL && lf + 1 < end &&
           (lf[1] == ' ' || lf[1] == '\t'))
        p = lf + 1;
    return lf != NULL ? lf : end;
}

static void feed(ps_arc_sealer *s, const char *p, const char *end, int *ok)
{
    ps_err err;

    for (size_t n = 0; *ok && p < end && n < MAX_FIELDS; n++) {
        const char *e = field_end(p, end);
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (colon != NULL && colon > p) {
            char *name = strndup(p, (size_t)(colon - p));
            char *value = strndup(colon + 1, (size_t)(e - colon - 1));
            *ok = ps_arc_seal_header(s, name, value, &err) == 0;
            free(name);
            free(value);
        }
        p = e + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_dkim_signer sg = {fuzz_key(), "fwd.example.com", "arc"};
    ps_arc_seal_out out;
    ps_err err = {""};
    ps_arc_sealer *s;
    size_t split;
    int ok = 1;

    if (size < 1)
        return 0;
    ps_arc_seal_cv cv = (ps_arc_seal_cv)(data[0] % 3);
    const char *text = (const char *)data + 1;
    const char *blank = memmem(text, size - 1, "\n\n", 2);
    split = blank != NULL ? (size_t)(blank - text) + 2 : size - 1;
    s = ps_arc_seal_new(NULL, &sg, 1700000000, &err);
    if (s == NULL)
        abort();
    feed(s, text, text + split, &ok);
    if (ok)
        ok = ps_arc_seal_body(s, (const uint8_t *)text + split,
                              size - 1 - split, &err) == 0;
    if (ok &&
        ps_arc_seal_final(s, cv, "mx.example; spf=pass", &out, &err) == 0) {
        if (out.outcome == PS_ARC_SEAL_SEALED &&
            (out.aar == NULL || out.ams == NULL || out.as == NULL ||
             out.instance < 1 || out.instance > 50))
            abort();
        ps_arc_seal_out_free(&out);
    } else if (err.msg[0] == '\0')
        abort();
    ps_arc_seal_free(s);
    return 0;
}
