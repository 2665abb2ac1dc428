"""Scraping a postseal metrics endpoint in tests: the exposition text
(checked by promtool), parsed into {(name, labels): value}."""

import http.client
import re
import shutil
import subprocess

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
