/* libFuzzer target for the SNS SigningCertURL check (sns_url.c): any bytes
 * are refused or accepted with a file name that is the URL's own tail,
 * ends in ".pem" and holds no '/'. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/webhook_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *name;
    size_t n;

    if (ps_wh_sns_cert_url(p, size, &name, &n) < 0)
        return 0;
    if (name < p || name + n != p + size || n <= 4 ||
        !ps_wh_ieq(name + n - 4, 4, ".pem") || memchr(name, '/', n) != NULL ||
        !ps_wh_ieq(p, 8, "https://"))
        abort();
    return 0;
}
