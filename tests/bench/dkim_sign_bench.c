/* Benchmark, not a test: signs one message N times with the core, with
 * libopendkim as opendkim's milter does (dkim_sign() per message, given the
 * PEM text) and with the bare crypto alone (SHA-256 of the body plus one
 * signature per key), interleaved in one process so the ratios hold on a
 * shared machine. Build (needs libopendkim-dev; not part of `make all`):
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Ishared -I/usr/include/opendkim \
 *      tests/bench/dkim_sign_bench.c build/shared/libpostseal.a \
 *      -lopendkim -lssl -lcrypto -linih -lresolv -o build/dkim_sign_bench
 * Run: build/dkim_sign_bench KEY.pem N relaxed|simple < message */
#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dkim/dkim.h"
#include "crypto/keys.h"

#define MAX_FIELDS 200
#define CHUNK      65536

typedef struct bench {
    char *msg, *pem;
    size_t len, body, nf;
    size_t start[MAX_FIELDS], colon[MAX_FIELDS], end[MAX_FIELDS];
    ps_key *key;
    DKIM_LIB *lib;
    int simple;
} bench;

static char *slurp(FILE *f, size_t *len)
{
    size_t cap = 1 << 20, n;
    char *p = malloc(cap);

    *len = 0;
    while (p != NULL && (n = fread(p + *len, 1, cap - *len - 1, f)) > 0) {
        *len += n;
        if (*len + 1 == cap)
            p = realloc(p, cap *= 2);
    }
    if (p == NULL)
        exit(2);
    p[*len] = '\0';
    return p;
}

/* Header fields as [start, colon) name and [colon+1, end) value, end at
 * the CRLF that closes the field; CRLF line ends assumed. */
static void split(bench *b)
{
    size_t i = 0;

    while (i + 1 < b->len && memcmp(b->msg + i, "\r\n", 2) != 0 &&
           b->nf < MAX_FIELDS) {
        char *e = strstr(b->msg + i, "\r\n");
        size_t end;
        while (e != NULL && (e[2] == ' ' || e[2] == '\t'))
            e = strstr(e + 2, "\r\n");
        end = e != NULL ? (size_t)(e - b->msg) : b->len;
        b->start[b->nf] = i;
        b->colon[b->nf] = (size_t)(strchr(b->msg + i, ':') - b->msg);
        b->end[b->nf++] = end;
        i = end + 2;
    }
    b->body = i + 2 <= b->len ? i + 2 : b->len;
}

static void run_core(bench *b)
{
    ps_dkim_params p = {b->simple ? PS_CANON_SIMPLE : PS_CANON_RELAXED,
                        b->simple ? PS_CANON_SIMPLE : PS_CANON_RELAXED,
                        NULL,
                        0,
                        NULL,
                        0,
                        0};
    ps_dkim_signer sg = {b->key, "example.com", "bench"};
    ps_err err;
    ps_dkim_sign *s = ps_dkim_sign_new(&p, &sg, 1, time(NULL), &err);
    char **v, name[256], *value;
    size_t n;

    for (size_t i = 0; i < b->nf; i++) {
        size_t nl = b->colon[i] - b->start[i];
        memcpy(name, b->msg + b->start[i], nl < 255 ? nl : 255);
        name[nl < 255 ? nl : 255] = '\0';
        value = strndup(b->msg + b->colon[i] + 1, b->end[i] - b->colon[i] - 1);
        ps_dkim_sign_header(s, name, value, &err);
        free(value);
    }
    for (size_t off = b->body; off < b->len; off += CHUNK)
        ps_dkim_sign_body(s, (uint8_t *)b->msg + off,
                          b->len - off < CHUNK ? b->len - off : CHUNK, &err);
    if (ps_dkim_sign_final(s, &v, &n, &err) != 0) {
        fprintf(stderr, "core: %s\n", err.msg);
        exit(1);
    }
    free(v[0]);
    free(v);
    ps_dkim_sign_free(s);
}

static void run_opendkim(bench *b)
{
    DKIM_STAT st;
    unsigned char hdr[8192];
    DKIM *d = dkim_sign(
        b->lib, (unsigned char *)"bench", NULL, (dkim_sigkey_t)b->pem,
        (unsigned char *)"bench", (unsigned char *)"example.com",
        b->simple ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED,
        b->simple ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED,
        ps_key_type_of(b->key) == PS_KEY_RSA ? DKIM_SIGN_RSASHA256
                                             : DKIM_SIGN_ED25519SHA256,
        -1, &st);

    if (d == NULL) {
        fprintf(stderr, "dkim_sign: %d\n", st);
        exit(1);
    }
    for (size_t i = 0; i < b->nf; i++)
        dkim_header(d, (u_char *)b->msg + b->start[i], b->end[i] - b->start[i]);
    dkim_eoh(d);
    for (size_t off = b->body; off < b->len; off += CHUNK)
        dkim_body(d, (u_char *)b->msg + off,
                  b->len - off < CHUNK ? b->len - off : CHUNK);
    if (dkim_eom(d, NULL) != DKIM_STAT_OK ||
        dkim_getsighdr(d, hdr, sizeof(hdr), 16) != DKIM_STAT_OK) {
        fprintf(stderr, "opendkim: %s\n", dkim_geterror(d));
        exit(1);
    }
    dkim_free(d);
}

static void run_bare(bench *b)
{
    uint8_t md[EVP_MAX_MD_SIZE], sig[1024];
    unsigned int mdlen;
    size_t siglen = sizeof(sig);
    int rsa = ps_key_type_of(b->key) == PS_KEY_RSA;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    EVP_Digest(b->msg + b->body, b->len - b->body, md, &mdlen, EVP_sha256(),
               NULL);
    EVP_DigestSignInit(ctx, NULL, rsa ? EVP_sha256() : NULL, NULL,
                       ps_key_evp(b->key));
    if (rsa)
        EVP_DigestSign(ctx, sig, &siglen, (uint8_t *)b->msg, b->body);
    else
        EVP_DigestSign(ctx, sig, &siglen, md, mdlen);
    EVP_MD_CTX_free(ctx);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    void (*run[3])(bench *) = {run_core, run_opendkim, run_bare};
    static const char *const names[3] = {"postseal", "opendkim", "bare_crypto"};
    double total[3] = {0, 0, 0}, t;
    bench b = {0};
    ps_err err;
    FILE *f;
    long n;

    if (argc != 4 || (n = atol(argv[2])) <= 0)
        return fputs("usage: dkim_sign_bench KEY.pem N relaxed|simple "
                     "< message\n",
                     stderr),
               2;
    if (ps_key_load(argv[1], &b.key, &err) != 0)
        return fprintf(stderr, "%s\n", err.msg), 2;
    if ((f = fopen(argv[1], "r")) == NULL)
        return 2;
    b.pem = slurp(f, &b.len);
    fclose(f);
    b.msg = slurp(stdin, &b.len);
    b.simple = strcmp(argv[3], "simple") == 0;
    b.lib = dkim_init(NULL, NULL);
    split(&b);
    for (long i = 0; i < n; i++) /* interleaved: same machine state */
        for (int k = 0; k < 3; k++) {
            t = now();
            run[k](&b);
            total[k] += now() - t;
        }
    printf("messages %ld size %zu fields %zu key %s canon %s\n", n, b.len, b.nf,
           ps_key_algorithm(b.key), argv[3]);
    for (int k = 0; k < 3; k++)
        printf("%s_us_per_msg %.1f\n", names[k], total[k] * 1e6 / (double)n);
    printf("postseal_over_bare %.3f\nopendkim_over_postseal %.3f\n",
           total[0] / total[2], total[1] / total[0]);
    return 0;
}
