/* libFuzzer target for shared/signing/odkim.c: the input is parsed as a
 * KeyTable and as plain and refile SigningTables; every entry accepted is well
 * formed, every key name found again, and lookups with addresses taken
 * from the input stay within bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signing/odkim.h"

static void check_keytable(const ps_odkim_keytable *kt)
{
    for (size_t i = 0; i < kt->count; i++) {
        const ps_odkim_key *k = &kt->keys[i];
        if (k->keyfile[0] != '/' || k->name[0] == '\0' ||
            ps_odkim_keytable_find(kt, k->name) != k)
            abort();
    }
}

static void check_lookups(const ps_odkim_signtable *st, const char *text)
{
    const ps_odkim_entry *found[4];
    size_t n;

    for (size_t i = 0; i < st->count && i < 16; i++) {
        n = ps_odkim_signtable_match(st, "user", st->entries[i].pattern, found,
                                     4);
        if (n > 4)
            abort();
        ps_odkim_signtable_match(st, NULL, st->entries[i].keyname, found, 4);
    }
    ps_odkim_signtable_match(st, text, "example.com", found, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    ps_odkim_keytable *kt = NULL;
    ps_odkim_signtable *st = NULL;
    ps_err err = {""};

    if (buf == NULL)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (ps_odkim_keytable_parse(buf, size, "KT", &kt, &err) == 0) {
        check_keytable(kt);
        ps_odkim_keytable_free(kt);
    } else if (kt != NULL || err.msg[0] == '\0') {
        abort();
    }
    for (int refile = 0; refile < 2; refile++) {
        if (ps_odkim_signtable_parse(buf, size, "ST", refile, &st, &err) != 0)
            continue;
        check_lookups(st, size < 300 ? buf : "x");
        ps_odkim_signtable_free(st);
    }
    free(buf);
    return 0;
}
