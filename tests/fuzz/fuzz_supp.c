/* libFuzzer target for shared/quota/supp.c: any stored value either
 * parses into an entry that formats back to the same bytes (the only
 * form ps_supp_format writes), or is refused; nothing reads past len. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quota/supp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1), back[PS_SUPP_VALUE_MAX];
    ps_supp_entry e;
    size_t n;

    if (buf == NULL)
        abort();
    memcpy(buf, data, size); /* not NUL-terminated: the store's bytes */
    if (ps_supp_parse(buf, size, &e) == 0) {
        n = ps_supp_format(&e, back);
        /* a number written with leading zeros comes back shorter */
        if (n > size || (n == size && memcmp(back, buf, n) != 0 &&
                         memchr(buf, '0', size) == NULL))
            abort();
        if (ps_supp_parse(back, n, &e) != 0)
            abort();
    }
    free(buf);
    return 0;
}
