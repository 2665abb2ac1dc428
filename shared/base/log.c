/* One key=value line per event, to syslog or a stream. Everything is built
 * in a bounded stack buffer: values are quoted and escaped so no input can
 * forge a second line or a fake key, and secret-looking keys are redacted. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PS_LOG_LINE_MAX  2048 /* bytes in one line, "..." included */
#define PS_LOG_VALUE_MAX 512  /* bytes of one value before it is cut */
#define PS_LOG_IDENT_MAX 64

/* syslog's state (ident, facility, connection) lives in libc and is
 * process-wide: a handle only remembers that this process chose syslog.
 * Opening two syslog handles means the last openlog() wins. */
struct ps_log {
    char ident[PS_LOG_IDENT_MAX];
    FILE *fp; /* NULL: syslog */
    int min_prio;
    /* "ident[pid]: ", made once: getpid() per line was a system call per
     * line (glibc no longer caches it). The pid is the opener's: streams
     * are for the foreground, where nothing forks after opening the log
     * (syslog, used once detached, adds its own pid). */
    char prefix[PS_LOG_IDENT_MAX + 32];
    size_t prefix_len;
};

/* A line under construction; once full, every further byte is dropped and
 * the line ends with "..." (room for it is kept in reserve). */
typedef struct ps_log_buf {
    char text[PS_LOG_LINE_MAX];
    size_t len;
    int cut;
} ps_log_buf;

static const char *const ps_log_secret_words[] = {"secret", "password",
                                                  "private"};

static void ps_log_putc(ps_log_buf *b, char c)
{
    if (b->len + 4 >= sizeof(b->text)) {
        b->cut = 1;
        return;
    }
    b->text[b->len++] = c;
}

/* n bytes at once, the same as n ps_log_putc calls. */
static void ps_log_putn(ps_log_buf *b, const char *s, size_t n)
{
    size_t room =
        b->len + 4 < sizeof(b->text) ? sizeof(b->text) - 4 - b->len : 0;

    if (n > room) {
        n = room;
        b->cut = 1;
    }
    memcpy(b->text + b->len, s, n);
    b->len += n;
}

static void ps_log_puts(ps_log_buf *b, const char *s)
{
    while (*s != '\0')
        ps_log_putc(b, *s++);
}

static void ps_log_end(ps_log_buf *b)
{
    if (b->cut) {
        memcpy(b->text + b->len, "...", 3);
        b->len += 3;
    }
    b->text[b->len] = '\0';
}

static int ps_log_is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* A byte written escaped inside a value. */
static int ps_log_is_special(unsigned char c)
{
    return ps_log_is_ctl(c) || c == '"' || c == '\\';
}

/* Whether a value must be quoted to read back unambiguously. */
static int ps_log_needs_quotes(const char *v, size_t n)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == ' ' || c == '"' || c == '=' || c == '\\' || ps_log_is_ctl(c))
            return 1;
    }
    return 0;
}

/* Where to cut a value longer than the limit: never inside a UTF-8
 * sequence, so the line stays valid text. */
static size_t ps_log_cut_at(const char *v, size_t n)
{
    if (n <= PS_LOG_VALUE_MAX)
        return n;
    n = PS_LOG_VALUE_MAX;
    while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
        n--;
    return n;
}

static void ps_log_put_value(ps_log_buf *b, const char *v)
{
    static const char hex[] = "0123456789abcdef";
    size_t full = strlen(v), n = ps_log_cut_at(v, full);
    int quote = ps_log_needs_quotes(v, n);

    if (quote)
        ps_log_putc(b, '"');
    for (size_t i = 0; i < n;) {
        size_t plain = i;
        unsigned char c;
        /* the bytes that need no escape go in one copy */
        while (plain < n && !ps_log_is_special((unsigned char)v[plain]))
            plain++;
        ps_log_putn(b, v + i, plain - i);
        if ((i = plain) == n)
            break;
        c = (unsigned char)v[i++];
        if (c == '"' || c == '\\') {
            ps_log_putc(b, '\\');
            ps_log_putc(b, (char)c);
        } else {
            ps_log_puts(b, "\\x");
            ps_log_putc(b, hex[c >> 4]);
            ps_log_putc(b, hex[c & 0xf]);
        }
    }
    if (n < full)
        ps_log_puts(b, "...");
    if (quote)
        ps_log_putc(b, '"');
}

/* Keys come from our own code, but a stray byte in one must not break the
 * line's grammar either: anything but [A-Za-z0-9_.-] becomes '_'. */
static void ps_log_put_key(ps_log_buf *b, const char *k)
{
    for (; *k != '\0'; k++) {
        char c = *k;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        ps_log_putc(b, ok ? c : '_');
    }
}

/* ASCII only, as the keys are: no locale lookup per byte. */
static char ps_log_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Whether word (lower case) is in key, ignoring case. By hand: three
 * strcasestr calls per key were a tenth of the policy daemon's own
 * instructions (glibc's two-way search sets up a table for each call). */
static int ps_log_has_word(const char *key, const char *word)
{
    for (; *key != '\0'; key++) {
        size_t i = 0;
        while (word[i] != '\0' && ps_log_lower(key[i]) == word[i])
            i++;
        if (word[i] == '\0')
            return 1;
    }
    return 0;
}

static int ps_log_is_secret(const char *key)
{
    size_t n = sizeof(ps_log_secret_words) / sizeof(ps_log_secret_words[0]);

    for (size_t i = 0; i < n; i++)
        if (ps_log_has_word(key, ps_log_secret_words[i]))
            return 1;
    return 0;
}

static void ps_log_put_pair(ps_log_buf *b, const char *key, const char *value)
{
    ps_log_putc(b, ' ');
    ps_log_put_key(b, key);
    ps_log_putc(b, '=');
    if (ps_log_is_secret(key))
        ps_log_puts(b, "[redacted]");
    else if (value == NULL)
        ps_log_putc(b, '-');
    else
        ps_log_put_value(b, value);
}

static ps_log *ps_log_new(const char *ident, FILE *fp, int min_prio)
{
    ps_log *lg = calloc(1, sizeof(*lg));

    if (lg == NULL)
        return NULL;
    snprintf(lg->ident, sizeof(lg->ident), "%s",
             ident != NULL ? ident : "postseal");
    lg->fp = fp;
    lg->min_prio = LOG_PRI(min_prio);
    lg->prefix_len = (size_t)snprintf(lg->prefix, sizeof(lg->prefix),
                                      "%s[%ld]: ", lg->ident, (long)getpid());
    if (lg->prefix_len >= sizeof(lg->prefix)) /* cannot happen: 63 + 24 */
        lg->prefix_len = sizeof(lg->prefix) - 1;
    return lg;
}

ps_log *ps_log_open(const char *ident, int to_stderr, int facility,
                    int min_prio)
{
    ps_log *lg = ps_log_new(ident, to_stderr ? stderr : NULL, min_prio);

    /* openlog() keeps the ident pointer, so it must be ours and outlive
     * every syslog() call: lg->ident, released only by ps_log_close. */
    if (lg != NULL && !to_stderr)
        openlog(lg->ident, LOG_PID | LOG_NDELAY, facility);
    return lg;
}

ps_log *ps_log_open_stream(const char *ident, FILE *fp, int min_prio)
{
    if (fp == NULL)
        return NULL;
    return ps_log_new(ident, fp, min_prio);
}

void ps_log_close(ps_log *lg)
{
    if (lg == NULL)
        return;
    if (lg->fp == NULL)
        closelog();
    free(lg);
}

/* The whole line goes in one fwrite, so on an unbuffered stream (stderr)
 * it is one write(2) and concurrent writers interleave whole lines. A line
 * must reach the kernel before the call returns: a decision logged and
 * then answered survives the daemon crashing right after. On an
 * unbuffered or line-buffered stream nothing is left pending after the
 * line and the fflush, a second pass through the stream's lock, is
 * skipped; a fully buffered stream is flushed. */
static void ps_log_emit(ps_log *lg, int prio, const char *line, size_t len)
{
    char out[sizeof(lg->prefix) + PS_LOG_LINE_MAX + 1];

    if (lg->fp == NULL) {
        syslog(LOG_PRI(prio), "%s", line);
        return;
    }
    memcpy(out, lg->prefix, lg->prefix_len);
    memcpy(out + lg->prefix_len, line, len);
    out[lg->prefix_len + len] = '\n';
    fwrite(out, 1, lg->prefix_len + len + 1, lg->fp);
    if (__fpending(lg->fp) > 0)
        fflush(lg->fp);
}

void ps_log_kv(ps_log *lg, int prio, const char *event, ...)
{
    ps_log_buf b; /* not b = {0}: that would clear 2 KB per line */
    const char *key;
    va_list ap;

    if (lg == NULL || LOG_PRI(prio) > lg->min_prio)
        return;
    b.len = 0;
    b.cut = 0;
    ps_log_puts(&b, "event=");
    ps_log_put_value(&b, event != NULL ? event : "-");
    va_start(ap, event);
    while ((key = va_arg(ap, const char *)) != NULL)
        ps_log_put_pair(&b, key, va_arg(ap, const char *));
    va_end(ap);
    ps_log_end(&b);
    ps_log_emit(lg, prio, b.text, b.len);
}
