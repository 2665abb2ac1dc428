"""Fixtures for the integration tests of the postseal CLI: the binary under
test (from $POSTSEAL_BUILD) and throw-away dnsmasq servers on loopback
ports serving exactly the records a test gives them.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration
"""

import os
import pathlib
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DNSMASQ = "/usr/sbin/dnsmasq"


def build_dir():
    return pathlib.Path(os.environ.get("POSTSEAL_BUILD", ROOT / "build"))


@pytest.fixture
def postseal():
    """Runs build/postseal: postseal("dns", "--domain", ...) returns the
    CompletedProcess (text mode, never raising on a non-zero exit)."""
    binary = build_dir() / "postseal"
    if not os.access(binary, os.X_OK):
        pytest.skip(f"{binary} not built")

    def run(*args, cwd=None, timeout=60):
        return subprocess.run([str(binary), *map(str, args)], cwd=cwd, text=True,
                              capture_output=True, timeout=timeout)

    run.path = binary
    return run


def free_port():
    """A loopback port free for both UDP and TCP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def split255(value):
    """A TXT record as DNS character-strings of at most 255 bytes."""
    data = value.encode()
    return [data[i:i + 255].decode() for i in range(0, len(data), 255)] or [""]


class DnsServer:
    """One dnsmasq answering only from its records; every other name in
    every domain gets NXDOMAIN (--local=/#/), so nothing leaks upstream."""

    def __init__(self, txt, mx, ipv6=False):
        self.port = free_port()
        listen = ["--listen-address=127.0.0.1"] + (["--listen-address=::1"] if ipv6 else [])
        args = [DNSMASQ, "--no-resolv", "--no-hosts", "--no-daemon", "--no-poll",
                f"--port={self.port}", *listen, "--bind-interfaces",
                "--conf-file=/dev/null", "--pid-file=", "--user=root", "--local=/#/"]
        for name, value in txt.items():
            for one in value if isinstance(value, list) else [value]:
                args.append("--txt-record=" + ",".join([name] + self._strings(one)))
        for name, host in mx.items():
            args.append(f"--mx-host={name},{host},10")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self._wait()

    @staticmethod
    def _strings(value):
        # On the command line dnsmasq splits strings at ',' and takes
        # quotes literally, so a record to serve must not hold a comma.
        parts = value if isinstance(value, tuple) else tuple(split255(value))
        assert not any("," in p for p in parts), f"dnsmasq cannot serve {value!r}"
        return list(parts)

    def _wait(self, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dnsmasq exited: {self.proc.stderr.read()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("dnsmasq did not start listening")

    @property
    def resolver(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()


@pytest.fixture
def dnsmasq():
    """Starts dnsmasq servers: dnsmasq(txt={"name": "record" or
    ["record", ...] or ("string1", "string2")}, mx={"name": "host"},
    ipv6=False). A str record over 255 bytes is split into 255-byte
    strings; a tuple gives the strings as they are. ipv6: listen on ::1
    too. All servers stop after the test."""
    if not os.access(DNSMASQ, os.X_OK):
        pytest.skip(f"{DNSMASQ} not installed")
    servers = []

    def start(txt=None, mx=None, ipv6=False):
        for attempt in range(5):  # the port may be taken between probe and bind
            try:
                server = DnsServer(txt or {}, mx or {}, ipv6)
                break
            except RuntimeError:
                if attempt == 4:
                    raise
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_idle(port, n, timeout=10):
    """n connections to 127.0.0.1:port that never send a byte; those the
    server refuses or sheds are left out (the floods expect some)."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(timeout)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        socks.append(s)
    return socks
