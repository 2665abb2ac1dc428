/* Reads postseal.conf with libinih: this file feeds inih one normalised
 * line at a time, dispatches each entry, and turns the first problem into
 * one "file:line: reason" error. */
#include "conf/conf.h"

#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_int.h"
#include "base/textfile.h"

/* Where the reader is in the text, and the first error seen (err_line 0:
 * none yet). inih calls the handler for a line before it reads the next,
 * so lineno is also the line of the entry being handled. */
typedef struct ps_conf_state {
    ps_conf *conf;
    const char *p, *end;
    int lineno;
    int entries;
    int err_line;
    ps_err err;
} ps_conf_state;

__attribute__((format(printf, 2, 3))) static int
ps_conf_fail(ps_conf_state *st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(st->err.msg, sizeof(st->err.msg), fmt, ap);
    va_end(ap);
    st->err_line = st->lineno;
    return -1;
}

static int ps_conf_check_bytes(ps_conf_state *st, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return ps_conf_fail(st, "control character 0x%02x in line", c);
    }
    return 0;
}

/* A comment starts with '#' or ';' at the start of a line or after a
 * space or tab, so "a;b" stays a value and "x = 1  # note" loses the note. */
static void ps_conf_strip(char *buf)
{
    size_t lead = strspn(buf, " \t"), n;

    memmove(buf, buf + lead, strlen(buf + lead) + 1);
    for (size_t i = 0; buf[i] != '\0'; i++)
        if ((buf[i] == '#' || buf[i] == ';') &&
            (i == 0 || buf[i - 1] == ' ' || buf[i - 1] == '\t')) {
            buf[i] = '\0';
            break;
        }
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = '\0';
}

static int ps_conf_check_section(ps_conf_state *st, char *line)
{
    size_t n = strlen(line);

    if (n < 2 || line[n - 1] != ']' || strchr(line, ']') != line + n - 1)
        return ps_conf_fail(st, "a section header is '[name]' alone on its "
                                "line");
    line[n - 1] = '\0';
    if (!ps_conf_section_known(line + 1))
        return ps_conf_fail(st, "unknown section '[" PS_CONF_ECHO "]'",
                            line + 1);
    if (strcmp(line + 1, "suppression") == 0 && !st->conf->suppression.seen) {
        st->conf->suppression.seen = 1; /* on, unless mode says off */
        st->conf->suppression.mode = PS_SUPP_REFUSE;
    }
    if (strcmp(line + 1, "policyd") == 0 || strcmp(line + 1, "limits") == 0 ||
        strcmp(line + 1, "suppression") == 0)
        st->conf->uses_policyd = 1;
    else if (strcmp(line + 1, "events") != 0 && /* [events]: both read it */
             !ps_conf_endpoint_section(line + 1))
        st->conf->uses_milter = 1; /* [milter], [keys], [signing], ... */
    line[n - 1] = ']';
    return 0;
}

/* inih also splits at ':', which would cut "sasl_username:app = ..." in
 * the wrong place: hide the colons of the key (control bytes are refused
 * in input, so \x01 is free) and restore them in the handler. */
static void ps_conf_hide_colons(char *line)
{
    char *eq = strchr(line, '=');

    for (char *c = line; *c != '\0' && c != eq; c++)
        if (*c == ':')
            *c = '\x01';
}

/* Brings one line into inih's buffer in a form whose meaning no inih
 * build option can change: no leading blanks (which inih would take for
 * a continuation of the previous value), comments gone, sections
 * checked, key colons hidden. */
static int ps_conf_clean(ps_conf_state *st, const char *s, size_t n, char *buf,
                         int num)
{
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (n > PS_CONF_MAX_LINE || n + 3 > (size_t)num)
        return ps_conf_fail(st, "line longer than %d bytes",
                            num - 3 < PS_CONF_MAX_LINE ? num - 3
                                                       : PS_CONF_MAX_LINE);
    if (ps_conf_check_bytes(st, s, n) != 0)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    ps_conf_strip(buf);
    if (buf[0] == '[')
        return ps_conf_check_section(st, buf);
    ps_conf_hide_colons(buf);
    return 0;
}

static char *ps_conf_read_line(char *buf, int num, void *stream)
{
    ps_conf_state *st = stream;
    const char *s = st->p, *nl;
    size_t n;

    if (st->err_line != 0 || s >= st->end)
        return NULL;
    nl = memchr(s, '\n', (size_t)(st->end - s));
    n = nl != NULL ? (size_t)(nl - s) : (size_t)(st->end - s);
    st->p = nl != NULL ? nl + 1 : st->end;
    st->lineno++;
    return ps_conf_clean(st, s, n, buf, num) == 0 ? buf : NULL;
}

static int ps_conf_take_key(ps_conf_state *st, const char *name, char *key)
{
    size_t n = strlen(name);

    if (n == 0)
        return ps_conf_fail(st, "missing key before '='");
    if (n > PS_CONF_MAX_NAME)
        return ps_conf_fail(st, "key longer than %d bytes", PS_CONF_MAX_NAME);
    for (size_t i = 0; i <= n; i++)
        key[i] = name[i] == '\x01' ? ':' : name[i];
    if (strpbrk(key, " \t") != NULL)
        return ps_conf_fail(st, "spaces in key '" PS_CONF_ECHO "'", key);
    return 0;
}

static int ps_conf_entry(ps_conf_state *st, const char *section,
                         const char *name, const char *value)
{
    char key[PS_CONF_MAX_NAME + 1];

    if (++st->entries > PS_CONF_MAX_ENTRIES)
        return ps_conf_fail(st, "more than %d entries", PS_CONF_MAX_ENTRIES);
    if (ps_conf_take_key(st, name, key) != 0)
        return -1;
    if (strlen(value) > PS_CONF_MAX_VALUE)
        return ps_conf_fail(st, "value of '%s' longer than %d bytes", key,
                            PS_CONF_MAX_VALUE);
    if (*section == '\0')
        return ps_conf_fail(st, "'%s' comes before any [section]", key);
    if (ps_conf_set(st->conf, section, key, value, st->lineno, &st->err) != 0) {
        st->err_line = st->lineno;
        return -1;
    }
    return 0;
}

/* inih's handler: nonzero means the entry was accepted. */
static int ps_conf_on_entry(void *user, const char *section, const char *name,
                            const char *value)
{
    ps_conf_state *st = user;

    if (st->err_line != 0)
        return 0;
    return ps_conf_entry(st, section, name, value) == 0;
}

/* The first error wins: inih's own (a line that is neither a section nor
 * key = value) when it comes before the first one recorded here. */
static int ps_conf_settle(ps_conf_state *st, int rc)
{
    if (rc > 0 && (st->err_line == 0 || rc < st->err_line)) {
        st->err_line = rc;
        snprintf(st->err.msg, sizeof(st->err.msg),
                 "expected 'key = value', '[section]' or a comment");
    } else if (rc < 0 && st->err_line == 0) {
        st->err_line = st->lineno;
        snprintf(st->err.msg, sizeof(st->err.msg), "out of memory");
    }
    return st->err_line != 0 ? -1 : 0;
}

/* Debian's libinih reads into a buffer of ini_max_line bytes, a
 * process-wide setting of 200 that would cut longer lines in two. Raise
 * it, never lower it; the reader checks each line against the size inih
 * actually passes, so a line can never be split whatever the setting. */
static void ps_conf_widen_lines(void)
{
    if (ini_max_line < PS_CONF_MAX_LINE + 3)
        ini_max_line = PS_CONF_MAX_LINE + 3;
}

static ps_conf *ps_conf_new(const char *name, ps_err *err)
{
    ps_conf *conf = calloc(1, sizeof(*conf));

    if (conf == NULL || (conf->path = strdup(name)) == NULL) {
        free(conf);
        ps_err_set(err, "%s: out of memory", name);
        return NULL;
    }
    if (ps_conf_defaults(conf, err) != 0) {
        ps_conf_free(conf);
        return NULL;
    }
    return conf;
}

int ps_conf_parse(const char *text, size_t len, const char *name, ps_conf **out,
                  ps_err *err)
{
    ps_conf_state st = {.conf = NULL};
    int rc;

    *out = NULL;
    if (text == NULL) {
        text = "";
        len = 0;
    }
    if (name == NULL)
        name = "postseal.conf";
    if (len > PS_CONF_MAX_FILE)
        return ps_err_set(err, "%s: larger than %d bytes", name,
                          PS_CONF_MAX_FILE);
    if ((st.conf = ps_conf_new(name, err)) == NULL)
        return -1;
    st.p = text;
    st.end = text + len;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        st.p += 3; /* a UTF-8 byte order mark some editors add */
    ps_conf_widen_lines();
    rc = ini_parse_stream(ps_conf_read_line, &st, ps_conf_on_entry, &st);
    if (ps_conf_settle(&st, rc) != 0 ||
        ps_conf_check_refs(st.conf, &st.err_line, &st.err) != 0) {
        ps_err_set(err, "%s:%d: %s", name, st.err_line, st.err.msg);
        ps_conf_free(st.conf);
        return -1;
    }
    *out = st.conf;
    return 0;
}

/* The whole file in memory (it is small and bounded), so parsing and
 * error reporting share one path with ps_conf_parse. */
int ps_conf_load(const char *path, ps_conf **out, ps_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (ps_textfile_read(path, PS_CONF_MAX_FILE, &buf, &len, err) != 0) {
        free(buf);
        return -1;
    }
    rc = ps_conf_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

void ps_conf_free(ps_conf *conf)
{
    if (conf == NULL)
        return;
    ps_conf_free_fields(conf);
    ps_conf_free_lists(conf);
    ps_conf_free_endpoints(conf);
    free(conf->path);
    free(conf);
}
