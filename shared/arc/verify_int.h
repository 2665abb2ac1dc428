/* The state of one ARC verification shared by verify.c (collecting
 * the message) and chain.c (deciding on it). */
#ifndef PS_ARC_VERIFY_INT_H
#define PS_ARC_VERIFY_INT_H

#include "arc/arc_int.h"

/* One body hash per distinct (canonicalisation, l=) among the AMSs. */
typedef struct body_hash {
    ps_canon canon;
    uint64_t limit; /* UINT64_MAX: whole body */
    uint64_t taken;
    EVP_MD_CTX *md;
    ps_dkim_body body;
    uint8_t digest[PS_ARC_HASH_LEN];
} body_hash;

struct ps_arc_verify {
    ps_dkim_buf store; /* "name\0value\0" of every field */
    size_t *name_off, *value_off, *name_len, *value_len;
    size_t nfields, capfields;
    int overflow;
    ps_arc_header *hdrs;
    ps_arc_sets *sets;
    body_hash hashes[PS_ARC_MAX_INSTANCES];
    int ams_hash[PS_ARC_MAX_INSTANCES]; /* index into hashes, -1: none */
    size_t nhashes;
    unsigned max_verify; /* signature checks allowed (ps_arc_verify_limit) */
};

#endif
