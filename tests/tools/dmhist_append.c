/* Benchmark, not a test: what [milter] dmarc_history adds to each inbound
 * message, i.e. ps_dmhist_append (format, one O_APPEND write, fsync) of a
 * typical record, N times into DIR. Usage: dmhist_append DIR [N]. Prints
 * the mean time per record; the disk's fsync dominates it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dmarc/history.h"

int main(int argc, char **argv)
{
    ps_dmhist h;
    ps_err err = {""};
    struct timespec a, b;
    int n = argc > 2 ? atoi(argv[2]) : 1000;

    if (argc < 2 || n <= 0) {
        fprintf(stderr, "usage: dmhist_append DIR [N]\n");
        return 2;
    }
    memset(&h, 0, sizeof(h));
    h.when = time(NULL);
    h.source_ip = "192.0.2.7";
    h.header_from = h.envelope_from = h.spf_domain = "example.com";
    h.policy_domain = "example.com";
    h.spf = PS_DMHIST_PASS;
    h.rua = "mailto:dmarc@example.com";
    h.policy.pct = 100;
    h.pass = h.dkim_aligned = h.spf_aligned = 1;
    h.dkim[0] = (ps_dmhist_dkim){"example.com", "s2026r", PS_DMHIST_PASS};
    h.ndkim = 1;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++)
        if (ps_dmhist_append(argv[1], &h, &err) != 0) {
            fprintf(stderr, "dmhist_append: %s\n", err.msg);
            return 1;
        }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%d records: %.1f us each\n", n,
           ((double)(b.tv_sec - a.tv_sec) * 1e9 +
            (double)(b.tv_nsec - a.tv_nsec)) /
               n / 1e3);
    return 0;
}
