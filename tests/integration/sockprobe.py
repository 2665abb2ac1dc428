"""Socket options of another process's TCP sockets, read on the sockets
themselves: pidfd_getfd(2) (Linux >= 5.6, ptrace rights over the process:
root here) duplicates a descriptor of that process into this one, where
getsockopt() works as on our own. `ss -tni` does not show TCP_NODELAY.

    for s in tcp_sockets(pid):
        print(s.local, s.peer, s.listening, s.nodelay)
"""

import ctypes
import errno
import os
import socket
import stat
from dataclasses import dataclass

# New system calls have had one number on every architecture since 5.1.
SYS_PIDFD_GETFD = 438
_libc = ctypes.CDLL(None, use_errno=True)


class Unsupported(Exception):
    """The kernel cannot duplicate another process's descriptor."""


@dataclass
class TcpSocket:
    fd: int            # the number in the other process
    local: tuple       # (address, port)
    peer: tuple        # (address, port), or None for a listener
    listening: bool
    nodelay: bool      # TCP_NODELAY: Nagle's algorithm off


def _getfd(pidfd, fd):
    dup = _libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
    if dup < 0:
        err = ctypes.get_errno()
        if err == errno.ENOSYS:
            raise Unsupported("pidfd_getfd: not in this kernel")
        if err == errno.EBADF:  # closed since we listed it
            return None
        raise OSError(err, f"pidfd_getfd({fd}): {os.strerror(err)}")
    return dup


def _describe(fd, dup):
    with socket.socket(fileno=dup) as s:
        if s.family not in (socket.AF_INET, socket.AF_INET6) or s.type != socket.SOCK_STREAM:
            return None
        listening = bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
        try:
            peer = s.getpeername()[:2]
        except OSError:
            peer = None
        return TcpSocket(fd, s.getsockname()[:2], peer, listening,
                         bool(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))


def tcp_sockets(pid):
    """Every TCP socket process pid holds, as TcpSocket."""
    out = []
    pidfd = os.pidfd_open(pid)
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                if not stat.S_ISSOCK(os.stat(f"/proc/{pid}/fd/{name}").st_mode):
                    continue
            except FileNotFoundError:
                continue
            dup = _getfd(pidfd, int(name))
            if dup is not None:
                sock = _describe(int(name), dup)
                if sock:
                    out.append(sock)
    finally:
        os.close(pidfd)
    return out


def accepted(pid, port):
    """The connections process pid accepted on its listener at port."""
    return [s for s in tcp_sockets(pid) if not s.listening and s.local[1] == port]
