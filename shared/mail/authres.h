/* Authentication-Results header fields (RFC 8601): writing ours, with
 * every value from the message quoted so it cannot break the field, and
 * reading the authserv-id of existing ones to remove forgeries. */
#ifndef PS_AUTHRES_H
#define PS_AUTHRES_H

#include <stddef.h>

#include "base/err.h"

#define PS_AUTHRES_MAX_RESULTS                                                 \
    64                         /* method results in one field: above           \
                                * [milter] max_verify (50) + spf + dmarc */
#define PS_AUTHRES_MAX_PROPS 6 /* ptype.property=value per result */
#define PS_AUTHRES_ID_MAX    255

typedef struct ps_authres_prop {
    const char *name;  /* "header.d", "smtp.mailfrom" */
    const char *value; /* anything: quoted as needed */
} ps_authres_prop;

typedef struct ps_authres_result {
    const char *method;  /* "dkim", "spf" */
    const char *result;  /* "pass", "fail", "none", "temperror", ... */
    const char *reason;  /* NULL, or a few words: written reason="..." */
    const char *comment; /* NULL, or words without ( ) \\ : written (...) */
    ps_authres_prop props[PS_AUTHRES_MAX_PROPS];
    size_t nprops;
} ps_authres_result;

/* The field's value (what follows "Authentication-Results:"), leading
 * space included, one result per line folded with CRLF and a tab:
 * " mx.example.com;\r\n\tdkim=pass header.d=example.org ...". n == 0
 * writes "none". Malloc'd. */
int ps_authres_format(const char *authserv_id, const ps_authres_result *res,
                      size_t n, char **out, ps_err *err);

/* Reads the authserv-id that opens an existing field's value (comments
 * and folding skipped, a quoted-string unquoted) into id: 0, or -1 when
 * the value does not start with one. */
int ps_authres_authserv_id(const char *value, size_t len, char *id,
                           size_t idsize);

/* 1 when the field claims authserv_id (compared without regard to ASCII
 * case), so it must be removed from incoming mail; 0 otherwise. */
int ps_authres_is_ours(const char *value, size_t len, const char *authserv_id);

#endif
