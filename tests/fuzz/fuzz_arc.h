/* What the ARC fuzz targets share: a fuzz input read as a header block,
 * fields split at line ends not followed by whitespace, name up to ':'. */
#ifndef PS_FUZZ_ARC_H
#define PS_FUZZ_ARC_H

#include <stddef.h>

#include "arc/arc.h"

/* Up to max fields of buf into h, stopping at an empty line; *end is
 * where the body starts (size if there is none). */
static size_t fuzz_arc_fields(const char *buf, size_t size, ps_arc_header *h,
                              size_t max, size_t *end)
{
    size_t n = 0, i = 0;

    while (i < size && buf[i] != '\n' && n < max) {
        size_t start = i, colon;

        while (i < size &&
               !(buf[i] == '\n' &&
                 (i + 1 >= size || (buf[i + 1] != ' ' && buf[i + 1] != '\t'))))
            i++;
        for (colon = start; colon < i && buf[colon] != ':'; colon++)
            ;
        if (colon < i)
            h[n++] = (ps_arc_header){buf + start, colon - start,
                                     buf + colon + 1, i - colon - 1};
        i++;
    }
    *end = i < size ? i + 1 : size;
    return n;
}

#endif
