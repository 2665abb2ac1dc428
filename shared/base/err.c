/* Error messages returned by the core: one formatted line per failure,
 * with OpenSSL's reason attached where OpenSSL failed. */
#include "base/err.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ps_err_set(ps_err *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int ps_err_openssl(ps_err *err, const char *fmt, ...)
{
    va_list ap;
    unsigned long code = ERR_get_error();
    size_t used;

    if (err != NULL) {
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        used = strlen(err->msg);
        if (code != 0 && used + 3 < sizeof(err->msg)) {
            memcpy(err->msg + used, ": ", 3);
            ERR_error_string_n(code, err->msg + used + 2,
                               sizeof(err->msg) - used - 2);
        }
    }
    ERR_clear_error();
    return -1;
}
