/* Recipient records (sent.h): one small append-only file per message
 * reference under a directory per day, written and fsync'd before the
 * return path is given, read when a bounce to it comes back. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/encode.h"
#include "mail/events.h"
#include "mail/sent.h"

#define SENT_DAY      86400
#define SENT_HASH     16 /* bytes of the HMAC kept */
#define SENT_ADDR_MAX 320
#define SENT_PATH_MAX 4096

int ps_sent_dir(const char *events, char *out, size_t cap, ps_err *err)
{
    const char *slash = strrchr(events, '/');
    int n = slash == NULL ? snprintf(out, cap, "sent")
                          : snprintf(out, cap, "%.*s/sent",
                                     (int)(slash - events), events);

    if (n < 0 || (size_t)n >= cap)
        return ps_err_set(err, "%s: path too long", events);
    return 0;
}

int ps_sent_line(const ps_secrets *s, size_t i, const char *addr,
                 char out[PS_SENT_LINE], ps_err *err)
{
    char low[SENT_ADDR_MAX];
    uint8_t mac[PS_HMAC_MAX];
    size_t n = strlen(addr), keylen;
    const uint8_t *key = ps_secrets_get(s, i, &keylen);

    if (n >= sizeof(low))
        return ps_err_set(err, "recipient address too long");
    for (size_t k = 0; k < n; k++)
        low[k] = (char)tolower((unsigned char)addr[k]);
    if (ps_hmac_compute(PS_HMAC_SHA256, key, keylen, low, n, mac, err) != 0)
        return -1;
    out[ps_hex_encode(mac, SENT_HASH, out)] = '\n';
    out[2 * SENT_HASH + 1] = '\0';
    return 0;
}

/* A reference is a path component: [A-Za-z0-9] only, as in tokens. */
static int sent_path(const char *dir, long day, const char *ref, char *out,
                     size_t cap, ps_err *err)
{
    int n;

    if (ref[0] == '\0' || ref[strspn(ref, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "abcdefghijklmnopqrstuvwxyz"
                                          "0123456789")] != '\0')
        return ps_err_set(err, "bad message reference");
    n = snprintf(out, cap, "%s/%ld/%s", dir, day, ref);
    if (n < 0 || (size_t)n >= cap)
        return ps_err_set(err, "%s: path too long", dir);
    return 0;
}

static void sent_remove_day(const char *dir, const char *name)
{
    char path[SENT_PATH_MAX], file[SENT_PATH_MAX];
    DIR *d;
    struct dirent *e;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
        (d = opendir(path)) == NULL)
        return;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && snprintf(file, sizeof(file), "%s/%s", path,
                                            e->d_name) < (int)sizeof(file))
            unlink(file);
    closedir(d);
    rmdir(path);
}

/* Removes the day directories no token still valid can name. */
static void sent_expire(const char *dir, long today, unsigned max_age)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *end;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        long day = strtol(e->d_name, &end, 10);
        if (e->d_name[0] != '.' && *end == '\0' &&
            day < today - (long)max_age - 1)
            sent_remove_day(dir, e->d_name);
    }
    closedir(d);
}

int ps_sent_record(const char *dir, time_t now, unsigned max_age,
                   const char *ref, const char *lines, size_t n, ps_err *err)
{
    long day = (long)(now / SENT_DAY);
    char path[SENT_PATH_MAX], daydir[SENT_PATH_MAX];

    if (sent_path(dir, day, ref, path, sizeof(path), err) != 0)
        return -1;
    snprintf(daydir, sizeof(daydir), "%s/%ld", dir, day);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return ps_err_set(err, "%s: %s", dir, strerror(errno));
    if (mkdir(daydir, 0750) == 0)
        sent_expire(dir, day, max_age);
    else if (errno != EEXIST)
        return ps_err_set(err, "%s: %s", daydir, strerror(errno));
    return ps_events_append(path, lines, n, err);
}

/* The file's contents (at most PS_SENT_MAX bytes), NUL-terminated, or
 * NULL: *missing set when there is no such file. */
static char *sent_read(const char *path, int *missing, ps_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf;
    ssize_t n;

    *missing = fd < 0 && errno == ENOENT;
    if (fd < 0) {
        ps_err_set(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if ((buf = malloc(PS_SENT_MAX + 1)) == NULL) {
        close(fd);
        ps_err_set(err, "out of memory");
        return NULL;
    }
    n = read(fd, buf, PS_SENT_MAX);
    if (n < 0) {
        ps_err_set(err, "%s: %s", path, strerror(errno));
        free(buf);
        buf = NULL;
    } else {
        buf[n] = '\0';
    }
    close(fd);
    return buf;
}

/* 1 when line (newline included) is one of the lines of text. */
static int sent_has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
        if (p == text || p[-1] == '\n')
            return 1;
    return 0;
}

int ps_sent_lookup(const char *dir, time_t issued, const char *ref,
                   const ps_secrets *s, const char *addr, ps_err *err)
{
    char path[SENT_PATH_MAX], line[PS_SENT_LINE], *text;
    struct stat st;
    int missing, found = 0;

    if (sent_path(dir, (long)(issued / SENT_DAY), ref, path, sizeof(path),
                  err) != 0)
        return -1;
    if ((text = sent_read(path, &missing, err)) == NULL) {
        /* No record for the message is an answer; no records at all is
         * a fault of the installation. */
        if (!missing)
            return -1;
        if (stat(dir, &st) != 0)
            return ps_err_set(err, "%s: %s", dir, strerror(errno));
        return 0;
    }
    for (size_t i = 0; !found && i < ps_secrets_count(s); i++) {
        if (ps_sent_line(s, i, addr, line, err) != 0) {
            free(text);
            return -1;
        }
        found = sent_has_line(text, line);
    }
    free(text);
    return found;
}
