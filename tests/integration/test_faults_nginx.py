"""Faults: nginx (two workers) reloaded (nginx -s reload) six times while
clients send Standard Webhooks requests, fresh ones and replays of ones
already accepted. No 5xx and no broken connection; every request answered 200
reached the upstream exactly once and nothing else did; every replay got
409, including replays of ids accepted before a reload: the replay zone
is shared memory, which a reload keeps (a full restart is another matter,
not covered here).

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest -s tests/integration/test_faults_nginx.py
"""

import collections
import http.client
import os
import random
import subprocess
import threading
import time

from faults_harness import Tally, figures
from nginx_harness import (NGINX, Nginx, Upstream, location, needs_module, sanitized,
                           sanitizer_env, sign_standard)

pytestmark = needs_module

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
RELOADS = 6
CLIENTS = 3
WORKERS = 2


def worker_pids(master):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True,
                         text=True).stdout
    return {int(p) for p in out.split()}


def reload_and_wait(ng):
    """nginx -s reload, then waits until none of the old workers is left
    and a new one runs; the seconds it took."""
    t = time.monotonic()
    old = worker_pids(ng.proc.pid)
    r = subprocess.run([NGINX, "-p", str(ng.dir), "-c", str(ng.dir / "nginx.conf"), "-s",
                        "reload"], capture_output=True, text=True, timeout=30,
                       env=sanitizer_env(ng.dir) if sanitized() else None)
    assert r.returncode == 0, r.stdout + r.stderr
    end = time.monotonic() + 60
    while time.monotonic() < end:
        now = worker_pids(ng.proc.pid)
        if len(now) == WORKERS and not now & old:
            return time.monotonic() - t
        time.sleep(0.02)
    raise AssertionError(f"workers {old} still running 60s after the reload")


class Accepted:
    """Requests answered 200: id -> (body, headers), for replays."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = {}

    def add(self, msg_id, body, hdrs):
        with self.lock:
            self.items[msg_id] = (body, hdrs)

    def pick(self, rng):
        with self.lock:
            return rng.choice(list(self.items.items())) if self.items else None

    def ids(self):
        with self.lock:
            return set(self.items)


def post(ng, body, hdrs, tally):
    try:
        return ng.request("/wh", body, hdrs, timeout=60)[0]
    except (OSError, http.client.HTTPException) as e:
        tally.add("errors", repr(e))
        return None


def client(ng, n, accepted, tally, running):
    rng = random.Random(n)
    k = 0
    while running.is_set():
        k += 1
        old = accepted.pick(rng) if k % 4 == 0 else None
        if old:  # a replay of one already accepted
            msg_id, (body, hdrs) = old
            status = post(ng, body, hdrs, tally)
            tally.add("replays")
            tally.add(f"replay_{status}")
            continue
        msg_id = f"msg_{n}_{k}_{os.urandom(4).hex()}"
        body = f'{{"type":"email.delivered","data":{{"id":"{msg_id}"}}}}'.encode()
        hdrs = sign_standard(SECRET, msg_id, int(time.time()), body)
        status = post(ng, body, hdrs, tally)
        tally.add("fresh")
        tally.add(f"fresh_{status}")
        if status == 200:
            accepted.add(msg_id, body, hdrs)


def test_reload_under_load_no_5xx_nothing_lost_replays_still_refused(tmp_path):
    os.chmod(tmp_path, 0o755)
    locs = location("/wh", "standard", [SECRET], extra="webhook_verify_replay zone=wh;")
    with Upstream() as up, Nginx(tmp_path, locs, http="webhook_verify_replay_zone wh:1m;",
                                 upstream=up, workers=WORKERS) as ng:
        tally, accepted, running = Tally(), Accepted(), threading.Event()
        running.set()
        threads = [threading.Thread(target=client, args=(ng, n, accepted, tally, running))
                   for n in range(CLIENTS)]
        for t in threads:
            t.start()
        took, crossed = [], collections.Counter()
        for i in range(RELOADS):
            end = time.monotonic() + 120
            while len(accepted.ids()) < 20 * (i + 1) and time.monotonic() < end:
                time.sleep(0.01)
            assert len(accepted.ids()) >= 20 * (i + 1), tally.n
            before = accepted.pick(random.Random(i))
            took.append(reload_and_wait(ng))
            # an id accepted before this reload, replayed after it
            crossed[post(ng, before[1][0], before[1][1], tally)] += 1
        time.sleep(0.5)  # a little load after the last reload
        running.clear()
        for t in threads:
            t.join(120)

        got = collections.Counter(r.headers.get("x-webhook-id") for r in up.requests)
        statuses = {k: v for k, v in tally.n.items() if k.startswith(("fresh_", "replay_"))}
        figures("nginx_reload", reloads=RELOADS, workers=WORKERS, clients=CLIENTS,
                fresh=tally["fresh"],
                fresh_200=tally["fresh_200"], replays=tally["replays"] + sum(crossed.values()),
                replays_409=tally["replay_409"] + crossed[409],
                replays_across_reload_409=f"{crossed[409]}/{RELOADS}",
                upstream_received=len(up.requests),
                upstream_duplicates=sum(v - 1 for v in got.values() if v > 1),
                errors=tally["errors"],
                fivexx=sum(v for k, v in statuses.items() if k.endswith(("_500", "_502",
                                                                         "_503", "_504"))),
                reload_s="/".join(f"{x:.2f}" for x in took))
        assert not tally.lists["errors"], tally.lists["errors"][:5]
        assert statuses == {"fresh_200": tally["fresh"], "replay_409": tally["replays"]}, \
            statuses
        assert crossed == {409: RELOADS}, crossed
        assert tally["replays"] > 0
        assert got == collections.Counter(accepted.ids()), "upstream != the 200s, once each"
        log = ng.error_log()
        assert "exited on signal" not in log and "[emerg]" not in log, log[-3000:]
