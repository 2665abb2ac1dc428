"""Delivery events as signed webhooks (issue 14, points 2 and 3): the
Postfix stack of test_events.py (a real Postfix signing through
postseal-milter, relaying to a server that accepts, defers and refuses,
postseal-policyd following its log) with two [endpoint] sections, a
Standard Webhooks one for all mail and a Postal one for one SASL login,
POSTing to an HTTPS receiver on loopback whose certificate comes from a
test CA (ca_file). Every spooled event must arrive at each endpoint that
wants it, answered 200 exactly once, with the body the spool holds and a
signature that Python's hmac (Standard Webhooks) and python3-cryptography
(Postal's RSA) verify; the endpoint answering 503 for a while, then 200:
every event still arrives; policyd killed -9 while a POST is in flight
and restarted: nothing lost, a repeat only with the same webhook-id.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_webhooks.py
"""

import base64
import json
import os
import secrets
import subprocess
import time

import pytest

import mailstack as ms
from test_events import Stack, CLI, MILTER, POLICYD  # noqa: F401 (the stack)
from webhook_receiver import Receiver, make_ca, make_whsec, verify_postal, verify_standard

pytestmark = pytest.mark.skipif(
    not (os.access(MILTER, os.X_OK) and os.access(POLICYD, os.X_OK)),
    reason="daemons not built")

LOGIN = "app1@example.com"


class HookStack(Stack):
    """test_events' stack, its postseal.conf given two endpoints before
    policyd first starts."""

    def start_policyd(self):
        if not hasattr(self, "rx"):
            self.add_endpoints()
        super().start_policyd()

    def add_endpoints(self):
        ca, cert, key = make_ca(self.tmp)
        self.rx = Receiver(cert, key)
        self.secret, self.secret_file = make_whsec(self.tmp)
        self.postal_key = os.path.join(self.tmp, "postal.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", self.postal_key], check=True,
                       capture_output=True)
        os.chmod(self.postal_key, 0o600)
        self.postal_pub = subprocess.run(["openssl", "pkey", "-in", self.postal_key, "-pubout"],
                                         check=True, capture_output=True).stdout
        with open(self.conf, "a") as f:
            f.write(f"\n[endpoint std]\nurl = {self.rx.url('/std')}\nfor = all\n"
                    f"secret = {self.secret_file}\nca_file = {ca}\nretry_first = 1\n"
                    f"\n[endpoint postal]\nurl = {self.rx.url('/postal')}\n"
                    f"for = sasl_username:{LOGIN}\nformat = postal\nkey = {self.postal_key}\n"
                    f"ca_file = {ca}\nretry_first = 1\nconcurrency = 2\n")
        r = subprocess.run([CLI, "check", "-c", self.conf], capture_output=True, text=True)
        assert "endpoint" not in r.stderr, r.stderr

    def close(self):
        self.rx.close()
        super().close()


@pytest.fixture(scope="module")
def stack():
    with ms.running(HookStack, "postseal-webhooks-") as s:
        yield s


def wait_for(cond, what, stack, timeout=90):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what}\n{stack.pd.log()[-3000:]}")


def fresh(stack):
    """The receiver as a test expects it, whatever one before left."""
    stack.rx.down = False
    stack.rx.delay = 0.0


def std_ids(stack):
    return [h["webhook-id"] for h, _ in stack.rx.delivered("/std")]


def check_all_delivered(stack):
    """Every event spooled so far, at each endpoint that wants it,
    delivered with a verified signature and the spool's content; returns
    that spool (events spooled meanwhile may still be on their way)."""
    spool = {e["id"]: e for e in stack.spool()}
    want_postal = {i for i, e in spool.items() if e["credential"] == LOGIN}
    wait_for(lambda: set(std_ids(stack)) >= set(spool), "std endpoint incomplete", stack)
    wait_for(lambda: {json.loads(b)["uuid"] for _, b in stack.rx.delivered("/postal")}
             >= want_postal, "postal endpoint incomplete", stack)
    done, spool = spool, {e["id"]: e for e in stack.spool()}
    for h, body in stack.rx.delivered("/std"):
        assert verify_standard(stack.secret, h, body), h
        ev = json.loads(body)
        assert ev == spool[h["webhook-id"]], (ev, spool[h["webhook-id"]])
    postal_names = {"sent": "MessageSent", "delayed": "MessageDelayed",
                    "failed": "MessageDeliveryFailed", "held": "MessageHeld",
                    "bounced": "MessageBounced"}
    for h, body in stack.rx.delivered("/postal"):
        assert verify_postal(stack.postal_pub, h, body)
        ev = json.loads(body)
        src = spool[ev["uuid"]]
        assert src["credential"] == LOGIN  # for = sasl_username:LOGIN only
        assert ev["event"] == postal_names[src["event"]]
        msg = ev["payload"]["original_message" if src["event"] == "bounced" else "message"]
        assert msg["to"] == src["recipient"] and msg["id"] == src["qid"]
    return done


def test_events_arrive_signed_once(stack):
    fresh(stack)
    q1 = stack.send("hi", "w1@example.com",
                    ["ok1@dest.test", "defer1@dest.test", "refuse1@dest.test"],
                    xclient={"LOGIN": LOGIN})
    q2 = stack.send("hi", "w2@example.com", ["ok2@dest.test"])  # no login: std only
    stack.pf.wait_log(rf"{q1}: to=<refuse1@dest.test>.*status=bounced")
    stack.pf.wait_log(rf"{q1}: to=<defer1@dest.test>.*status=deferred")
    stack.pf.wait_log(rf"{q2}: to=<ok2@dest.test>.*status=sent")
    stack.wait_caught_up()
    spool = check_all_delivered(stack)
    kinds = {e["event"] for e in spool.values()}
    assert {"sent", "delayed", "failed"} <= kinds, kinds
    ids = std_ids(stack)
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    uuids = [json.loads(b)["uuid"] for _, b in stack.rx.delivered("/postal")]
    assert len(uuids) == len(set(uuids)) and uuids
    assert not any(json.loads(b)["payload"]["message"]["id"] == q2
                   for _, b in stack.rx.delivered("/postal"))
    # postseal's own verifier (as the nginx module uses it) accepts them
    pub = os.path.join(stack.tmp, "postal.pub")
    with open(pub, "wb") as f:
        f.write(stack.postal_pub)
    for path, args in (("/std", ["standard", "--secret-file", stack.secret_file]),
                       ("/postal", ["postal", "--key-file", pub])):
        h, body = stack.rx.delivered(path)[0]
        req = "".join(f"{k}: {v}\r\n" for k, v in h.items()).encode() + b"\r\n" + body
        r = subprocess.run([CLI, "webhook", "verify", "--scheme", *args, "--tolerance", "off"],
                           input=req, capture_output=True)
        assert r.returncode == 0, r.stderr
        r = subprocess.run([CLI, "webhook", "verify", "--scheme", *args, "--tolerance", "off"],
                           input=req.replace(b'"event":"', b'"evEnt":"'), capture_output=True)
        assert r.returncode == 1, r.stderr
    # a delivered event leaves the state (later deferrals may be pending)
    def state_ids(name):
        with open(os.path.join(stack.events, "webhooks", f"{name}.state")) as f:
            return {l.split()[2] for l in f if l.startswith("I ")}
    wait_for(lambda: not state_ids("std") & set(ids), "delivered but kept", stack)
    wait_for(lambda: not state_ids("postal") & set(uuids), "delivered but kept", stack)


def test_endpoint_down_then_back(stack):
    fresh(stack)
    before = len(stack.rx.hits)
    stack.rx.down = True
    q = stack.send("hi", "w3@example.com", ["ok3@dest.test", "ok33@dest.test"],
                   xclient={"LOGIN": LOGIN})
    stack.pf.wait_log(rf"{q}: to=<ok33@dest.test>.*status=sent")
    stack.pf.wait_log(rf"{q}: to=<ok3@dest.test>.*status=sent")
    # refused at least twice each way: retried, not dropped
    wait_for(lambda: sum(s == 503 for _, _, _, s in stack.rx.hits[before:]) >= 6,
             "no retries while down", stack)
    q_ids = {e["id"] for e in stack.spool() if e["qid"] == q}
    assert len(q_ids) == 2
    def tried():  # kept and tried: in the saved state (saved each tick)
        with open(os.path.join(stack.events, "webhooks", "std.state")) as f:
            pending = {l.split()[2]: int(l.split()[3]) for l in f if l.startswith("I ")}
        return all(pending.get(i, 0) >= 1 for i in q_ids)
    wait_for(tried, "refused events not kept with their attempts", stack)
    stack.rx.down = False
    check_all_delivered(stack)
    ids = std_ids(stack)
    assert len(ids) == len(set(ids))
    assert "result=retry" in stack.pd.log()


def test_concurrency_bounded(stack):
    """Slow answers and many events: never more POSTs in flight to an
    endpoint than its concurrency (postal 2, std the default 4)."""
    fresh(stack)
    stack.rx.delay = 1.0
    stack.rx.max_busy.clear()
    rcpts = [f"ok6{i}@dest.test" for i in range(10)]
    q = stack.send("hi", "w6@example.com", rcpts, xclient={"LOGIN": LOGIN})
    for r in rcpts:
        stack.pf.wait_log(rf"{q}: to=<{r}>.*status=sent")
    stack.wait_caught_up()
    check_all_delivered(stack)
    stack.rx.delay = 0.0
    assert 1 <= stack.rx.max_busy["/postal"] <= 2, stack.rx.max_busy
    assert 1 <= stack.rx.max_busy["/std"] <= 4, stack.rx.max_busy


def test_kill_during_delivery(stack):
    fresh(stack)
    stack.rx.delay = 3.0
    q = stack.send("hi", "w4@example.com", ["ok4@dest.test", "refuse4@dest.test"],
                   xclient={"LOGIN": LOGIN})
    stack.pf.wait_log(rf"{q}: to=<refuse4@dest.test>.*status=bounced")
    stack.pf.wait_log(rf"{q}: to=<ok4@dest.test>.*status=sent")
    wait_for(lambda: stack.rx.busy > 0, "no POST in flight", stack)
    stack.kill_policyd()
    stack.rx.delay = 0.0
    stack.start_policyd()
    spool = check_all_delivered(stack)
    # a repeat is the same event: same webhook-id, same body
    seen = {}
    for h, body in stack.rx.delivered("/std"):
        ev = json.loads(body)
        assert seen.setdefault(h["webhook-id"], ev) == ev
    assert set(seen) >= set(spool)
    assert set(seen) <= {e["id"] for e in stack.spool()}


def pending(stack):
    r = subprocess.run([CLI, "events", "list", "--pending", "-c", stack.conf],
                       capture_output=True, text=True, check=True)
    return {(f[0], f[1]): int(f[3].split("=")[1])
            for f in (line.split() for line in r.stdout.splitlines())}


def events_cli(stack, *args):
    return subprocess.run([CLI, "events", *args, "-c", stack.conf],
                          capture_output=True, text=True)


def test_pending_retry_drop(stack):
    """events list --pending shows what waits; retry sends again now (its
    attempts counted afresh); drop forgets an event at one endpoint."""
    fresh(stack)
    stack.rx.down = True
    q = stack.send("hi", "w5@example.com", ["ok5@dest.test", "ok55@dest.test"],
                   xclient={"LOGIN": LOGIN})
    stack.pf.wait_log(rf"{q}: to=<ok55@dest.test>.*status=sent")
    stack.pf.wait_log(rf"{q}: to=<ok5@dest.test>.*status=sent")
    wait_for(lambda: len([e for e in stack.spool() if e["qid"] == q]) == 2, "not spooled", stack)
    keep, gone = sorted(e["id"] for e in stack.spool() if e["qid"] == q)
    wait_for(lambda: pending(stack).get(("std", keep), 0) >= 3, "not retried", stack)
    wait_for(lambda: pending(stack).get(("postal", gone), 0) >= 1, "postal not retried", stack)
    r = events_cli(stack, "drop", "std", gone)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: ("std", gone) not in pending(stack), "drop not applied", stack)
    r = events_cli(stack, "retry", "std", keep)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: pending(stack).get(("std", keep), 99) < 3, "retry not applied", stack)
    for bad in (["retry", "std", "nothex"], ["drop", "nosuch", keep], ["retry", "std"]):
        r = events_cli(stack, *bad)
        assert r.returncode == 2 and r.stderr.startswith("postseal: "), (bad, r.stderr)
    stack.rx.down = False
    wait_for(lambda: keep in std_ids(stack), "retried event not delivered", stack)
    wait_for(lambda: gone in {json.loads(b)["uuid"] for _, b in stack.rx.delivered("/postal")},
             "postal lost the event dropped at std", stack)
    wait_for(lambda: not any(k[1] in (keep, gone) for k in pending(stack)), "still pending", stack)
    assert gone not in std_ids(stack)


def test_check_loads_endpoint_material(tmp_path):
    """postseal check and postseal-policyd -n load each endpoint's secret or
    key as the sender will, blaming the line that names it."""
    (tmp_path / "ev").mkdir()
    secret = tmp_path / "app.whsec"
    secret.write_text("whsec_" + base64.b64encode(secrets.token_bytes(24)).decode() + "\n")
    secret.chmod(0o600)
    ec = tmp_path / "ec.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", str(ec)], check=True, capture_output=True)
    ec.chmod(0o600)
    conf = tmp_path / "postseal.conf"
    head = f"[events]\ndir = {tmp_path / 'ev'}\n[endpoint a]\nurl = https://h/\nfor = all\n"
    conf.write_text(head + f"secret = {secret}\n")
    r = subprocess.run([CLI, "check", "-c", str(conf)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for body, line, why in ((f"secret = {tmp_path}/none\n", 6, "cannot open"),
                            (f"format = postal\nkey = {ec}\n", 7, "RSA")):
        conf.write_text(head + body)
        for argv in ([CLI, "check", "-c", str(conf)], [POLICYD, "-n", "-c", str(conf)]):
            r = subprocess.run(argv, capture_output=True, text=True)
            assert r.returncode != 0 and f"{conf}:{line}: [endpoint a]" in r.stderr, r.stderr
            assert why in r.stderr, r.stderr


def anymail_python():
    """Debian's python3 with Debian's django-anymail, or None."""
    r = subprocess.run(["/usr/bin/python3", "-c", "import anymail, django"], capture_output=True)
    return "/usr/bin/python3" if r.returncode == 0 else None


SPOOL_KINDS = {"sent": "delivered", "delayed": "deferred", "failed": "failed",
               "held": "queued", "bounced": "bounced"}


@pytest.mark.skipif(anymail_python() is None, reason="python3-django-anymail not installed")
def test_anymail_postal_tracking(tmp_path):
    """A real application: django-anymail's Postal tracking view, given the
    public half of the endpoint's key, takes each event postseal POSTs
    (its tracking signal fires with the right type, recipient and ids) and
    refuses a forged or an altered one."""
    import urllib.error
    import urllib.request
    ev = tmp_path / "ev"
    ev.mkdir()
    lines, want = [], {}
    for i, kind in enumerate(SPOOL_KINDS):
        ident = f"{i:032x}"
        lines.append(f"E {ident} 1796576837 {kind} Q{i} <m{i}@a.example> app@a.example - "
                     f"127.0.0.1 r{i}@dest.test 5.1.1 550%205.1.1%20no m:0:{i}:0\n")
        want[ident] = (SPOOL_KINDS[kind], f"r{i}@dest.test", f"Q{i}")
    (ev / "spool").write_text("".join(lines))
    key = tmp_path / "postal.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(key)], check=True, capture_output=True)
    key.chmod(0o600)
    pub = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout"], check=True,
                         capture_output=True, text=True).stdout
    pub_b64 = "".join(l for l in pub.splitlines() if not l.startswith("-----"))
    port, pport, out = ms.free_port(), ms.free_port(), tmp_path / "tracking.jsonl"
    app = ms.Daemon([anymail_python(), os.path.join(os.path.dirname(__file__), "anymail_app.py"),
                     str(port), str(out), pub_b64], port=port)
    url = f"http://127.0.0.1:{port}/anymail/postal/tracking/"
    conf = tmp_path / "postseal.conf"
    ms.write_ini(str(conf), {
        "policyd": {"listen": f"inet:127.0.0.1:{pport}", "store": f"lmdb:{tmp_path}/quota"},
        "events": {"dir": str(ev)},
    })
    with open(conf, "a") as f:
        f.write(f"[endpoint django]\nurl = {url}\nfor = all\nformat = postal\nkey = {key}\n"
                "retry_first = 1\nstart = beginning\n")  # the spool is written first
    pd = ms.Daemon([POLICYD, "-f", "-c", str(conf)], port=pport)
    try:
        def got():
            return [json.loads(l) for l in out.read_text().splitlines()] if out.exists() else []
        end = time.monotonic() + 60
        while len(got()) < len(want) and time.monotonic() < end:
            time.sleep(0.2)
        have = {e["event_id"]: (e["type"], e["recipient"], e["message_id"]) for e in got()}
        assert have == want, (have, pd.log()[-2000:], app.log()[-2000:])
        assert all(e["esp"] == "Postal" for e in got())
        # forged (another key) and altered (body changed after signing): 400
        body = json.dumps({"event": "MessageSent", "timestamp": 1, "uuid": "x", "payload": {
            "status": "Sent", "message": {"id": "Q9", "to": "z@dest.test"}}}).encode()
        other = tmp_path / "other.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out", str(other)],
                       check=True, capture_output=True)
        other.chmod(0o600)

        def post(keyfile, data, alter=False):
            hdrs = subprocess.run([CLI, "webhook", "sign", "--scheme", "postal", "--key-file",
                                   str(keyfile)], input=data, capture_output=True, check=True)
            headers = dict(l.split(": ", 1) for l in hdrs.stdout.decode().splitlines())
            headers["Content-Type"] = "application/json"
            req = urllib.request.Request(url, data=data.replace(b"z@", b"y@") if alter else data,
                                         headers=headers, method="POST")
            try:
                return urllib.request.urlopen(req, timeout=30).status
            except urllib.error.HTTPError as e:
                return e.code
        assert post(key, body) == 200
        assert post(other, body) == 400
        assert post(key, body, alter=True) == 400
        assert len(got()) == len(want) + 1
    finally:
        report = ms.shutdown(pd, app)
    assert report is None, report
