/* OpenDKIM's KeyTable and SigningTable files, read as they are, so a site
 * can move from opendkim without rewriting them: "file:" (or a bare path)
 * tables of exact keys and "refile:" tables of '*' patterns. */
#ifndef PS_ODKIM_H
#define PS_ODKIM_H

#include <stddef.h>

#include "base/err.h"

#define PS_ODKIM_MAX_FILE    (1024 * 1024)
#define PS_ODKIM_MAX_LINE    4096
#define PS_ODKIM_MAX_ENTRIES 10000
#define PS_ODKIM_MAX_MATCH   512 /* longest address matched */

typedef struct ps_odkim_key { /* KeyTable: name domain:selector:keyfile */
    char *name;
    char *domain; /* "%": the From domain of each message */
    char *selector;
    char *keyfile;
    int line;
} ps_odkim_key;

typedef struct ps_odkim_keytable {
    char *path;
    ps_odkim_key *keys; /* in file order */
    size_t count;
    ps_odkim_key **by_name; /* the same, sorted by name for lookups */
} ps_odkim_keytable;

typedef struct ps_odkim_entry { /* SigningTable: pattern keyname */
    char *pattern;
    char *keyname;
    int line;
} ps_odkim_entry;

typedef struct ps_odkim_signtable {
    char *path;
    int refile; /* patterns with '*' wildcards, tried in file order */
    ps_odkim_entry *entries;
    size_t count;
} ps_odkim_signtable;

/* Parse a table from a buffer; name stands for the file in messages,
 * which read "name:line: reason". */
int ps_odkim_keytable_parse(const char *text, size_t len, const char *name,
                            ps_odkim_keytable **out, ps_err *err);
int ps_odkim_signtable_parse(const char *text, size_t len, const char *name,
                             int refile, ps_odkim_signtable **out, ps_err *err);

/* Load from OpenDKIM's data set names: "file:PATH" or "PATH" for both,
 * "refile:PATH" for the SigningTable. */
int ps_odkim_keytable_load(const char *spec, ps_odkim_keytable **out,
                           ps_err *err);
int ps_odkim_signtable_load(const char *spec, ps_odkim_signtable **out,
                            ps_err *err);

/* The KeyTable entry called name (case-sensitive, as OpenDKIM), or NULL. */
const ps_odkim_key *ps_odkim_keytable_find(const ps_odkim_keytable *kt,
                                           const char *name);

/* The entries that apply to the address local@domain (local may be NULL
 * or empty: the domain alone). A plain table tries "local@domain", then
 * "domain"; a refile table takes the first pattern that matches
 * "local@domain" (or "domain"), case-insensitively. Either way every
 * entry with that same key (the same pattern) applies, in file order, so
 * two lines for one address name an RSA and an Ed25519 key. Up to max
 * entries go to found; returns how many. */
size_t ps_odkim_signtable_match(const ps_odkim_signtable *st, const char *local,
                                const char *domain,
                                const ps_odkim_entry **found, size_t max);

/* '*' matches any run of bytes; everything else matches itself, ASCII
 * case ignored. Exposed for tests. */
int ps_odkim_glob(const char *pattern, const char *text);

void ps_odkim_keytable_free(ps_odkim_keytable *kt);
void ps_odkim_signtable_free(ps_odkim_signtable *st);

#endif
