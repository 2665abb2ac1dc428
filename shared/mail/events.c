/* The bounce events file: JSON lines, formatted with escaping, appended
 * with one write and made durable with fsync before we say "accepted". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mail/events.h"
#include "mail/evspool.h"

typedef struct out_buf {
    char *p;
    size_t cap, n;
    int full;
} out_buf;

static void put_c(out_buf *o, char c)
{
    if (o->n + 1 < o->cap)
        o->p[o->n++] = c;
    else
        o->full = 1;
}

static void put_s(out_buf *o, const char *s)
{
    while (*s)
        put_c(o, *s++);
}

/* JSON string escaping (RFC 8259): quotes, backslashes and controls;
 * other bytes pass as they are. */
static void put_json(out_buf *o, const char *key, const char *v)
{
    static const char hex[] = "0123456789abcdef";
    put_s(o, ",\"");
    put_s(o, key);
    put_s(o, "\":\"");
    for (const unsigned char *s = (const unsigned char *)(v ? v : ""); *s;
         s++) {
        if (*s == '"' || *s == '\\') {
            put_c(o, '\\');
            put_c(o, (char)*s);
        } else if (*s < 0x20 || *s == 0x7f) {
            put_s(o, "\\u00");
            put_c(o, hex[*s >> 4]);
            put_c(o, hex[*s & 15]);
        } else {
            put_c(o, (char)*s);
        }
    }
    put_c(o, '"');
}

static void put_num(out_buf *o, const char *key, long long v)
{
    char num[32];

    snprintf(num, sizeof num, "%lld", v);
    put_s(o, ",\"");
    put_s(o, key);
    put_s(o, "\":");
    put_s(o, num);
}

static int events_close(out_buf *o, ps_err *err)
{
    put_s(o, "}\n");
    o->p[o->n] = '\0';
    if (o->full)
        return ps_err_set(err, "events: line longer than %zu bytes",
                          o->cap - 1);
    return (int)o->n;
}

int ps_events_format(const ps_bounce_event *ev, char *out, size_t cap,
                     ps_err *err)
{
    out_buf o = {out, cap, 0, 0};

    if (cap == 0)
        return ps_err_set(err, "events: no room");
    put_s(&o, "{\"event\":\"bounce\"");
    put_num(&o, "time", (long long)ev->when);
    put_json(&o, "ref", ev->ref);
    put_json(&o, "recipient", ev->rcpt->recipient);
    put_json(&o, "action", ev->rcpt->action);
    put_json(&o, "status", ev->rcpt->status);
    put_json(&o, "diagnostic", ev->rcpt->diagnostic);
    put_json(&o, "source", ps_dsn_source_name(ev->source));
    return events_close(&o, err);
}

int ps_events_format_event(const ps_event *ev, char *out, size_t cap,
                           ps_err *err)
{
    out_buf o = {out, cap, 0, 0};

    if (cap == 0)
        return ps_err_set(err, "events: no room");
    put_s(&o, "{\"id\":\"");
    put_s(&o, ev->id);
    put_c(&o, '"');
    put_json(&o, "event", ps_event_kind_name(ev->kind));
    put_num(&o, "time", (long long)ev->when);
    put_json(&o, "qid", ev->qid);
    put_json(&o, "message_id", ev->msgid);
    put_json(&o, "sender", ev->sender);
    put_json(&o, "credential", ev->auth);
    put_json(&o, "client", ev->client);
    put_json(&o, "recipient", ev->recipient);
    put_json(&o, "status", ev->dsn);
    put_json(&o, "reply", ev->reply);
    return events_close(&o, err);
}

/* Postal's event names and the status its payload carries (what
 * Anymail's Postal tracking view maps to delivered, deferred, ...). */
static const struct {
    const char *event, *status;
} postal_names[PS_EVENT_NKINDS] = {
    [PS_EVENT_SENT] = {"MessageSent", "Sent"},
    [PS_EVENT_DELAYED] = {"MessageDelayed", "SoftFail"},
    [PS_EVENT_FAILED] = {"MessageDeliveryFailed", "HardFail"},
    [PS_EVENT_BOUNCED] = {"MessageBounced", NULL},
    [PS_EVENT_HELD] = {"MessageHeld", "Held"},
};

int ps_events_postal_kind(int kind)
{
    return kind >= 0 && kind < PS_EVENT_NKINDS &&
           postal_names[kind].event != NULL;
}

/* Postal's message object; the queue id stands for its numeric id. */
static void put_postal_message(out_buf *o, const char *name, const ps_event *ev)
{
    put_s(o, ",\"");
    put_s(o, name);
    put_s(o, "\":{\"direction\":\"outgoing\"");
    put_json(o, "id", ev->qid);
    put_json(o, "token", ev->id);
    put_json(o, "message_id", ev->msgid);
    put_json(o, "to", ev->recipient);
    put_json(o, "from", ev->sender);
    put_json(o, "subject", "");
    put_num(o, "timestamp", (long long)ev->when);
    put_s(o, ",\"spam_status\":\"NotChecked\",\"tag\":null}");
}

int ps_events_format_postal(const ps_event *ev, char *out, size_t cap,
                            ps_err *err)
{
    out_buf o = {out, cap, 0, 0};

    if (cap == 0 || !ps_events_postal_kind((int)ev->kind))
        return ps_err_set(err, "events: no room, or no Postal event for %s",
                          ps_event_kind_name(ev->kind));
    put_s(&o, "{\"event\":\"");
    put_s(&o, postal_names[ev->kind].event);
    put_c(&o, '"');
    put_num(&o, "timestamp", (long long)ev->when);
    put_json(&o, "uuid", ev->id);
    if (ev->kind == PS_EVENT_BOUNCED) {
        put_s(&o, ",\"payload\":{\"bounce\":{\"direction\":\"incoming\"");
        put_json(&o, "to", ev->sender);
        put_json(&o, "details", ev->reply);
        put_json(&o, "status", ev->dsn);
        put_c(&o, '}');
        put_postal_message(&o, "original_message", ev);
    } else {
        put_s(&o, ",\"payload\":{\"status\":\"");
        put_s(&o, postal_names[ev->kind].status);
        put_c(&o, '"');
        put_json(&o, "details", ev->reply);
        put_json(&o, "output", ev->reply);
        put_s(&o, ",\"sent_with_ssl\":false,\"time\":null");
        put_num(&o, "timestamp", (long long)ev->when);
        put_postal_message(&o, "message", ev);
    }
    put_c(&o, '}');
    return events_close(&o, err);
}

int ps_events_spool(const char *dir, const ps_event *ev, ps_err *err)
{
    char spool[4096];
    ps_record line = {0};
    int rc;

    ps_evspool_format(ev, &line);
    rc = line.oom ? ps_err_set(err, "out of memory")
         : ps_evspool_path(dir, spool, sizeof(spool), err) != 0
             ? -1
             : ps_events_append(spool, line.p, line.n, err);
    ps_record_free(&line);
    return rc;
}

int ps_events_append(const char *path, const char *line, size_t n, ps_err *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return ps_err_set(err, "%s: %s", path, strerror(errno));
    ssize_t w = write(fd, line, n);
    int saved = errno;
    if (w != (ssize_t)n) {
        close(fd);
        return ps_err_set(err, "%s: write: %s", path,
                          w < 0 ? strerror(saved) : "short write");
    }
    if (fsync(fd) < 0) {
        saved = errno;
        close(fd);
        return ps_err_set(err, "%s: fsync: %s", path, strerror(saved));
    }
    if (close(fd) < 0)
        return ps_err_set(err, "%s: close: %s", path, strerror(errno));
    return 0;
}
