/* libFuzzer target for shared/mail/maillog.c (Postfix log lines, the
 * relay's address and a content filter's "queued as" included) and the
 * record lines the follower reads (record.c, msgrec.c, evspool.c): any
 * input is a kind, with NUL-terminated fields in their bounds; a record
 * either fails or gives fields no longer than the line. The first byte
 * picks the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/evspool.h"
#include "mail/maillog.h"
#include "mail/msgrec.h"

static void check_bounded(const char *s, size_t cap)
{
    if (strnlen(s, cap) >= cap)
        abort();
}

static void fuzz_log(const uint8_t *data, size_t size)
{
    ps_maillog_line l;
    ps_maillog_kind k =
        ps_maillog_parse((const char *)data, size, 1796581800, &l);

    if (k != l.kind || (k != PS_MAILLOG_OTHER && l.qid[0] == '\0'))
        abort();
    check_bounded(l.qid, sizeof(l.qid));
    check_bounded(l.to, sizeof(l.to));
    check_bounded(l.orig_to, sizeof(l.orig_to));
    check_bounded(l.relay, sizeof(l.relay));
    check_bounded(l.dsn, sizeof(l.dsn));
    check_bounded(l.reply, sizeof(l.reply));
    check_bounded(l.queued_as, sizeof(l.queued_as));
    if (l.queued_as[0] != '\0' &&
        (k != PS_MAILLOG_DELIVERY || l.status != PS_MAILLOG_SENT ||
         strstr(l.reply, l.queued_as) == NULL))
        abort();
    if (k == PS_MAILLOG_DELIVERY) {
        char addr[64];
        unsigned port = 0;
        if (ps_maillog_relay_endpoint(l.relay, addr, sizeof(addr), &port) ==
                0 &&
            (port == 0 || port > 65535 || strnlen(addr, sizeof(addr)) == 0 ||
             strstr(l.relay, addr) == NULL))
            abort();
    }
}

static void fuzz_records(const uint8_t *data, size_t size)
{
    static char *fields[PS_MSGREC_FIELDS];
    char *line = malloc(size + 1), *copy = malloc(size + 1);

    if (line == NULL || copy == NULL)
        abort();
    ps_msgrec m;
    ps_event ev;

    memcpy(line, data, size);
    line[size] = '\0';
    memcpy(copy, line, size + 1);
    if (ps_msgrec_parse(line, fields, &m) == 0)
        for (size_t i = 0; i < m.nrcpts; i++)
            if (strlen(m.rcpts[i]) > size)
                abort();
    if (ps_evspool_parse(copy, fields, &ev) == 0 &&
        strlen(ev.id) != PS_EVSPOOL_ID)
        abort();
    free(line);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] == 'A' || data[0] == 'B' || data[0] == 'E')
        fuzz_records(data, size);
    else
        fuzz_log(data, size);
    return 0;
}
