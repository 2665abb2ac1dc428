/* Benchmark, not a test: the bare-crypto floor of signing one message,
 * i.e. SHA-256 of the body plus one signature over a ~1 KB header block
 * with the same key (RSA: rsa-sha256; Ed25519: the 32-byte SHA-256 of the
 * block, as RFC 8463 signs). No canonicalisation, no parsing, no I/O:
 * what any DKIM signer must spend at least.
 *
 * Usage: crypto_bench KEY.pem (--message FILE | --body-bytes N) [--messages N]
 *                     [--threads T]
 * Prints one key=value line with the CPU microseconds per message
 * (CLOCK_PROCESS_CPUTIME_ID, so other load on the machine does not count).
 * --threads T signs on T threads at once, N messages each, with the same
 * key: the floor for a milter serving T connections at once, whose
 * signatures share the CPUs (two vCPUs that are one core's hyperthreads
 * sign RSA ~30% slower each when both do). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "crypto/keys.h"

#define HEADER_BLOCK 1024

static void die(const char *msg)
{
    fprintf(stderr, "crypto_bench: %s\n", msg);
    exit(2);
}

/* The body of a message file: what follows the first empty line. The
 * milters hash the same bytes (after canonicalisation, which costs more,
 * not less). */
static unsigned char *load_body(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, n = 0, r;
    unsigned char *p = malloc(cap), *b;

    if (f == NULL || p == NULL)
        die(strerror(errno));
    while ((r = fread(p + n, 1, cap - n, f)) > 0)
        if ((n += r) == cap && (p = realloc(p, cap *= 2)) == NULL)
            die("out of memory");
    fclose(f);
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == '\n' &&
            (p[i + 1] == '\n' ||
             (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n'))) {
            size_t start = i + (p[i + 1] == '\n' ? 2 : 3);
            if ((b = malloc(n - start + 1)) == NULL)
                die("out of memory");
            memcpy(b, p + start, n - start);
            *len = n - start;
            free(p);
            return b;
        }
    }
    die("no empty line ends the header section");
    return NULL;
}

/* Text lines, like a message body, when no message file is given. */
static unsigned char *make_body(size_t len)
{
    static const char line[] =
        "The quick brown fox jumps over the lazy dog, 0123456789 abcdef.\r\n";
    unsigned char *b = malloc(len + 1);

    if (b == NULL)
        die("out of memory");
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)line[i % (sizeof(line) - 1)];
    return b;
}

/* One message's worth of crypto; the signature goes to sig. */
static void one(EVP_PKEY *pk, int ed, const unsigned char *body, size_t blen,
                const unsigned char *hdr, unsigned char *sig, size_t *slen)
{
    unsigned char bh[EVP_MAX_MD_SIZE], hh[EVP_MAX_MD_SIZE];
    unsigned int bhl, hhl;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (ctx == NULL || !EVP_Digest(body, blen, bh, &bhl, EVP_sha256(), NULL))
        die("SHA-256 failed");
    if (ed) {
        /* RFC 8463: Ed25519 (pure) over the SHA-256 of the header block. */
        if (!EVP_Digest(hdr, HEADER_BLOCK, hh, &hhl, EVP_sha256(), NULL) ||
            EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) != 1 ||
            EVP_DigestSign(ctx, sig, slen, hh, hhl) != 1)
            die("Ed25519 signature failed");
    } else if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) != 1 ||
               EVP_DigestSign(ctx, sig, slen, hdr, HEADER_BLOCK) != 1) {
        die("RSA signature failed");
    }
    EVP_MD_CTX_free(ctx);
}

static double cpu_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* What each signing thread does: n messages with the same inputs. */
typedef struct {
    const ps_key *key;
    const unsigned char *body, *hdr;
    size_t blen;
    long n;
} bench_job;

static void *sign_many(void *arg)
{
    const bench_job *j = arg;
    int ed = ps_key_type_of(j->key) == PS_KEY_ED25519;
    unsigned char sig[1024];
    size_t slen;

    for (long i = 0; i < j->n; i++) {
        slen = sizeof(sig);
        one(ps_key_evp(j->key), ed, j->body, j->blen, j->hdr, sig, &slen);
    }
    return NULL;
}

/* CPU seconds of the whole process for threads x job->n messages. */
static double run_threads(bench_job *job, int threads)
{
    pthread_t t[64];
    double t0 = cpu_now();

    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, sign_many, job) != 0)
            die("cannot start a thread");
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return cpu_now() - t0;
}

int main(int argc, char **argv)
{
    const char *keyfile = NULL, *file = NULL;
    long n = 1000, bytes = -1;
    int threads = 1;
    unsigned char *body, hdr[HEADER_BLOCK];
    size_t blen;
    ps_key *key = NULL;
    ps_err err;
    bench_job job;
    double spent;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            puts(
                "usage: crypto_bench KEY.pem (--message FILE | --body-bytes N) "
                "[--messages N] [--threads T]");
            return 0;
        }
        if (strcmp(argv[i], "--message") == 0 && i + 1 < argc)
            file = argv[++i];
        else if (strcmp(argv[i], "--body-bytes") == 0 && i + 1 < argc)
            bytes = atol(argv[++i]);
        else if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc)
            n = atol(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (keyfile == NULL && argv[i][0] != '-')
            keyfile = argv[i];
        else
            die("bad usage (see --help)");
    }
    if (keyfile == NULL || n < 1 || threads < 1 || threads > 64 ||
        (file == NULL && bytes < 0))
        die("bad usage (see --help)");
    if (ps_key_load(keyfile, &key, &err) != 0)
        die(err.msg);
    body =
        file != NULL ? load_body(file, &blen) : make_body(blen = (size_t)bytes);
    for (size_t i = 0; i < sizeof(hdr); i++)
        hdr[i] = (unsigned char)("abcdefghijklmnopqrstuvwxyz: ;=\r\n"[i % 33]);
    job = (bench_job){key, body, hdr, blen, 1};
    run_threads(&job, 1); /* warm-up */
    job.n = n;
    spent = run_threads(&job, threads);
    printf("algorithm=%s bits=%d body_bytes=%zu messages=%ld threads=%d "
           "cpu_us_per_msg=%.2f\n",
           ps_key_algorithm(key), ps_key_bits(key), blen, n * threads, threads,
           spent * 1e6 / (double)(n * threads));
    ps_key_free(key);
    free(body);
    return 0;
}
