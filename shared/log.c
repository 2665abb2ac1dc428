/* One key=value line per event, to syslog or a stream. Everything is built
 * in a bounded stack buffer: values are quoted and escaped so no input can
 * forge a second line or a fake key, and secret-looking keys are redacted. */
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '"' || c == '\\') {
            ps_log_putc(b, '\\');
            ps_log_putc(b, (char)c);
        } else if (ps_log_is_ctl(c)) {
            ps_log_puts(b, "\\x");
            ps_log_putc(b, hex[c >> 4]);
            ps_log_putc(b, hex[c & 0xf]);
        } else {
            ps_log_putc(b, (char)c);
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

static int ps_log_is_secret(const char *key)
{
    size_t n = sizeof(ps_log_secret_words) / sizeof(ps_log_secret_words[0]);

    for (size_t i = 0; i < n; i++)
        if (strcasestr(key, ps_log_secret_words[i]) != NULL)
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

static void ps_log_emit(ps_log *lg, int prio, const char *line)
{
    if (lg->fp == NULL) {
        syslog(LOG_PRI(prio), "%s", line);
        return;
    }
    /* One fprintf per line so concurrent writers interleave whole lines. */
    fprintf(lg->fp, "%s[%ld]: %s\n", lg->ident, (long)getpid(), line);
    fflush(lg->fp);
}

void ps_log_kv(ps_log *lg, int prio, const char *event, ...)
{
    ps_log_buf b = {.len = 0, .cut = 0};
    const char *key;
    va_list ap;

    if (lg == NULL || LOG_PRI(prio) > lg->min_prio)
        return;
    ps_log_puts(&b, "event=");
    ps_log_put_value(&b, event != NULL ? event : "-");
    va_start(ap, event);
    while ((key = va_arg(ap, const char *)) != NULL)
        ps_log_put_pair(&b, key, va_arg(ap, const char *));
    va_end(ap);
    ps_log_end(&b);
    ps_log_emit(lg, prio, b.text);
}
