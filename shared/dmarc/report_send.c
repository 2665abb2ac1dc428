/* Hands a report message to the local MTA: `SENDMAIL -t -oi` reads the
 * recipients from To: and takes a lone "." as text. The caller ignores
 * SIGPIPE, so a sendmail that exits early is an error, not a death. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fdio.h"
#include "dmarc/report.h"

static int dmrep_wait(pid_t pid, const char *sendmail, int wrote, ps_err *err)
{
    int st;

    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return ps_err_set(err, "%s: wait: %s", sendmail, strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && wrote == 0)
        return 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return ps_err_set(err, "%s: cannot be run", sendmail);
    if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
        return ps_err_set(err, "%s: exit status %d", sendmail, WEXITSTATUS(st));
    if (WIFSIGNALED(st))
        return ps_err_set(err, "%s: killed by signal %d", sendmail,
                          WTERMSIG(st));
    return ps_err_set(err, "%s: did not read the whole message", sendmail);
}

int ps_dmrep_sendmail(const char *sendmail, const char *msg, size_t n,
                      ps_err *err)
{
    int fds[2], wrote;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return ps_err_set(err, "pipe: %s", strerror(errno));
    if ((pid = fork()) < 0) {
        close(fds[0]);
        close(fds[1]);
        return ps_err_set(err, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        char *argv[] = {(char *)sendmail, "-t", "-oi", NULL};
        if (dup2(fds[0], STDIN_FILENO) < 0)
            _exit(127);
        execv(sendmail, argv);
        _exit(127);
    }
    close(fds[0]);
    wrote = ps_fd_write_all(fds[1], msg, n);
    close(fds[1]);
    return dmrep_wait(pid, sendmail, wrote, err);
}
