"""webhook_verify_status in a real nginx with two workers: after known
traffic (valid, forged, malformed, replayed, too large, a full replay zone
refusing or evicting) every counter moved by exactly that, whichever
worker served each request and whichever answers the scrape; the
exposition passes `promtool check metrics`; a reload keeps the counters.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_nginx_status.py
"""

import http.client
import os
import pathlib
import re
import signal
import time

import pytest

from nginx_harness import (Nginx, Upstream, free_port, location, needs_module,
                           sign_github, sign_standard)
from prom_harness import needs_promtool, parse, promtool, value

pytestmark = needs_module

STD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WRONG_SECRET = "whsec_" + "A" * 32
GH_SECRET = "It's a Secret to Everybody"
OUTCOMES = ("verified", "bad_request", "unauthorized", "replayed", "too_large",
            "unavailable", "error")
REQ = "postseal_webhook_requests_total"
HASHED = "postseal_webhook_hashed_bytes_total"


def fresh_body(n=0):
    return b'{"delivery":"' + os.urandom(8).hex().encode() + b'"' + b" " * n + b"}"


def std(body, secret=STD_SECRET):
    return sign_standard(secret, "msg_" + os.urandom(8).hex(), int(time.time()), body)


class Front:
    """The nginx under test and its reuseport server: every request on a
    fresh connection, so the kernel spreads them over both workers; the
    server's access log records which worker ($pid) answered."""

    def __init__(self, ng, port, pid_log):
        self.ng, self.port, self.pid_log = ng, port, pid_log

    def request(self, path, body=b"", headers=None, method="POST"):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request(method, path, body=body, headers=dict(headers or {}))
            r = c.getresponse()
            return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()

    def scrape(self):
        status, body, hdrs = self.request("/status", method="GET")
        assert status == 200, body
        return parse(body.decode()), body.decode(), hdrs

    def pids(self, path):
        """The workers that answered requests for path so far."""
        lines = pathlib.Path(self.pid_log).read_text().splitlines()
        return {line.split()[0] for line in lines if line.split()[2] == path}


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx-status")
    os.chmod(tmp, 0o755)
    port = free_port()
    with Upstream() as up:
        ups = f"127.0.0.1:{up.port}"
        locs = "\n".join([
            location("/std", "standard", [STD_SECRET], upstream=ups,
                     extra="webhook_verify_replay zone=wh;"),
            location("/small", "standard", [STD_SECRET], upstream=ups,
                     extra="webhook_verify_max_body 1k;"),
            location("/gh", "github", [GH_SECRET], upstream=ups),
            location("/uncounted", "standard", [STD_SECRET], upstream=ups,
                     extra="webhook_verify_counters off;"),
            # an hour's tolerance: no entry expires while a test runs
            location("/refuse", "github", [GH_SECRET], upstream=ups, extra="""
                webhook_verify_tolerance 1h;
                webhook_verify_replay zone=tiny1;"""),
            location("/evict", "github", [GH_SECRET], upstream=ups, extra="""
                webhook_verify_tolerance 1h;
                webhook_verify_replay zone=tiny2 full=evict;"""),
            """location = /status {
                webhook_verify_status;
                allow 127.0.0.1;
                deny all;
            }""",
        ])
        pid_log = tmp / "pids.log"
        http_conf = f"""
    webhook_verify_replay_zone wh:1m;
    webhook_verify_replay_zone tiny1:32k;
    webhook_verify_replay_zone tiny2:32k;
    log_format pids '$pid $status $uri';
    server {{
        listen 127.0.0.1:{port} reuseport;
        access_log {pid_log} pids;
        {locs}
    }}"""
        with Nginx(tmp, "location = /status { webhook_verify_status; }",
                   http=http_conf, upstream=up, workers=2) as ng:
            yield Front(ng, port, pid_log)


def deltas(before, after):
    """The series that moved, with how much; a series that vanished fails."""
    assert set(before) <= set(after), set(before) - set(after)
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def req_key(scheme, outcome):
    return (REQ, (("outcome", outcome), ("scheme", scheme)))


def test_every_configured_scheme_is_shown_at_zero_before_traffic(front):
    samples, _, _ = front.scrape()
    for scheme in ("standard", "github"):
        for outcome in OUTCOMES:
            value(samples, REQ, scheme=scheme, outcome=outcome)
        value(samples, HASHED, scheme=scheme)
    # schemes no location verifies have no series
    assert not [k for k in samples if ("scheme", "stripe") in k[1]]
    for name in ("postseal_webhook_replay_entries",
                 "postseal_webhook_replay_evictions_total",
                 "postseal_webhook_replay_refusals_total"):
        value(samples, name)


def test_counters_move_by_exactly_the_traffic_summed_over_workers(front):
    before, _, _ = front.scrape()
    body = fresh_body()
    valid = []
    for _ in range(40):
        b = fresh_body()
        h = std(b)
        assert front.request("/std", b, h)[0] == 200
        valid.append((b, h))
    for b, h in valid[:3]:  # replays
        assert front.request("/std", b, h)[0] == 409
    for _ in range(7):  # forged: signed with another secret
        assert front.request("/std", body, std(body, WRONG_SECRET))[0] == 401
    for _ in range(2):  # malformed timestamp
        h = dict(std(body), **{"webhook-timestamp": "hello"})
        assert front.request("/std", body, h)[0] == 400
    big = fresh_body(2000)
    for _ in range(4):  # over 1k, refused on Content-Length before the body
        assert front.request("/small", big, std(big))[0] == 413
    for _ in range(5):
        b = fresh_body()
        assert front.request("/gh", b, sign_github(GH_SECRET, b))[0] == 200
    after, _, _ = front.scrape()

    size = len(body)  # every body of the /std traffic has the same length
    assert deltas(before, after) == {
        req_key("standard", "verified"): 40,
        req_key("standard", "replayed"): 3,
        req_key("standard", "unauthorized"): 7,
        req_key("standard", "bad_request"): 2,
        req_key("standard", "too_large"): 4,
        req_key("github", "verified"): 5,
        # verified, replayed and forged bodies are hashed; the malformed and
        # too large ones are refused on their headers
        (HASHED, (("scheme", "standard"),)): (40 + 3 + 7) * size,
        (HASHED, (("scheme", "github"),)): 5 * size,
        ("postseal_webhook_replay_entries", ()): 40,
    }
    # both workers served some of it: the sums are over both
    assert len(front.pids("/std")) == 2, front.pids("/std")


def test_counters_off_location_is_verified_but_not_counted(front):
    """webhook_verify_counters off (make bench's on/off row): the location
    still verifies, and no series moves."""
    before, _, _ = front.scrape()
    b = fresh_body()
    assert front.request("/uncounted", b, std(b))[0] == 200
    assert front.request("/uncounted", b, std(b, WRONG_SECRET))[0] == 401
    after, _, _ = front.scrape()
    assert deltas(before, after) == {}


def test_every_worker_answers_the_same_sums(front):
    first, text, _ = front.scrape()
    for _ in range(200):
        again, _, _ = front.scrape()
        assert again == first
        if len(front.pids("/status")) == 2:
            break
    assert len(front.pids("/status")) == 2


def test_full_zone_with_refuse_counts_refusals(front):
    before, _, _ = front.scrape()
    accepted = 0
    for _ in range(3000):
        b = fresh_body()
        status = front.request("/refuse", b, sign_github(GH_SECRET, b))[0]
        if status != 200:
            break
        accepted += 1
    assert status == 503 and 50 < accepted < 3000, (status, accepted)
    for _ in range(5):
        b = fresh_body()
        assert front.request("/refuse", b, sign_github(GH_SECRET, b))[0] == 503
    after, _, _ = front.scrape()
    d = deltas(before, after)
    assert d.pop(req_key("github", "verified")) == accepted
    assert d.pop(req_key("github", "unavailable")) == 6
    assert d.pop(("postseal_webhook_replay_refusals_total", ())) == 6
    assert d.pop(("postseal_webhook_replay_entries", ())) == accepted
    assert list(d) == [(HASHED, (("scheme", "github"),))]


def test_full_zone_with_evict_counts_evictions(front):
    before, _, _ = front.scrape()
    sent = 600  # more than a 32k zone holds
    for _ in range(sent):
        b = fresh_body()
        assert front.request("/evict", b, sign_github(GH_SECRET, b))[0] == 200
    after, _, _ = front.scrape()
    d = deltas(before, after)
    assert d.pop(req_key("github", "verified")) == sent
    evicted = d.pop(("postseal_webhook_replay_evictions_total", ()))
    held = d.pop(("postseal_webhook_replay_entries", ()))
    assert evicted > 0 and held > 50
    assert evicted + held == sent  # each id is held or was evicted
    assert list(d) == [(HASHED, (("scheme", "github"),))]


@needs_promtool
def test_exposition_passes_promtool(front):
    _, text, hdrs = front.scrape()
    assert hdrs["content-type"].startswith("text/plain; version=0.0.4"), hdrs
    rc, out = promtool("check", "metrics", stdin=text)
    assert rc == 0, out + text
    assert out.strip() == "", out  # not even a lint warning


def test_status_answers_get_and_head_only(front):
    status, body, hdrs = front.request("/status", method="HEAD")
    assert status == 200 and body == b"" and int(hdrs["content-length"]) > 100
    assert front.request("/status", b"x", method="POST")[0] == 405


def worker_pids(master):
    out = set()
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            out.add(int(stat.parent.name))
    return out


def test_reload_keeps_the_counters(front):
    b = fresh_body()
    assert front.request("/gh", b, sign_github(GH_SECRET, b))[0] == 200
    before, _, _ = front.scrape()
    master = front.ng.proc.pid
    old = worker_pids(master)
    assert len(old) == 2
    os.kill(master, signal.SIGHUP)
    for _ in range(600):  # until the old workers are gone and two new ones run
        now = worker_pids(master)
        if len(now) == 2 and not now & old:
            break
        time.sleep(0.05)
    assert len(now) == 2 and not now & old, (old, now)
    after, _, _ = front.scrape()
    assert after == before
    assert front.request("/gh", b, sign_github(GH_SECRET, b))[0] == 200  # no replay zone
    again, _, _ = front.scrape()
    assert deltas(after, again) == {req_key("github", "verified"): 1,
                                    (HASHED, (("scheme", "github"),)): len(b)}


def test_replay_zone_may_not_take_the_counters_name(tmp_path):
    os.chmod(tmp_path, 0o755)
    for http_conf, server in [
            ("webhook_verify_replay_zone webhook_verify_status:1m;", ""),
            ("", location("/x", "github", ["s"],
                          extra="webhook_verify_replay zone=webhook_verify_status;"))]:
        rc, out = Nginx(tmp_path, server, http=http_conf).check()
        assert rc != 0 and "webhook_verify_status" in out, out
        assert re.search(r"nginx\.conf:\d+", out), out
