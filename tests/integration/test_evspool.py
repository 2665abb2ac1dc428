"""The event spool's retention, SIGHUP and where a new endpoint starts
(issue 14): a real postseal-policyd delivers the spool ([events] dir/spool,
its lines written here as the follower writes them) to [endpoint]
sections that POST to a plain-HTTP receiver on loopback, one path
answering 200, another 503 until released, a third holding requests
until released.

- retention: delivered events older than retention leave the spool, the
  undelivered ones stay, and are still delivered, each with its own body
  (offsets moved right); young events stay.
- kill -9 at each step of a compaction (PS_WHS_CRASH_ENV): after a restart
  nothing undelivered is lost, and nothing is sent again that the saved
  state said was delivered.
- SIGHUP: an endpoint added receives new events (start = now) or the whole
  spool (start = beginning); one changed keeps its state and its POST in
  flight; one removed finishes its POST in flight, then its state goes.
- 100,000 events: the spool's size with retention and without.

Ages are far from the retention boundary (days against seconds), so no
outcome depends on timing; waits only bound how long a step may take.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_evspool.py
"""

import glob
import hashlib
import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

import mailstack as ms
from webhook_receiver import make_whsec

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
POLICYD = os.path.join(BUILD, "postseal-policyd")
CLI = os.path.join(BUILD, "postseal")
CRASH_ENV = "POSTSEAL_TEST_CRASH_COMPACT"
DAY = 86400

pytestmark = pytest.mark.skipif(not os.access(POLICYD, os.X_OK), reason="policyd not built")


class Receiver:
    """Records (path, webhook-id, body id); 503 on paths in `down`, holds
    requests on paths in `hold` until release()."""

    def __init__(self):
        self.hits, self.down, self.hold = [], set(), set()
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.waiting = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path in outer.hold:
                    with outer.lock:
                        outer.waiting += 1
                    outer.gate.wait(60)
                    with outer.lock:
                        outer.waiting -= 1
                status = 503 if self.path in outer.down else 200
                with outer.lock:
                    outer.hits.append((self.path, self.headers["webhook-id"],
                                       json.loads(body)["id"], status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def ids(self, path, ok_only=True):
        with self.lock:
            return [i for p, i, _, s in self.hits if p == path and (s == 200 or not ok_only)]

    def release(self):
        self.hold.clear()
        self.gate.set()

    def close(self):
        self.release()
        self.srv.shutdown()
        self.srv.server_close()


def event_line(n, when, kind="sent"):
    ident = hashlib.sha256(f"evspool test {n}".encode()).hexdigest()[:32]
    line = (f"E {ident} {when} {kind} Q{n} <m{n}@example.com> app@example.com - "
            f"127.0.0.1 r{n}@dest.test 2.0.0 250%20ok m:0:1:{n}\n")
    return ident, line


def append(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def wait_for(cond, what, pd=None, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise TimeoutError(what + ("\n" + pd.log()[-3000:] if pd else ""))


class World:
    """A policyd with an [events] dir and a receiver; endpoints as given."""

    def __init__(self, tmp, events_conf=None):
        self.tmp = tmp
        self.events = os.path.join(tmp, "events")
        os.makedirs(self.events, exist_ok=True)
        self.spool = os.path.join(self.events, "spool")
        self.rx = Receiver()
        self.secret, self.secret_file = make_whsec(tmp)
        self.pport = ms.free_port()
        self.conf = os.path.join(tmp, "postseal.conf")
        self.events_conf = events_conf or {}
        self.pd, self.pds = None, []

    def write_conf(self, endpoints):
        sections = {
            "policyd": {"listen": f"inet:127.0.0.1:{self.pport}",
                        "store": f"lmdb:{self.tmp}/quota"},
            "events": {"dir": self.events, **self.events_conf},
        }
        for name, ep in endpoints.items():
            sections[f"endpoint {name}"] = {"url": self.rx.url(ep.pop("path")), "for": "all",
                                            "secret": self.secret_file, "retry_first": 1, **ep}
        ms.write_ini(self.conf, sections)
        r = subprocess.run([CLI, "check", "-c", self.conf], capture_output=True, text=True)
        assert "endpoint" not in r.stderr and "events" not in r.stderr, r.stderr

    def start(self, env=None):
        self.pd = ms.Daemon([POLICYD, "-f", "-c", self.conf], port=self.pport,
                            env={**os.environ, **(env or {})})
        self.pds.append(self.pd)

    def spool_ids(self):
        try:
            with open(self.spool) as f:
                return [line.split(" ")[1] for line in f]
        except FileNotFoundError:
            return []

    def state(self, name):
        """(scanned, [ids held]) of an endpoint's state file."""
        with open(os.path.join(self.events, "webhooks", name + ".state")) as f:
            lines = f.read().split("\n")
        return int(lines[0].split()[1]), [ln.split()[2] for ln in lines[1:] if ln]

    def drained(self, name):
        try:
            scanned, held = self.state(name)
        except FileNotFoundError:
            return False
        return not held and scanned == os.path.getsize(self.spool)

    def leftovers(self):
        return (glob.glob(os.path.join(self.events, "*.compact")) +
                glob.glob(os.path.join(self.events, "webhooks", "*.compact")) +
                glob.glob(os.path.join(self.events, "compact.commit")))

    def close(self):
        report = ms.shutdown(*self.pds)
        self.rx.close()
        assert report is None, report


@pytest.fixture
def world(tmp_path):
    os.chmod(tmp_path, 0o755)
    w = World(str(tmp_path), {"retention": "10s"})
    yield w
    w.close()


def fill_retention_spool(w):
    """20 old events (sent and failed in turn), 5 from tomorrow; the
    endpoint 'all' gets all, 'fails' only failed ones, answered 503."""
    now = int(time.time())
    old, failed, young, text = [], [], [], ""
    for n in range(20):
        ident, line = event_line(n, now - 30 * DAY, "failed" if n % 2 else "sent")
        old.append(ident)
        failed += [ident] if n % 2 else []
        text += line
    for n in range(20, 25):
        ident, line = event_line(n, now + DAY)
        young.append(ident)
        text += line
    append(w.spool, text)
    w.write_conf({"all": {"path": "/ok", "start": "beginning"},
                  "fails": {"path": "/down", "events": "failed", "start": "beginning"}})
    w.rx.down.add("/down")
    return old, failed, young


def finish_and_check(w, old, failed, young, pd):
    """The spool holds the undelivered and the young; released, every
    failed event reaches 'fails' with its own body; then the young only."""
    # The failed events stay for 'fails' whether 'all' is done with them
    # or not: wait for both.
    wait_for(lambda: set(w.rx.ids("/ok")) == set(old + young), "'all' incomplete", pd)
    wait_for(lambda: sorted(w.spool_ids()) == sorted(failed + young) and not w.leftovers(),
             "spool not compacted to the undelivered and young events", pd)
    w.rx.down.clear()
    wait_for(lambda: set(w.rx.ids("/down")) == set(failed), "failed events not delivered", pd)
    wait_for(lambda: sorted(w.spool_ids()) == sorted(young) and not w.leftovers(),
             "spool not compacted", pd)
    for path, hdr_id, body_id, _ in w.rx.hits:
        assert hdr_id == body_id, (path, hdr_id, body_id)  # the event's own body
        assert path != "/down" or body_id in failed, body_id
    assert "compact result=failed" not in pd.log(), pd.log()


def test_retention_removes_delivered_keeps_undelivered(world):
    old, failed, young = fill_retention_spool(world)
    world.start()
    finish_and_check(world, old, failed, young, world.pd)
    ok = world.rx.ids("/ok")
    assert len(ok) == len(set(ok)), "an event was delivered twice"
    assert re.search(r"compact.*result=ok.*removed=", world.pd.log()), world.pd.log()


@pytest.mark.parametrize("step", [1, 2, 3, 4, 5])
def test_kill9_during_compaction(world, step):
    old, failed, young = fill_retention_spool(world)
    world.start(env={CRASH_ENV: str(step)})
    world.pd.proc.wait(60)
    assert world.pd.proc.returncode == -signal.SIGKILL, world.pd.log()[-2000:]
    # What the saved state says is still owed; all lines were scanned.
    owed = {}
    for name in ("all", "fails"):
        base = os.path.join(world.events, "webhooks", name + ".state")
        path = base + ".compact" if os.path.exists(base + ".compact") and \
            os.path.exists(os.path.join(world.events, "compact.commit")) else base
        with open(path) as f:
            owed[name] = {ln.split()[2] for ln in f.read().split("\n")[1:] if ln}
    hits_before = len(world.rx.hits)
    world.start()
    finish_and_check(world, old, failed, young, world.pd)
    again = [i for p, i, _, s in world.rx.hits[hits_before:] if p == "/ok"]
    assert set(again) <= owed["all"], "a delivered event was sent again"
    assert set(failed) <= owed["fails"], "the state on disk lost an undelivered event"


def test_sighup_endpoints_and_start(tmp_path):
    os.chmod(tmp_path, 0o755)
    w = World(str(tmp_path))
    try:
        now = int(time.time())
        first = [event_line(n, now) for n in range(4)]
        append(w.spool, "".join(line for _, line in first))
        w.write_conf({"first": {"path": "/a"}})  # start = now (default)
        w.start()
        i5, l5 = event_line(5, now)
        append(w.spool, l5)
        wait_for(lambda: w.rx.ids("/a") == [i5] and w.drained("first"), "first: E5", w.pd)

        # SIGHUP: two endpoints added, one from now, one from the beginning.
        w.write_conf({"first": {"path": "/a"}, "late": {"path": "/b"},
                      "full": {"path": "/c", "start": "beginning"}})
        mark = len(w.pd.log())
        w.pd.signal(signal.SIGHUP)
        w.pd.wait_log(r"reload.*result=ok", after=mark)
        wait_for(lambda: w.drained("late") and w.drained("full"), "new endpoints", w.pd)
        i6, l6 = event_line(6, now)
        w.rx.hold |= {"/a", "/b"}  # their POSTs of E6 stay in flight
        append(w.spool, l6)
        wait_for(lambda: w.rx.waiting == 2, "POSTs of E6 in flight", w.pd)

        # SIGHUP while they are in flight: first removed, late moved.
        w.write_conf({"late": {"path": "/b2"}, "full": {"path": "/c", "start": "beginning"}})
        mark = len(w.pd.log())
        w.pd.signal(signal.SIGHUP)
        w.pd.wait_log(r"reload.*result=ok", after=mark)
        assert os.path.exists(os.path.join(w.events, "webhooks", "first.state"))
        w.rx.release()
        wait_for(lambda: not os.path.exists(os.path.join(w.events, "webhooks", "first.state")),
                 "first's state not removed after its last POST", w.pd)
        wait_for(lambda: w.drained("late"), "late: E6 answered", w.pd)
        i7, l7 = event_line(7, now)
        append(w.spool, l7)
        wait_for(lambda: w.rx.ids("/b2") == [i7] and w.drained("late") and w.drained("full"),
                 "E7 at the moved endpoint", w.pd)
        assert w.rx.ids("/a") == [i5, i6]   # its POST in flight ended 200
        assert w.rx.ids("/b") == [i6]       # from now: E6, not the history
        assert sorted(w.rx.ids("/c")) == sorted([i for i, _ in first] + [i5, i6, i7])
        assert "endpoint=first result=removed undelivered_forgotten=0" in w.pd.log()
    finally:
        w.close()


def test_spool_size_100k(tmp_path, capsys):
    """100,000 events over 14 days, no endpoint: with retention = 7d about
    half the spool is left; with 3650d (no retention to speak of) all."""
    os.chmod(tmp_path, 0o755)
    sizes = {}
    for retention in ("3650d", "7d"):
        d = os.path.join(str(tmp_path), retention)
        os.mkdir(d)
        w = World(d, {"retention": retention})
        try:
            now = int(time.time())
            append(w.spool, "".join(event_line(n, now - n * 12)[1] for n in range(100000)))
            before = os.path.getsize(w.spool)
            w.write_conf({})
            w.start()
            if retention == "7d":
                wait_for(lambda: os.path.getsize(w.spool) < before * 0.6, "not compacted", w.pd)
            else:
                w.pd.wait_log(r"events|start")
                time.sleep(0)  # nothing to wait for: no compaction can remove anything
            sizes[retention] = (before, os.path.getsize(w.spool), len(w.spool_ids()))
        finally:
            w.close()
    with capsys.disabled():
        print(f"\nspool after 100000 events (14 days): without retention "
              f"{sizes['3650d'][1]} bytes ({sizes['3650d'][2]} events), with "
              f"retention = 7d {sizes['7d'][1]} bytes ({sizes['7d'][2]} events)")
    assert sizes["3650d"][1] == sizes["3650d"][0]
    assert 49000 < sizes["7d"][2] < 52000
