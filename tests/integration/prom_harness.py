"""Helpers for the metrics tests: a parser for the Prometheus text format
0.0.4, promtool (Debian's prometheus package) as the independent checker
of an exposition, a config or rules, and a private Prometheus on a
loopback port (own config and data directory under the test's temporary
directory, no systemd; /etc/prometheus is never read or written).

    with Prometheus(tmp, {"nginx": [f"127.0.0.1:{port}"]}, paths=...) as p:
        p.wait_query('postseal_webhook_requests_total{outcome="verified"}', 3)
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from nginx_harness import free_port, spawn, stop_process

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"

needs_promtool = pytest.mark.skipif(not os.access(PROMTOOL, os.X_OK),
                                    reason="promtool missing (apt-get install prometheus)")
needs_prometheus = pytest.mark.skipif(not os.access(PROMETHEUS, os.X_OK),
                                      reason="prometheus missing (apt-get install prometheus)")

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """The samples of an exposition: {(name, ((label, value), ...)): float},
    labels sorted; comment lines are skipped, any other line that is not a
    sample fails the test."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        key = (m.group(1), labels)
        assert key not in out, f"duplicate series: {line!r}"
        out[key] = float(m.group(3))
    return out


def value(samples, name, **labels):
    """One series' value; 0 when absent would hide a missing series, so a
    missing one fails."""
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, f"no series {name}{labels}"
    return samples[key]


def promtool(*args, stdin=None):
    """promtool ARGS: (returncode, stdout + stderr)."""
    r = subprocess.run([PROMTOOL, *args], input=stdin, capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


class Prometheus:
    """prometheus on 127.0.0.1:port scraping jobs every second. jobs:
    {job: [host:port, ...]}; paths: {job: metrics_path} where it is not
    /metrics."""

    def __init__(self, tmp, jobs, paths=None):
        self.dir = pathlib.Path(tmp) / f"prometheus-{free_port()}"
        (self.dir / "data").mkdir(parents=True)
        self.port = free_port()
        paths = paths or {}
        conf = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s",
                "scrape_configs:"]
        for job, targets in jobs.items():
            conf += [f"  - job_name: {json.dumps(job)}",
                     f"    metrics_path: {json.dumps(paths.get(job, '/metrics'))}",
                     "    static_configs:",
                     f"      - targets: {json.dumps(list(targets))}"]
        self.config = self.dir / "prometheus.yml"
        self.config.write_text("\n".join(conf) + "\n")
        self.proc = None

    def start(self):
        self.proc = spawn([PROMETHEUS, f"--config.file={self.config}",
                           f"--storage.tsdb.path={self.dir / 'data'}",
                           f"--web.listen-address=127.0.0.1:{self.port}"],
                          self.dir / "prometheus.log", self.port, cwd=self.dir, timeout=60)
        if self.proc is None:
            raise RuntimeError("prometheus did not start:\n" + self.log())
        self._wait_ready()
        return self

    def _wait_ready(self, timeout=60.0):
        """Its API answers 503 until the storage is open: /-/ready says when."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready",
                                            timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:  # urllib's HTTPError for the 503 is one too
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("prometheus never became ready:\n" + self.log())

    def stop(self):
        stop_process(self.proc, 30)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if not os.environ.get("POSTSEAL_KEEP"):
            shutil.rmtree(self.dir / "data", ignore_errors=True)

    def log(self):
        p = self.dir / "prometheus.log"
        return p.read_text(errors="replace")[-3000:] if p.exists() else ""

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        """An instant query: [(labels dict, float value), ...]."""
        return [(s["metric"], float(s["value"][1]))
                for s in self.api("query", query=expr)["result"]]

    def wait_query(self, expr, want, timeout=90.0):
        """Waits until expr returns exactly one series whose value is want
        (scrapes come every second; the bound only stops a hung test) and
        returns its labels."""
        end = time.monotonic() + timeout
        got = None
        while time.monotonic() < end:
            got = self.query(expr)
            if len(got) == 1 and got[0][1] == want:
                return got[0][0]
            time.sleep(0.5)
        raise AssertionError(f"{expr}: {got}, wanted one series = {want}\n{self.log()}")

    def targets(self):
        """{job: health} of the active targets."""
        return {t["labels"]["job"]: t["health"]
                for t in self.api("targets")["activeTargets"]}
