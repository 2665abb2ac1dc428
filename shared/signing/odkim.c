/* Reading OpenDKIM's KeyTable and SigningTable: one "key value" entry per
 * line, '#' comments, the value split per table. Every problem is
 * reported once as "file:line: reason" and refuses the whole table. */
#include "signing/odkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "dns/dnsname.h"
#include "base/textfile.h"

typedef int (*ps_odkim_line_fn)(void *table, char *key, char *value, int line,
                                ps_err *why);

static int ps_odkim_grow(void **arr, size_t n, size_t size)
{
    void *p;

    if (n != 0 && (n & (n - 1)) != 0)
        return 0;
    p = reallocarray(*arr, n != 0 ? 2 * n : 1, size);
    if (p == NULL)
        return -1;
    *arr = p;
    return 0;
}

static char *ps_odkim_trim(char *s)
{
    char *end;

    s += strspn(s, " \t");
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    return s;
}

/* Splits a line into its first word and the rest: 1, or 0 for a line
 * with nothing but blanks and a comment, or -1. */
static int ps_odkim_split(char *buf, char **key, char **value, ps_err *why)
{
    char *s;

    for (s = buf; *s != '\0'; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return ps_err_set(why, "control character 0x%02x in line",
                              (unsigned char)*s);
    if ((s = strchr(buf, '#')) != NULL)
        *s = '\0';
    s = ps_odkim_trim(buf);
    if (*s == '\0')
        return 0;
    *key = s;
    s += strcspn(s, " \t");
    if (*s != '\0')
        *s++ = '\0';
    *value = ps_odkim_trim(s);
    if (**value == '\0')
        return ps_err_set(why, "'%.80s' has no value", *key);
    return 1;
}

/* One line into buf: 0, or -1 with the reason in why. */
static int ps_odkim_take_line(const char **p, const char *end, char *buf,
                              ps_err *why)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl != NULL ? (size_t)(nl - *p) : (size_t)(end - *p);
    const char *s = *p;

    *p = nl != NULL ? nl + 1 : end;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (n > PS_ODKIM_MAX_LINE)
        return ps_err_set(why, "line longer than %d bytes", PS_ODKIM_MAX_LINE);
    if (memchr(s, '\0', n) != NULL)
        return ps_err_set(why, "NUL byte in line");
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

static int ps_odkim_each_line(const char *text, size_t len, const char *name,
                              void *table, ps_odkim_line_fn fn, ps_err *err)
{
    char buf[PS_ODKIM_MAX_LINE + 1], *key = NULL, *value = NULL;
    const char *p = text, *end = text + len;
    int line = 0, rc;
    size_t entries = 0;
    ps_err why = {""};

    if (len > PS_ODKIM_MAX_FILE)
        return ps_err_set(err, "%s: larger than %d bytes", name,
                          PS_ODKIM_MAX_FILE);
    while (p < end) {
        line++;
        if (ps_odkim_take_line(&p, end, buf, &why) != 0 ||
            (rc = ps_odkim_split(buf, &key, &value, &why)) < 0)
            return ps_err_set(err, "%s:%d: %s", name, line, why.msg);
        if (rc == 0)
            continue;
        if (++entries > PS_ODKIM_MAX_ENTRIES)
            return ps_err_set(err, "%s:%d: more than %d entries", name, line,
                              PS_ODKIM_MAX_ENTRIES);
        if (fn(table, key, value, line, &why) != 0)
            return ps_err_set(err, "%s:%d: %s", name, line, why.msg);
    }
    return 0;
}

/* "domain:selector:/path/to/key"; the path may itself hold ':'. */
static int ps_odkim_key_fields(char *value, char *f[3], ps_err *why)
{
    char *c1 = strchr(value, ':'),
         *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;

    if (c2 == NULL)
        return ps_err_set(why, "expected 'domain:selector:keyfile'");
    *c1 = *c2 = '\0';
    f[0] = value;
    f[1] = c1 + 1;
    f[2] = c2 + 1;
    return 0;
}

static int ps_odkim_check_key(char *const f[3], ps_err *why)
{
    ps_err sub = {""};

    if (strcmp(f[0], "%") != 0 && ps_dnsname_check_domain(f[0], &sub) != 0)
        return ps_err_set(why, "bad domain: %s", sub.msg);
    if (ps_dnsname_check_selector(f[1], &sub) != 0)
        return ps_err_set(why, "bad selector: %s", sub.msg);
    if (f[2][0] != '/')
        return ps_err_set(why,
                          "key '%.80s' must be an absolute file path "
                          "(inline key data is not supported)",
                          f[2]);
    if (strpbrk(f[2], " \t") != NULL)
        return ps_err_set(why, "spaces in key file path");
    return 0;
}

static int ps_odkim_dup4(char **dst[4], char *const src[4], ps_err *why)
{
    for (int i = 0; i < 4; i++)
        if ((*dst[i] = strdup(src[i])) == NULL) {
            while (i-- > 0)
                free(*dst[i]);
            return ps_err_set(why, "out of memory");
        }
    return 0;
}

static int ps_odkim_add_key(void *table, char *key, char *value, int line,
                            ps_err *why)
{
    ps_odkim_keytable *kt = table;
    ps_odkim_key k = {.line = line};
    char *f[3] = {NULL, NULL, NULL};

    if (ps_odkim_key_fields(value, f, why) != 0 ||
        ps_odkim_check_key(f, why) != 0)
        return -1;
    if (ps_odkim_grow((void **)&kt->keys, kt->count, sizeof(k)) != 0)
        return ps_err_set(why, "out of memory");
    if (ps_odkim_dup4((char **[4]){&k.name, &k.domain, &k.selector, &k.keyfile},
                      (char *const[4]){key, f[0], f[1], f[2]}, why) != 0)
        return -1;
    kt->keys[kt->count++] = k;
    return 0;
}

static int ps_odkim_add_entry(void *table, char *key, char *value, int line,
                              ps_err *why)
{
    ps_odkim_signtable *st = table;
    ps_odkim_entry e = {.line = line};

    if (strpbrk(value, " \t") != NULL)
        return ps_err_set(why, "expected 'pattern keyname', got more words");
    if (strlen(key) > PS_ODKIM_MAX_MATCH)
        return ps_err_set(why, "pattern longer than %d bytes",
                          PS_ODKIM_MAX_MATCH);
    if (ps_odkim_grow((void **)&st->entries, st->count, sizeof(e)) != 0)
        return ps_err_set(why, "out of memory");
    e.pattern = strdup(key);
    e.keyname = strdup(value);
    if (e.pattern == NULL || e.keyname == NULL) {
        free(e.pattern);
        free(e.keyname);
        return ps_err_set(why, "out of memory");
    }
    st->entries[st->count++] = e;
    return 0;
}

static int ps_odkim_cmp_key(const void *a, const void *b)
{
    return strcmp((*(ps_odkim_key *const *)a)->name,
                  (*(ps_odkim_key *const *)b)->name);
}

/* Sorting finds repeated names in n log n and gives lookups a bsearch. */
static int ps_odkim_index(ps_odkim_keytable *kt, const char *name, ps_err *err)
{
    ps_odkim_key *const *v;

    kt->by_name = calloc(kt->count + 1, sizeof(*kt->by_name));
    if (kt->by_name == NULL)
        return ps_err_set(err, "%s: out of memory", name);
    for (size_t i = 0; i < kt->count; i++)
        kt->by_name[i] = &kt->keys[i];
    qsort(kt->by_name, kt->count, sizeof(*v), ps_odkim_cmp_key);
    v = kt->by_name;
    for (size_t i = 1; i < kt->count; i++)
        if (strcmp(v[i]->name, v[i - 1]->name) == 0)
            return ps_err_set(
                err,
                "%s:%d: key name '%.80s' repeated (first "
                "on line %d)",
                name, v[i]->line > v[i - 1]->line ? v[i]->line : v[i - 1]->line,
                v[i]->name,
                v[i]->line < v[i - 1]->line ? v[i]->line : v[i - 1]->line);
    return 0;
}

int ps_odkim_keytable_parse(const char *text, size_t len, const char *name,
                            ps_odkim_keytable **out, ps_err *err)
{
    ps_odkim_keytable *kt = calloc(1, sizeof(*kt));

    *out = NULL;
    if (kt == NULL || (kt->path = strdup(name)) == NULL) {
        free(kt);
        return ps_err_set(err, "%s: out of memory", name);
    }
    if (ps_odkim_each_line(text, len, name, kt, ps_odkim_add_key, err) != 0 ||
        ps_odkim_index(kt, name, err) != 0) {
        ps_odkim_keytable_free(kt);
        return -1;
    }
    *out = kt;
    return 0;
}

int ps_odkim_signtable_parse(const char *text, size_t len, const char *name,
                             int refile, ps_odkim_signtable **out, ps_err *err)
{
    ps_odkim_signtable *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL || (st->path = strdup(name)) == NULL) {
        free(st);
        return ps_err_set(err, "%s: out of memory", name);
    }
    st->refile = refile != 0;
    if (ps_odkim_each_line(text, len, name, st, ps_odkim_add_entry, err) != 0) {
        ps_odkim_signtable_free(st);
        return -1;
    }
    *out = st;
    return 0;
}

/* "file:PATH", "refile:PATH" or "PATH" (the config's one parser of
 * that spelling), read whole. */
static int ps_odkim_read(const char *spec, const char **path, int *refile,
                         char **buf, size_t *len, ps_err *err)
{
    ps_conf_table_spec(spec, path, refile);
    return ps_textfile_read(*path, PS_ODKIM_MAX_FILE, buf, len, err);
}

int ps_odkim_keytable_load(const char *spec, ps_odkim_keytable **out,
                           ps_err *err)
{
    const char *path;
    char *buf;
    size_t len;
    int refile, rc = -1;

    *out = NULL;
    if (ps_odkim_read(spec, &path, &refile, &buf, &len, err) != 0)
        return -1;
    if (refile)
        ps_err_set(err, "%s: a KeyTable cannot be a refile:", path);
    else
        rc = ps_odkim_keytable_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

int ps_odkim_signtable_load(const char *spec, ps_odkim_signtable **out,
                            ps_err *err)
{
    const char *path;
    char *buf;
    size_t len;
    int refile, rc;

    *out = NULL;
    if (ps_odkim_read(spec, &path, &refile, &buf, &len, err) != 0)
        return -1;
    rc = ps_odkim_signtable_parse(buf, len, path, refile, out, err);
    free(buf);
    return rc;
}

void ps_odkim_keytable_free(ps_odkim_keytable *kt)
{
    if (kt == NULL)
        return;
    for (size_t i = 0; i < kt->count; i++) {
        free(kt->keys[i].name);
        free(kt->keys[i].domain);
        free(kt->keys[i].selector);
        free(kt->keys[i].keyfile);
    }
    free(kt->keys);
    free(kt->by_name);
    free(kt->path);
    free(kt);
}

void ps_odkim_signtable_free(ps_odkim_signtable *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->count; i++) {
        free(st->entries[i].pattern);
        free(st->entries[i].keyname);
    }
    free(st->entries);
    free(st->path);
    free(st);
}
