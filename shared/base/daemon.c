/* Detaching a daemon from its terminal: fork, setsid, chdir /, and the
 * standard descriptors on /dev/null so a stray write can't hit a socket
 * that happens to get fd 1. */
#include "base/daemon.h"

#include <fcntl.h>
#include <unistd.h>

int ps_daemon_detach(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0 || chdir("/") != 0)
        return -1;
    if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
        return -1;
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
    return 0;
}
