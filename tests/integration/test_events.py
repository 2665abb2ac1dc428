"""Delivery events from Postfix itself (issue 14, the spool): a real
Postfix signs through postseal-milter (which records each accepted message
in [events] dir) and relays to a loopback SMTP server that accepts, defers
(450) or refuses (550) each recipient; postseal-policyd follows Postfix's
maillog_file and spools sent, delayed, failed and held events joined to
the milter's records, and a bounced event for the DSN Postfix made for the
refused recipient, brought back to the signed return path as a remote MTA
would (the milter records the bounce, policyd joins it). The spool must hold exactly one event per delivery
line of signed mail, with the id an independent SHA-256 of the line gives,
across a kill -9 of policyd, a crash between append and state save (the
state file rolled back), and `postfix logrotate` between messages. Mail
the milter did not sign gives no event.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_events.py
"""

import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import mailstack as ms
# test_webhooks*.py and test_events_kinds.py take MILTER and POLICYD from here
from eventstack_harness import CLI, MILTER, POLICYD, EventStack, needs_daemons  # noqa: F401

pytestmark = needs_daemons

DELIVERY = re.compile(r"^\S+ +\S+ \S+ \S+ \S+\[\d+\]: ([0-9A-Za-z]+): to=<([^>]*)>, "
                      r"(?:orig_to=<[^>]*>, )?.*?dsn=([0-9.]+), status=(sent|deferred|bounced)"
                      r"(?: \((.*)\))?$")
HOLD = re.compile(r"^\S+ +\S+ \S+ \S+ \S+\[\d+\]: ([0-9A-Za-z]+): hold: (.*)$")
KIND = {"sent": "sent", "deferred": "delayed", "bounced": "failed"}
RP = "rp.example.com"
OUTSIDE = {"ADDR": "192.0.2.50", "NAME": "mx.remote.example"}


def message(subject, msgid):
    return (f"From: app@example.com\r\nTo: someone@dest.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{msgid}>\r\n\r\nhello\r\n").encode()


class Stack(EventStack):
    def __init__(self, tmp):
        super().__init__(tmp, "s2026e")
        checks = os.path.join(tmp, "header_checks")
        with open(checks, "w") as f:
            f.write("/^Subject: hold/ HOLD\n")
        self.rp_secret = os.path.join(tmp, "retpath.secrets")
        with open(self.rp_secret, "w") as f:
            f.write("n3w\n")
        os.chmod(self.rp_secret, 0o600)
        self.start(main={"header_checks": f"regexp:{checks}",
                         "maillog_file_compressor": "gzip"},
                   policyd={"store": f"lmdb:{tmp}/quota"},
                   sections={"return_path": {"domain": RP, "secret_file": self.rp_secret,
                                             "rewrite": "example.com",
                                             "events": os.path.join(tmp, "bounces.jsonl")}})
        self.pd = None
        self.pd_logs = []
        self.start_policyd()

    def start_policyd(self):
        self.pd = self.policyd()
        self.pd_logs.append(self.pd)

    def kill_policyd(self):
        self.pd.signal(signal.SIGKILL)
        self.pd.proc.wait(10)

    def send(self, subject, msgid, rcpts, xclient=None):
        return self.send_raw(message(subject, msgid), "app@example.com", rcpts, xclient)

    def log_lines(self):
        """Every line Postfix logged, rotated files first."""
        lines = []
        for path in sorted(glob.glob(self.pf.maillog + ".*")):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                lines += f.read().decode().splitlines()
        with open(self.pf.maillog, "rb") as f:
            lines += f.read().decode().splitlines()
        return lines

    def bounce_records(self):
        """The milter's bounce records, whole lines."""
        out = []
        for path in glob.glob(os.path.join(self.events, "accepted", "*", "messages")):
            with open(path) as f:
                out += [line.rstrip("\n") for line in f if line.startswith("B ")]
        return out

    def spool(self):
        r = subprocess.run([CLI, "events", "list", "--json", "-c", self.conf],
                           capture_output=True, text=True, check=True)
        assert r.stderr == "", r.stderr  # no unreadable line
        return [json.loads(line) for line in r.stdout.splitlines()]

    def state(self):
        with open(os.path.join(self.events, "follow.state")) as f:
            return f.read().split()

    def wait_caught_up(self, timeout=60):
        """Until policyd's saved position is the end of the current log."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                st = os.stat(self.pf.maillog)
                s = self.state()
                if int(s[2]) == st.st_ino and int(s[3]) == st.st_size:
                    return
            except (FileNotFoundError, IndexError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"policyd did not catch up: {self.pd.log()[-2000:]}")

    def close(self):
        self.close_with(*self.pd_logs)


@pytest.fixture(scope="module")
def stack():
    with ms.running(Stack, "postseal-events-") as s:
        yield s


def expected(lines, signed, bounces):
    """The events the spool must hold, from the log and the milter's bounce
    records alone; signed: qid -> recipients of the messages signed."""
    out = {}
    for line in bounces:
        f = line.split(" ")
        out[hashlib.sha256(line.encode()).hexdigest()[:32]] = ("bounced", f[2], f[3], f[4])
    for line in lines:
        m = DELIVERY.match(line)
        if m and m.group(1) in signed:
            ident = hashlib.sha256(line.encode()).hexdigest()[:32]
            out[ident] = (KIND[m.group(4)], m.group(1), m.group(2), m.group(3))
        m = HOLD.match(line)
        if m and m.group(1) in signed:
            for rcpt in signed[m.group(1)]:
                ident = hashlib.sha256(f"{line}\n{rcpt}".encode()).hexdigest()[:32]
                out[ident] = ("held", m.group(1), rcpt, "")
    return out


def test_events_exactly_once(stack):
    signed = {}
    # 1: one recipient of each outcome, from a SASL login
    q1 = stack.send("hi", "m1@example.com",
                    ["ok1@dest.test", "defer1@dest.test", "refuse1@dest.test"],
                    xclient={"LOGIN": "app1@example.com"})
    signed[q1] = ["ok1@dest.test", "defer1@dest.test", "refuse1@dest.test"]
    # not signed (an outside client, sign-only mode): no events
    q_out = stack.send("inbound", "in1@example.org", ["ok9@dest.test"],
                       xclient={"ADDR": "192.0.2.9", "NAME": "[UNAVAILABLE]"})
    # held by header_checks: one held event per recipient
    q2 = stack.send("hold me", "m2@example.com", ["ok2@dest.test", "ok22@dest.test"])
    signed[q2] = ["ok2@dest.test", "ok22@dest.test"]
    stack.pf.wait_log(rf"{q1}: to=<ok1@dest.test>.*status=sent")
    stack.pf.wait_log(rf"{q_out}: to=<ok9@dest.test>.*status=sent")
    stack.pf.wait_log(rf"{q1}: to=<refuse1@dest.test>.*status=bounced")
    # the DSN Postfix sent to the return path comes back from outside
    rp_sender, rp_rcpts, dsn = stack.remote.wait_for("@" + RP)
    assert rp_sender == "" and b"refuse1@dest.test" in dsn
    code, text = stack.pf.smtp_send(dsn, "<>", rp_rcpts, xclient=OUTSIDE)
    assert code == 250, text
    stack.milter.wait_log(r"event=bounce .*recipient=refuse1@dest.test")
    stack.wait_caught_up()
    early_state = stack.state()

    # 2: policyd killed -9, mail flows while it is down
    stack.kill_policyd()
    q3 = stack.send("hi", "m3@example.com", ["ok3@dest.test", "refuse3@dest.test"],
                    xclient={"LOGIN": "app2@example.com"})
    signed[q3] = ["ok3@dest.test", "refuse3@dest.test"]
    stack.pf.wait_log(rf"{q3}: to=<refuse3@dest.test>.*status=bounced")
    stack.pf.wait_log(rf"{q3}: to=<ok3@dest.test>.*status=sent")
    stack.start_policyd()
    stack.wait_caught_up()

    # 3: a crash after the append but before the state save: the older
    # state file comes back; the spool's own tail must prevent duplicates.
    # And one in the middle of an append: a partial line at the end.
    stack.kill_policyd()
    with open(os.path.join(stack.events, "follow.state"), "w") as f:
        f.write("log {} {} {}\nrecords {} {}\n".format(*early_state[1:4], *early_state[5:7]))
    with open(os.path.join(stack.events, "spool"), "rb+") as f:
        last = f.read().splitlines()[-1]
        f.write(last[:50])
    stack.start_policyd()
    stack.wait_caught_up()
    assert "partial last line of the spool cut" in stack.pd.log()

    # 4: Postfix rotates its log between messages
    stack.pf.postfix("logrotate")
    q4 = stack.send("hi", "m4@example.com", ["ok4@dest.test"],
                    xclient={"LOGIN": "app1@example.com"})
    signed[q4] = ["ok4@dest.test"]
    stack.pf.wait_log(rf"{q4}: to=<ok4@dest.test>.*status=sent")
    assert glob.glob(stack.pf.maillog + ".*"), "postfix logrotate made no file"
    stack.wait_caught_up()

    # 5: rotated while policyd is down, the old file left uncompressed:
    # its unread lines are found by inode beside the new log
    stack.kill_policyd()
    subprocess.run(["postconf", "-c", stack.pf.etc, "-e", "maillog_file_compressor=true"],
                       check=True)
    q5 = stack.send("hi", "m5@example.com", ["ok5@dest.test"],
                    xclient={"LOGIN": "app1@example.com"})
    signed[q5] = ["ok5@dest.test"]
    stack.pf.wait_log(rf"{q5}: to=<ok5@dest.test>.*status=sent")
    stack.pf.postfix("logrotate")
    q6 = stack.send("hi", "m6@example.com", ["ok6@dest.test"],
                    xclient={"LOGIN": "app1@example.com"})
    signed[q6] = ["ok6@dest.test"]
    stack.pf.wait_log(rf"{q6}: to=<ok6@dest.test>.*status=sent")
    stack.start_policyd()
    stack.wait_caught_up()

    # 6: copytruncate, as logrotate does it
    shutil.copy(stack.pf.maillog, stack.pf.maillog + ".copied")
    os.truncate(stack.pf.maillog, 0)
    q7 = stack.send("hi", "m7@example.com", ["ok7@dest.test"],
                    xclient={"LOGIN": "app1@example.com"})
    signed[q7] = ["ok7@dest.test"]
    stack.pf.wait_log(rf"{q7}: to=<ok7@dest.test>.*status=sent")

    # the end: no more deferrals, policyd reads to the end of the log
    stack.pf.stop()
    stack.wait_caught_up()
    want = expected(stack.log_lines(), signed, stack.bounce_records())
    got = stack.spool()
    ids = [e["id"] for e in got]
    assert len(ids) == len(set(ids)), "an event was spooled twice"
    have = {e["id"]: (e["event"], e["qid"], e["recipient"], e["status"]) for e in got}
    assert have == want, (
        f"missing: {sorted(v for k, v in want.items() if k not in have)}\n"
        f"extra: {sorted(v for k, v in have.items() if k not in want)}\n"
        + stack.pd_logs[-1].log()[-3000:] + "\n--maillog--\n" + stack.pf.log()[-1500:])
    kinds = {e["event"] for e in got}
    assert kinds == {"sent", "delayed", "failed", "held", "bounced"}, kinds
    assert not any(e["qid"] == q_out for e in got)

    by = {(e["qid"], e["recipient"], e["event"]): e for e in got}
    e = by[(q1, "refuse1@dest.test", "failed")]
    assert e["sender"] == "app@example.com"
    assert e["credential"] == "app1@example.com"
    assert e["client"] == "127.0.0.1"
    assert e["message_id"] == "<m1@example.com>"
    assert e["status"] == "5.1.1"
    assert "550 5.1.1 <refuse1> no such user here" in e["reply"]
    e = by[(q1, "refuse1@dest.test", "bounced")]
    assert e["credential"] == "app1@example.com"
    assert e["message_id"] == "<m1@example.com>"
    assert e["status"] == "5.1.1" and "no such user here" in e["reply"]
    e = by[(q1, "defer1@dest.test", "delayed")]
    assert e["status"] == "4.2.0" and "450 4.2.0" in e["reply"]
    e = by[(q2, "ok22@dest.test", "held")]
    assert e["credential"] == "" and e["client"] == "127.0.0.1"
    assert e["reply"].startswith("header Subject: hold me")
    assert by[(q3, "ok3@dest.test", "sent")]["credential"] == "app2@example.com"
    for q, r in ((q4, "ok4"), (q5, "ok5"), (q6, "ok6"), (q7, "ok7")):
        assert (q, f"{r}@dest.test", "sent") in by


def test_events_list_cli(tmp_path):
    """postseal events list: the table, --json, an unreadable line named on
    stderr, and the usage errors (exit 2)."""
    events = tmp_path / "events"
    events.mkdir()
    conf = tmp_path / "postseal.conf"
    conf.write_text(f"[events]\ndir = {events}\n")
    ident = "0123456789abcdef0123456789abcdef"
    (events / "spool").write_text(
        f"E {ident} 1796576837 failed Q1 <m%20x@y> app@example.com - 127.0.0.1 "
        "r@dest.test 5.1.1 550%205.1.1%20no%20such%20user m:0:1:2\n"
        "not an event\n")
    r = subprocess.run([CLI, "events", "list", "-c", str(conf)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{ident} 2026-12-06T17:07:17Z failed  Q1           r@dest.test 5.1.1\n"
    assert "1 unreadable lines skipped" in r.stderr
    r = subprocess.run([CLI, "events", "list", "--json", "-c", str(conf)],
                       capture_output=True, text=True)
    ev = json.loads(r.stdout)
    assert ev == {"id": ident, "event": "failed", "time": 1796576837, "qid": "Q1",
                  "message_id": "<m x@y>", "sender": "app@example.com", "credential": "",
                  "client": "127.0.0.1", "recipient": "r@dest.test", "status": "5.1.1",
                  "reply": "550 5.1.1 no such user"}
    for args in (["events"], ["events", "drop"], ["events", "list", "extra"],
                 ["events", "list", "--bogus"]):
        r = subprocess.run([CLI, *args, "-c", str(conf)], capture_output=True, text=True)
        assert r.returncode == 2 and r.stderr.startswith("postseal: "), (args, r.stderr)
    conf.write_text("[return_path]\nmax_age = 3\n")
    r = subprocess.run([CLI, "events", "list", "-c", str(conf)], capture_output=True, text=True)
    assert r.returncode == 2 and "no [events] dir" in r.stderr
    r = subprocess.run([CLI, "events", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "events list" in r.stdout
