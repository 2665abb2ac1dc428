"""postseal-policyd under floods of connections (issue 15 item 3): with a
descriptor limit of 64, set at start or lowered while it runs, or with
thousands of idle connections at the default limits, a new client's
request is still answered, the daemon does not spin (CPU time well under
the wall time) and the log says so in a line or two, not one per
connection; a connection that never sends a request is closed sooner
than one Postfix keeps between requests."""

import os
import re
import resource
import socket
import subprocess
import time

import pytest

from conftest import cpu_seconds, open_idle
from policyd_harness import PolicyClient, Policyd, needs_policyd, wait_for

pytestmark = needs_policyd

LIMITS = {"sasl_username": "messages 3/1h"}


def close_all(socks):
    for s in socks:
        s.close()


def assert_quiet_and_serving(pd, user, seconds=3.0):
    """Over a few seconds of the flood the daemon uses a small share of
    one CPU; then a new connection's request is answered."""
    before, t0 = cpu_seconds(pd.daemon.pid), time.monotonic()
    time.sleep(seconds)
    used, wall = cpu_seconds(pd.daemon.pid) - before, time.monotonic() - t0
    assert used < 0.5 * wall, f"{used:.2f}s of CPU in {wall:.2f}s"
    with PolicyClient(pd.port, timeout=30) as c:
        got = c.message(user, "f1", state_rcpt=False)
    assert got == ["DUNNO"], got
    pd.wait_log(r"event=charged instance=f1 keys=sasl_username:" + re.escape(user))


def pressure_lines(log):
    return [line for line in log.splitlines()
            if "connection_limit" in line or "accept" in line.lower()]


def flood(pd, user, count, min_open, max_fds):
    """count idle connections held while the daemon is checked (see
    assert_quiet_and_serving), then closed; the pressure lines logged."""
    idle = open_idle(pd.port, count)
    try:
        assert len(idle) >= min_open
        assert_quiet_and_serving(pd, user)
        # the daemon holds no more descriptors than it may
        assert len(os.listdir(f"/proc/{pd.daemon.pid}/fd")) <= max_fds
    finally:
        close_all(idle)
    log = pd.log()
    assert len(log.splitlines()) < 20, log[-3000:]
    lines = pressure_lines(log)
    assert 1 <= len(lines) <= 2, lines
    return lines


def test_flood_under_a_low_descriptor_limit(tmp_path):
    """ulimit -n 64 from the start: the daemon caps itself below it and
    replaces the idlest connection with each new one."""
    with Policyd(tmp_path, limits=LIMITS,
                 wrapper=["prlimit", "--nofile=64:64", "--"]) as pd:
        lines = flood(pd, "low@x", 300, 200, 64)
    assert "max_connections=32" in lines[0], lines


def test_descriptor_limit_lowered_while_running(tmp_path):
    """The limit drops under the connection cap after start (accept fails
    with EMFILE): no spin, no line per failed accept, still serving."""
    with Policyd(tmp_path, limits=LIMITS) as pd:
        subprocess.run(["prlimit", f"--pid={pd.daemon.pid}", "--nofile=64:64"],
                       check=True)
        lines = flood(pd, "emfile@x", 300, 200, 64)
    assert "out of file descriptors" in lines[0] and "max_connections=32" in lines[0], lines


def test_thousands_of_idle_connections(tmp_path):
    """More idle connections than the 4096 cap, at the default limits."""
    want = 5000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want + 200:
        pytest.skip(f"this process may open {hard} descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want + 200), hard))
    try:
        with Policyd(tmp_path, limits=LIMITS) as pd:
            lines = flood(pd, "many@x", want, 4500, 4096 + 32)
        assert "max_connections=4096" in lines[0], lines
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_connection_without_request_closed_sooner(tmp_path):
    """One that never sent a request goes after 10 s; one that did (as
    Postfix's, reused between requests) stays open much longer, and no
    line is logged per closed connection."""
    with Policyd(tmp_path, limits=LIMITS) as pd, PolicyClient(pd.port) as served:
        silent = socket.create_connection(("127.0.0.1", pd.port))
        assert served.message("kept@x", "k1", state_rcpt=False) == ["DUNNO"]
        silent.settimeout(60)
        t0 = time.monotonic()
        assert silent.recv(10) == b""  # closed by the daemon
        closed_after = time.monotonic() - t0
        silent.close()
        assert closed_after < 60
        assert served.message("kept@x", "k2", state_rcpt=False) == ["DUNNO"]
        assert "connection_closed" not in pd.log()
        assert wait_for(lambda: "event=charged instance=k2" in pd.log())


def test_no_descriptor_left_pauses_accepting(tmp_path):
    """Below the descriptors the daemon already holds, no accept can work
    and no connection can be closed for room: accepting pauses (no spin,
    no line per attempt) and resumes by itself once descriptors are back."""
    with Policyd(tmp_path, limits=LIMITS) as pd:
        held = len(os.listdir(f"/proc/{pd.daemon.pid}/fd"))
        subprocess.run(["prlimit", f"--pid={pd.daemon.pid}", f"--nofile={held - 1}:"],
                       check=True)
        waiting = open_idle(pd.port, 50)  # in the listen queue
        try:
            before, t0 = cpu_seconds(pd.daemon.pid), time.monotonic()
            time.sleep(3)
            used, wall = cpu_seconds(pd.daemon.pid) - before, time.monotonic() - t0
            assert used < 0.5 * wall, f"{used:.2f}s of CPU in {wall:.2f}s"
            subprocess.run(["prlimit", f"--pid={pd.daemon.pid}", "--nofile=1024:"],
                           check=True)
            with PolicyClient(pd.port, timeout=30) as c:
                assert c.message("back@x", "b1", state_rcpt=False) == ["DUNNO"]
        finally:
            close_all(waiting)
        lines = pressure_lines(pd.log())
        assert 1 <= len(lines) <= 2 and "out of file descriptors" in lines[0], lines
