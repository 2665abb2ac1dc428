"""The event kinds beyond one delivery line (issue 14): test_events.py's
stack (a real Postfix signing through postseal-milter, relaying to a
loopback server that accepts, defers or refuses each recipient, policyd
following the mail log) with the suppression list on and one Standard
Webhooks [endpoint] at an HTTPS receiver.

- expiry: a message with a sent, a refused and two deferred recipients
  is given up by Postfix (maximal_queue_lifetime = 0 and a reload, so the
  next attempt expires it, whatever the clock): each deferred recipient
  gets exactly one failed event, with the id of the expiry line and the
  recipient, its last deferral's status and reply; policyd restarted
  between the deferrals and the expiry (what is pending comes from the
  spool); the expired recipients are not suppressed, the refused one is.
- holds: header_checks HOLD gives one held event per recipient, also when
  policyd read the hold line before the milter wrote the message's record
  (cleanup logs it while the message arrives: the test stops in the
  middle of DATA until policyd has read it); postsuper -h of a deferred
  message gives held with "placed on hold"; postsuper -H (released) gives
  none.
- suppression: `postseal suppression add` and the hard failure above
  give suppressed events, a RCPT refused because of the list gives
  suppression_rejected; each arrives at the endpoint with a signature
  Python's hmac verifies.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_events_kinds.py
"""

import hashlib
import json
import os
import re
import smtplib
import subprocess

import pytest

import mailstack as ms
from test_events import CLI, MILTER, POLICYD, Stack
from test_suppression import Stack as SuppStack
from test_webhooks import wait_for
from webhook_receiver import Receiver, make_ca, make_whsec, verify_standard

pytestmark = pytest.mark.skipif(
    not (os.access(MILTER, os.X_OK) and os.access(POLICYD, os.X_OK)),
    reason="daemons not built")

LOGIN = "app1@example.com"
DEFERRED = re.compile(r"^.*?\]: ([0-9A-Za-z]+): to=<([^>]*)>, .*dsn=([0-9.]+), "
                      r"status=deferred \((.*)\)$")


def line_id(line, rcpt=None):
    what = line if rcpt is None else f"{line}\n{rcpt}"
    return hashlib.sha256(what.encode()).hexdigest()[:32]


class KindsStack(Stack):
    """test_events' stack with [suppression] and an endpoint, added to
    postseal.conf before policyd first starts, and Postfix asking policyd
    at RCPT."""

    def start_policyd(self):
        if not hasattr(self, "rx"):
            self.add_config()
        super().start_policyd()

    def add_config(self):
        ca, cert, key = make_ca(self.tmp)
        self.rx = Receiver(cert, key)
        self.secret, self.secret_file = make_whsec(self.tmp)
        with open(self.conf, "a") as f:
            f.write("\n[suppression]\nscope = domain\nttl = 30d\n"
                    f"\n[endpoint std]\nurl = {self.rx.url('/std')}\nfor = all\n"
                    f"secret = {self.secret_file}\nca_file = {ca}\nretry_first = 1\n")
        self.postconf(f"smtpd_recipient_restrictions=check_policy_service "
                      f"inet:127.0.0.1:{self.pport}")
        self.pf.reload()

    def postconf(self, *settings):
        subprocess.run(["postconf", "-c", self.pf.etc, "-e", *settings], check=True)

    def postsuper(self, *args):
        r = subprocess.run(["postsuper", "-c", self.pf.etc, *args], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
        return r

    def suppression(self, *args):
        r = subprocess.run([CLI, "suppression", *args, "-c", self.conf], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    def of(self, qid):
        return [e for e in self.spool() if e["qid"] == qid]

    def log_line(self, pattern):
        """The one maillog line matching pattern (regex, whole line)."""
        found = [l for l in self.log_lines() if re.fullmatch(pattern, l)]
        assert len(found) == 1, (pattern, found)
        return found[0]

    def close(self):
        try:
            super().close()
        finally:
            self.rx.close()


@pytest.fixture(scope="module")
def stack():
    with ms.running(KindsStack, "postseal-evkinds-") as s:
        yield s


def test_expired_fails_pending_recipients_once(stack):
    rcpts = ["ok1@dest.test", "refuse1@dest.test", "defer1@dest.test", "defer2@dest.test"]
    q = stack.send("hi", "x1@example.com", rcpts, xclient={"LOGIN": LOGIN})
    for r, status in (("ok1", "sent"), ("refuse1", "bounced"), ("defer1", "deferred"),
                      ("defer2", "deferred")):
        stack.pf.wait_log(rf"{q}: to=<{r}@dest.test>.*status={status}")
    stack.wait_caught_up()
    # what is pending must come back from the spool after a restart
    stack.kill_policyd()
    stack.start_policyd()
    stack.wait_caught_up()
    # the next attempt gives up: maximal_queue_lifetime = 0 is "return
    # after the first unsuccessful attempt", whatever the clock says
    stack.postconf("maximal_queue_lifetime=0", "bounce_queue_lifetime=0")
    try:
        stack.pf.reload()
        # the sender: the signed return path the milter put in
        stack.pf.wait_log(rf"{q}: from=<[^>]*>, status=expired, returned to sender",
                          timeout=60)
        stack.pf.wait_log(rf"{q}: removed", timeout=60)
    finally:
        stack.postconf("maximal_queue_lifetime=5d", "bounce_queue_lifetime=5d")
        stack.pf.reload()
    stack.wait_caught_up()

    expiry = stack.log_line(rf".*\]: {q}: from=<[^>]*>, status=expired, "
                            r"returned to sender")
    lines = stack.log_lines()
    last = {}  # recipient -> (status, reply) of its last deferral before the expiry
    for line in lines[:lines.index(expiry)]:
        m = DEFERRED.match(line)
        if m and m.group(1) == q:
            last[m.group(2)] = (m.group(3), m.group(4))
    assert set(last) == {"defer1@dest.test", "defer2@dest.test"}, last

    events = stack.of(q)
    failed = [e for e in events if e["event"] == "failed"]
    assert sorted(e["recipient"] for e in failed) == [
        "defer1@dest.test", "defer2@dest.test", "refuse1@dest.test"], failed
    for e in failed:
        if e["recipient"] == "refuse1@dest.test":
            assert e["status"] == "5.1.1"
            continue
        assert e["id"] == line_id(expiry, e["recipient"])
        assert (e["status"], e["reply"]) == last[e["recipient"]]
        assert e["status"].startswith("4.")
        assert e["credential"] == LOGIN and e["message_id"] == "<x1@example.com>"
    assert not any(e["recipient"] == "ok1@dest.test" and e["event"] != "sent" for e in events)
    ids = [e["id"] for e in stack.spool()]
    assert len(ids) == len(set(ids)), "an event was spooled twice"

    # the permanent failure is suppressed (its event too), the expired are not
    listed = stack.suppression("list")
    assert "refuse1@dest.test domain:example.com" in listed, listed
    assert "defer1" not in listed and "defer2" not in listed, listed
    supp = [e for e in events if e["event"] == "suppressed"]
    assert [e["recipient"] for e in supp] == ["refuse1@dest.test"], supp
    assert supp[0]["status"] == "5.1.1"
    assert re.fullmatch(r"domain:example\.com until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                        supp[0]["reply"]), supp[0]


def check_held_per_recipient(stack, q, subject, rcpts):
    """One held event per recipient of q, with the id of the header check's
    hold line and the recipient; the events."""
    line = stack.log_line(rf".*\]: {q}: hold: header Subject: {subject} .*")
    held = {e["recipient"]: e for e in stack.of(q) if e["event"] == "held"}
    assert sorted(held) == sorted(rcpts), held
    for r, e in held.items():
        assert e["id"] == line_id(line, r)
    return list(held.values())


def test_holds(stack):
    # header_checks HOLD: one held event per recipient
    q1 = stack.send("hold me", "x2@example.com", ["ok2@dest.test", "ok3@dest.test"])
    # postsuper -h of a deferred message, then -H
    q2 = stack.send("hi", "x3@example.com", ["defer3@dest.test"], xclient={"LOGIN": LOGIN})
    stack.pf.wait_log(rf"{q1}: hold: header Subject: hold me")
    stack.pf.wait_log(rf"{q2}: to=<defer3@dest.test>.*status=deferred")
    stack.postsuper("-h", q2)
    stack.pf.wait_log(rf"{q2}: placed on hold")
    stack.postsuper("-H", q2)
    stack.pf.wait_log(rf"{q2}: released from hold")
    stack.wait_caught_up()

    for e in check_held_per_recipient(stack, q1, "hold me", ["ok2@dest.test", "ok3@dest.test"]):
        assert e["reply"].startswith("header Subject: hold me from")

    hold2 = stack.log_line(rf".*\]: {q2}: placed on hold")
    held = [e for e in stack.of(q2) if e["event"] == "held"]
    assert len(held) == 1, held  # released: no event
    assert held[0]["recipient"] == "defer3@dest.test"
    assert held[0]["id"] == line_id(hold2, "defer3@dest.test")
    assert held[0]["reply"] == "placed on hold"
    assert held[0]["credential"] == LOGIN
    # no longer needed in the queue: removed, not expired (no failed event)
    stack.postsuper("-d", q1)
    stack.postsuper("-d", q2)
    stack.pf.wait_log(rf"{q2}: removed")
    stack.wait_caught_up()
    assert not any(e["event"] == "failed" for e in stack.of(q2))


def test_hold_logged_before_the_record(stack):
    """cleanup logs a header check's HOLD while the message arrives, before
    the end of message where the milter writes its record: the follower
    reads the line first (checked: caught up, no event), and the held
    events come when the record does."""
    with smtplib.SMTP("127.0.0.1", stack.pf.port, local_hostname="client.example.test",
                      timeout=60) as s:
        s.ehlo()
        s.mail("app@example.com")
        for r in ("ok5@dest.test", "ok6@dest.test"):
            s.rcpt(r)
        s.putcmd("data")
        assert s.getreply()[0] == 354
        # the headers, then enough body for smtpd to pass them to cleanup
        s.send(b"From: app@example.com\r\nSubject: hold early\r\n"
               b"Message-ID: <x5@example.com>\r\n\r\n" + b"x" * 70 + b"\r\n")
        s.send((b"y" * 70 + b"\r\n") * 2000)
        m = stack.pf.wait_log(r"\]: ([0-9A-Za-z]+): hold: header Subject: hold early")
        q = m.group(1)
        stack.wait_caught_up()
        assert not stack.of(q), "an event before the record"
        s.send(b"end\r\n.\r\n")
        code, text = s.getreply()
        assert code == 250 and q.encode() in text, (code, text)
    stack.pd.wait_log(rf"event=held qid={q} recipient=ok6@dest.test")
    stack.wait_caught_up()
    for e in check_held_per_recipient(stack, q, "hold early", ["ok5@dest.test", "ok6@dest.test"]):
        assert e["message_id"] == "<x5@example.com>"
    stack.postsuper("-d", q)


def test_suppression_events_signed(stack):
    out = stack.suppression("add", "gone@dest.test", "example.com")
    assert out.startswith("suppressed gone@dest.test"), out
    # test_suppression's RCPT probe: it needs only the Postfix port
    code, text = SuppStack.rcpt(stack, "app@example.com", "gone@dest.test")
    assert code == 550 and "suppressed since" in text, (code, text)
    stack.pd.wait_log(r"event=suppression_rejected recipient=gone@dest.test")

    spool = {e["id"]: e for e in stack.spool()}
    added = [e for e in spool.values()
             if e["event"] == "suppressed" and e["recipient"] == "gone@dest.test"]
    assert len(added) == 1, added
    assert added[0]["sender"] == "@example.com" and added[0]["qid"] == ""
    assert added[0]["reply"].startswith("domain:example.com until ")
    assert added[0]["reply"].endswith(" (postseal suppression add)")
    rejected = [e for e in spool.values() if e["event"] == "suppression_rejected"]
    assert len(rejected) == 1, rejected
    assert rejected[0]["recipient"] == "gone@dest.test"
    assert rejected[0]["sender"] == "app@example.com"
    assert rejected[0]["status"] == "5.1.1" and "suppressed since" in rejected[0]["reply"]

    # at the endpoint, signed: every suppression event spooled so far
    want = {i for i, e in spool.items()
            if e["event"] in ("suppressed", "suppression_rejected")}
    assert len(want) >= 2
    got = lambda: {h["webhook-id"] for h, _ in stack.rx.delivered("/std")}
    wait_for(lambda: got() >= want, "suppression events not delivered", stack)
    for h, body in stack.rx.delivered("/std"):
        if h["webhook-id"] not in want:
            continue
        assert verify_standard(stack.secret, h, body), h
        assert not verify_standard(stack.secret, h, body.replace(b"\"event\"", b"\"evEnt\""))
        assert json.loads(body) == spool[h["webhook-id"]]
