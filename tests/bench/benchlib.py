"""What the Python benchmarks (bench-events.py, bench-webhooks.py) share:
a free loopback port for the daemon they start, and its peak RSS."""

import socket


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_kb(pid):
    """The process's peak resident set (VmHWM), in kB, while it runs."""
    with open(f"/proc/{pid}/status") as f:
        return int([line.split()[1] for line in f if line.startswith("VmHWM")][0])
