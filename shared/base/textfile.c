/* One bounded read of a whole text file: the file is checked to be a
 * regular file, read in one go up to max + 1 bytes so a larger one is
 * told apart, and NUL-terminated for parsers that like C strings. */
#include "base/textfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int ps_textfile_fill(FILE *fp, const char *path, size_t max, char *buf,
                            size_t *len, ps_err *err)
{
    *len = fread(buf, 1, max + 1, fp);
    if (ferror(fp))
        return ps_err_set(err, "%s: cannot read: %s", path, strerror(errno));
    if (*len > max)
        return ps_err_set(err, "%s: larger than %zu bytes", path, max);
    buf[*len] = '\0';
    return 0;
}

int ps_textfile_read(const char *path, size_t max, char **buf, size_t *len,
                     ps_err *err)
{
    FILE *fp = fopen(path, "re");
    struct stat sb;
    int rc = -1;

    *buf = NULL;
    *len = 0;
    if (fp == NULL)
        return ps_err_set(err, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode))
        ps_err_set(err, "%s: not a regular file", path);
    else if ((*buf = malloc(max + 2)) == NULL)
        ps_err_set(err, "%s: out of memory", path);
    else
        rc = ps_textfile_fill(fp, path, max, *buf, len, err);
    fclose(fp);
    if (rc != 0) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}
