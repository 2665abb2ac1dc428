"""Scraping a postseal metrics endpoint in tests: the exposition text
(checked by promtool), parsed into {(name, labels): value}."""

import http.client
import os
import re
import select
import shutil
import socket
import subprocess
import threading
import time

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def fetch(port, path="/metrics", method="GET", timeout=10):
    """(status, headers, body) of one request to 127.0.0.1:port."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


def promtool_check(text):
    """promtool check metrics accepts the text (lint findings included:
    it exits non-zero on any)."""
    assert shutil.which("promtool"), "promtool missing (Debian package prometheus)"
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def parse(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def scrape(port):
    """The parsed exposition, after checking status, type and promtool."""
    status, headers, body = fetch(port)
    assert status == 200, (status, body)
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    promtool_check(body)
    return Samples(parse(body), body)


class Samples(dict):
    def __init__(self, values, text):
        super().__init__(values)
        self.text = text

    def get_value(self, name, **labels):
        return self.get((name, frozenset(labels.items())), 0.0)

    def total(self, name):
        return sum(v for (n, _), v in self.items() if n == name)


def delta(before, after, name, **labels):
    return after.get_value(name, **labels) - before.get_value(name, **labels)


CAP = 64        # PS_METRICS_HTTP_CONNS
DEADLINE = 10   # PS_METRICS_HTTP_DEADLINE, seconds


class Tricklers:
    """n clients on port, each sending one byte of a request line per call
    to trickle() (every second or so: well inside the 5 s idle timeout, so
    only a cap and a whole-request deadline can end them)."""

    LINE = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 4000

    def __init__(self, port, n):
        self.socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.setblocking(False)
            self.socks.append(s)
        self.sent = 0
        self.closed = set()

    def trickle(self):
        """Sends the next byte on every connection still open; notes those
        the daemon closed (end of file, reset, or a refused write)."""
        byte = self.LINE[self.sent % len(self.LINE):][:1]
        self.sent += 1
        for i, s in enumerate(self.socks):
            if i in self.closed:
                continue
            try:
                r, _, _ = select.select([s], [], [], 0)
                if r and s.recv(4096) == b"":
                    self.closed.add(i)
                    continue
                s.send(byte)
            except OSError:
                self.closed.add(i)

    def open(self):
        return len(self.socks) - len(self.closed)

    def close(self):
        for s in self.socks:
            s.close()


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_until(cond, seconds):
    end = time.monotonic() + seconds
    while not cond() and time.monotonic() < end:
        time.sleep(0.2)
    return cond()


def hold_tricklers(port, pid, during, n=300):
    """n clients trickle a request line into the metrics port, a byte a
    second each, for as long as the daemon lets them. The cap keeps at most
    CAP of them (and their descriptors); during() runs meanwhile (mail
    through Postfix, a fresh scrape); then the whole-request deadline ends
    every survivor, however steadily it trickles."""
    before = open_fds(pid)
    t = Tricklers(port, n)
    stop = threading.Event()

    def loop():
        while not stop.wait(1.0):
            t.trickle()
    th = threading.Thread(target=loop, daemon=True)
    th.start()
    try:
        assert wait_until(lambda: t.open() <= CAP, 30), f"{t.open()} of {n} still open"
        assert wait_until(lambda: open_fds(pid) <= before + CAP + 8, 30), \
            f"{open_fds(pid)} descriptors, {before} before {n} clients"
        during()
        # 5 s idle timeout never fires (a byte a second); only the deadline can
        assert wait_until(lambda: t.open() == 0, DEADLINE * 6), \
            f"{t.open()} trickling clients outlived the {DEADLINE} s deadline"
    finally:
        stop.set()
        th.join()
        t.close()
