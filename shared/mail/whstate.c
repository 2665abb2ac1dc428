/* The webhook sender's state and request lines (whstate.h): parsed and
 * formatted here only. */
#include "mail/whstate.h"

#include <stdio.h>
#include <string.h>

static int whstate_hex_id(const char *id)
{
    return strlen(id) == PS_EVSPOOL_ID &&
           strspn(id, "0123456789abcdef") == PS_EVSPOOL_ID;
}

ps_whstate_line ps_whstate_parse(const char *line, long long *scanned,
                                 ps_whstate_item *it)
{
    int n = -1;

    if (sscanf(line, "scanned %lld%n", scanned, &n) == 1 && n > 0 &&
        line[n] == '\0')
        return *scanned >= 0 ? PS_WHSTATE_SCANNED : PS_WHSTATE_BAD;
    memset(it, 0, sizeof(*it));
    n = -1;
    if (sscanf(line, "I %lld %32s %u %lld %lld %d%n", &it->off, it->id,
               &it->attempts, &it->first, &it->next, &it->dead, &n) != 6 ||
        n < 0 || line[n] != '\0' || !whstate_hex_id(it->id) || it->off < 0 ||
        (it->dead != 0 && it->dead != 1))
        return PS_WHSTATE_BAD;
    return PS_WHSTATE_ITEM;
}

int ps_whstate_format(const ps_whstate_item *it, char *out, size_t cap)
{
    int n = snprintf(out, cap, "I %lld %s %u %lld %lld %d\n", it->off, it->id,
                     it->attempts, it->first, it->next, it->dead);

    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int ps_whstate_parse_request(const char *line, ps_whstate_verb *verb,
                             char id[PS_EVSPOOL_ID + 1])
{
    const char *sp = strchr(line, ' ');

    if (sp == NULL)
        return -1;
    if ((size_t)(sp - line) == 5 && strncmp(line, "retry", 5) == 0)
        *verb = PS_WHSTATE_RETRY;
    else if ((size_t)(sp - line) == 4 && strncmp(line, "drop", 4) == 0)
        *verb = PS_WHSTATE_DROP;
    else
        return -1;
    if (strcmp(sp + 1, "dead") != 0 && !whstate_hex_id(sp + 1))
        return -1;
    snprintf(id, PS_EVSPOOL_ID + 1, "%s", sp + 1);
    return 0;
}

int ps_whstate_path(const char *dir, const char *name, const char *suffix,
                    char *out, size_t cap, ps_err *err)
{
    int n = snprintf(out, cap, "%s/" PS_WHSTATE_DIR "/%s%s", dir, name, suffix);

    return n < 0 || (size_t)n >= cap ? ps_err_set(err, "%s: path too long", dir)
                                     : 0;
}
