/* libFuzzer target for shared/mail/whstate.c: any line is a state line
 * whose item formats back to the same line, a request with a verb and a
 * well-formed id, or refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/whstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), out[256], id[PS_EVSPOOL_ID + 1];
    long long scanned;
    ps_whstate_item it;
    ps_whstate_verb verb;

    if (buf == NULL)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (ps_whstate_parse(buf, &scanned, &it) == PS_WHSTATE_ITEM) {
        ps_whstate_item again;
        if (ps_whstate_format(&it, out, sizeof(out)) < 0)
            abort();
        out[strlen(out) - 1] = '\0';
        if (ps_whstate_parse(out, &scanned, &again) != PS_WHSTATE_ITEM ||
            memcmp(&it, &again, sizeof(it)) != 0)
            abort();
    }
    if (ps_whstate_parse_request(buf, &verb, id) == 0 &&
        strlen(id) != PS_EVSPOOL_ID && strcmp(id, "dead") != 0)
        abort();
    free(buf);
    return 0;
}
