"""Delivery events through a local content filter (issue 14): a real
Postfix signs through postseal-milter and hands every message to a
loopback filter (content_filter = smtp:[127.0.0.1]:PORT, as for
amavisd-new), which re-injects it into a second smtpd of the same Postfix
(a master.cf listener without milters, or one with the milter, which then
sees the message a second time); the re-injected message (Q2) goes to a
test SMTP server that accepts, defers or refuses each recipient.
postseal-policyd, told the filter's address ([events] content_filters),
must give no event for the hop into the filter (Q1's "status=sent (...
queued as Q2)") and one event per outcome of Q2, joined to the milter's
record of Q1 (its queue id, Message-ID, sender and credential), with the
id an independent SHA-256 of Q2's line; also when policyd is killed -9
between the hop and Q2's delivery, and when Q2 expires (failed, joined to
Q1, with and without a restart). A crafted log covers what Postfix cannot
be made to do on cue: Q2 delivered and removed before Q1's hand-off line
is written, and Q1's "removed" logged after Q2's deferral.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_events_filter.py
"""

import hashlib
import json
import re
import subprocess
import time

import pytest

import mailstack as ms
from content_filter import ContentFilter
from eventstack_harness import CLI, POLICYD, needs_daemons
from test_events import Stack as EventsStack

pytestmark = needs_daemons

LOGIN = "app1@example.com"
KIND = {"sent": "sent", "deferred": "delayed", "bounced": "failed"}


def line_id(line, rcpt=None):
    what = line if rcpt is None else f"{line}\n{rcpt}"
    return hashlib.sha256(what.encode()).hexdigest()[:32]


class FilterStack(EventsStack):
    """test_events' stack (its Postfix, milter and policyd) with a content
    filter between the first smtpd and delivery."""

    def start(self, main, policyd, sections, master=""):
        self.reinject, self.reinject_milter = ms.free_port(), ms.free_port()
        self.filter = ContentFilter(self.reinject, self.reinject_milter)
        main = {**main, "content_filter": f"smtp:[127.0.0.1]:{self.filter.port}",
                "minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
                "queue_run_delay": "1s"}
        master = (f"127.0.0.1:{self.reinject} inet n - n - - smtpd\n"
                  "  -o content_filter=\n  -o smtpd_milters=\n"
                  f"127.0.0.1:{self.reinject_milter} inet n - n - - smtpd\n"
                  "  -o content_filter=\n")
        super().start(main, policyd, sections, master)
        self.sections["events"]["content_filters"] = f"127.0.0.1:{self.filter.port}"
        ms.write_ini(self.conf, self.sections)

    def send_marked(self, subject, msgid, rcpts, milter_again):
        extra = "X-Reinject: milter\r\n" if milter_again else ""
        raw = (f"From: app@example.com\r\nTo: someone@dest.test\r\nSubject: {subject}\r\n"
               f"Message-ID: <{msgid}>\r\n{extra}\r\nhello\r\n").encode()
        return self.send_raw(raw, "app@example.com", rcpts, xclient={"LOGIN": LOGIN})

    def hops(self, q1):
        """Q1's hand-offs to the filter: [(line, rcpt, q2)]."""
        out = []
        for line in self.log_lines():
            m = re.match(rf"^.*\]: {q1}: to=<([^>]*)>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
                         rf"{self.filter.port}, .*status=sent \(.*queued as ([0-9A-Za-z]+)\)$",
                         line)
            if m:
                out.append((line, m.group(1), m.group(2)))
        return out

    def outcomes(self, q2):
        """Q2's delivery lines: {id: (event, rcpt, status)}."""
        out = {}
        for line in self.log_lines():
            m = re.match(rf"^.*\]: {q2}: to=<([^>]*)>, .*dsn=([0-9.]+), "
                         r"status=(sent|deferred|bounced) .*$", line)
            if m:
                out[line_id(line)] = (KIND[m.group(3)], m.group(1), m.group(2))
        return out

    def close(self):
        try:
            super().close()
        finally:
            self.filter.close()


@pytest.fixture(scope="module")
def stack():
    with ms.running(FilterStack, "postseal-evfilter-") as s:
        yield s


def check_joined(stack, q1, q2, msgid):
    """Every event of q2's lines is in the spool once, joined to q1."""
    events = stack.spool()
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was spooled twice"
    want = stack.outcomes(q2)
    got = {e["id"]: e for e in events if e["id"] in want}
    assert set(got) == set(want), (want, events)
    for ident, (kind, rcpt, status) in want.items():
        e = got[ident]
        assert (e["event"], e["recipient"], e["status"]) == (kind, rcpt, status), e
        assert e["qid"] == q1 and e["credential"] == LOGIN, e
        assert e["message_id"] == f"<{msgid}>" and e["sender"] == "app@example.com", e
    assert not [e for e in events if e["qid"] == q2], "an event under the re-injected id"
    return events


@pytest.mark.parametrize("milter_again", [False, True], ids=["no-milter", "milter-again"])
def test_outcomes_joined_to_first_record(stack, milter_again):
    tag = "b" if milter_again else "a"
    rcpts = [f"ok{tag}@dest.test", f"defer{tag}@dest.test", f"refuse{tag}@dest.test"]
    q1 = stack.send_marked("filtered", f"f{tag}@example.com", rcpts, milter_again)
    for r, status in ((rcpts[0], "sent"), (rcpts[1], "deferred"), (rcpts[2], "bounced")):
        stack.pf.wait_log(rf"\]: [0-9A-Za-z]+: to=<{r}>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
                          rf"{stack.remote.port}, .*status={status}")
    stack.wait_caught_up()
    hops = stack.hops(q1)
    assert sorted(h[1] for h in hops) == sorted(rcpts), hops
    q2s = {h[2] for h in hops}
    assert len(q2s) == 1 and q1 not in q2s, hops
    q2 = q2s.pop()
    events = check_joined(stack, q1, q2, f"f{tag}@example.com")
    hop_ids = {line_id(h[0]) for h in hops}
    assert not [e for e in events if e["id"] in hop_ids], "an event for the hop"
    mine = [e for e in events if e["qid"] == q1]
    assert sorted((e["event"], e["recipient"]) for e in mine) == sorted(
        [("sent", rcpts[0]), ("failed", rcpts[2])] +
        [("delayed", rcpts[1])] * sum(1 for v in stack.outcomes(q2).values()
                                       if v[0] == "delayed")), mine
    if milter_again:  # the milter saw Q2 and did not sign (nor record) it again
        assert re.search(r"sign=no reason=reinjected-signed", stack.milter.log())
    assert f"hop=\"content filter\" qid={q1} next={q2}" in stack.pd.log() or \
        re.search(rf"hop=.*qid={q1} next={q2}", stack.pd.log()), stack.pd.log()[-2000:]
    assert ms.header_values(stack.remote.wait_for(rcpts[0])[2], "DKIM-Signature")


def test_restart_between_hop_and_delivery(stack):
    q1 = stack.send_marked("later", "fl@example.com", ["later1@dest.test"], False)
    stack.pf.wait_log(rf"to=<later1@dest.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
                      rf"{stack.remote.port}, .*status=deferred")
    stack.wait_caught_up()
    (hop,) = stack.hops(q1)
    q2 = hop[2]
    # the link must come back from disk: killed, and delivery happens while down
    stack.kill_policyd()
    stack.remote.release()
    stack.pf.reload()
    stack.pf.wait_log(rf"{q2}: to=<later1@dest.test>, .*status=sent", timeout=60)
    stack.start_policyd()
    stack.wait_caught_up()
    events = check_joined(stack, q1, q2, "fl@example.com")
    mine = [e["event"] for e in events if e["qid"] == q1]
    assert mine.count("sent") == 1 and "delayed" in mine, mine
    # and once more: a second restart emits nothing again
    n = len(events)
    stack.kill_policyd()
    stack.start_policyd()
    stack.wait_caught_up()
    assert len(stack.spool()) == n


def test_not_ours_gives_nothing(stack):
    q1 = stack.send_raw(b"From: x@example.org\r\nSubject: in\r\n\r\nhi\r\n", "x@example.org",
                        ["ok9@dest.test"], xclient={"ADDR": "192.0.2.9",
                                                    "NAME": "[UNAVAILABLE]"})
    stack.pf.wait_log(rf"{q1}: to=<ok9@dest.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
                      rf"{stack.filter.port}, .*status=sent")
    stack.pf.wait_log(rf"to=<ok9@dest.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
                      rf"{stack.remote.port}, .*status=sent")
    stack.wait_caught_up()
    assert not [e for e in stack.spool() if e["recipient"] == "ok9@dest.test"]


def test_reinjected_delivered_before_hop_is_logged(tmp_path):
    """The re-injected message may be delivered (and removed) before the
    hand-off line that names it is written: its line waits for the link.
    A crafted log (Postfix cannot be made to lose that race on cue), the
    milter's record written as the milter writes it."""
    events = tmp_path / "events"
    when = 1796000000  # 2026-11-29
    day = events / "accepted" / str(when // 86400)
    day.mkdir(parents=True)
    (day / "messages").write_text(
        f"A {when} Q1AAA <r1@example.com> app@example.com {LOGIN} 127.0.0.1 "
        "ok@dest.test late@dest.test\n"
        f"A {when} Q1DDD <r2@example.com> app@example.com {LOGIN} 127.0.0.1 "
        "slow@dest.test\n")
    maillog = tmp_path / "maillog"
    stamp = "2026-11-29T10:00:0{}+00:00 mx postfix/{}[7]: "
    q2_line = (stamp.format(1, "smtp") + "Q2BBB: to=<ok@dest.test>, relay=dest.test[192.0.2.5]:25,"
               " delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 queued as X9)")
    stale = (stamp.format(1, "smtp").replace("10:00", "09:00") +
             "Q3CCC: to=<late@dest.test>, relay=dest.test[192.0.2.5]:25, delay=0.1, "
             "delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 queued as X8)")
    hop = (stamp.format(2, "smtp") + "Q1AAA: to=<{}>, relay=127.0.0.1[127.0.0.1]:10024, "
           "delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 from "
           "MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as {})")
    deferred = (stamp.format(3, "smtp") + "Q2EEE: to=<slow@dest.test>, relay=dest.test"
                "[192.0.2.5]:25, delay=1, delays=0/0/0/1, dsn=4.2.0, status=deferred "
                "(host dest.test[192.0.2.5] said: 450 4.2.0 busy)")
    expired = stamp.format(4, "qmgr") + ("Q2EEE: from=<app@example.com>, status=expired, "
                                         "returned to sender")
    maillog.write_text("\n".join([
        stale, q2_line, stamp.format(1, "qmgr") + "Q2BBB: removed",
        hop.format("ok@dest.test", "Q2BBB"),
        # an hour after Q3CCC's line: another message that had its id
        hop.format("late@dest.test", "Q3CCC"),
        stamp.format(3, "qmgr") + "Q1AAA: removed",
        # Q2EEE deferred before Q1DDD's "removed": that must not drop it
        hop.format("slow@dest.test", "Q2EEE").replace("Q1AAA", "Q1DDD"),
        deferred, stamp.format(3, "qmgr") + "Q1DDD: removed", expired]) + "\n")
    pport = ms.free_port()
    conf = ms.write_ini(str(tmp_path / "postseal.conf"), {
        "policyd": {"listen": f"inet:127.0.0.1:{pport}", "store": f"lmdb:{tmp_path}/quota"},
        "events": {"dir": str(events), "maillog": str(maillog),
                   "content_filters": "127.0.0.1:10024, [::1]:10024"}})
    pd = ms.Daemon([POLICYD, "-f", "-c", conf], port=pport)
    try:
        pd.wait_log(r"event=event .*qid=Q1DDD .*event=failed|event=failed .*qid=Q1DDD")
        state = events / "follow.state"
        end = maillog.stat().st_size
        deadline = time.monotonic() + 30
        while not (state.exists() and state.read_text().split()[3] == str(end)):
            assert time.monotonic() < deadline, pd.log()[-2000:]
            time.sleep(0.1)
    finally:
        report = ms.shutdown(pd)
    assert report is None, report
    r = subprocess.run([CLI, "events", "list", "--json", "-c", conf], capture_output=True,
                       text=True, check=True)
    spooled = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(e["id"], e["event"], e["qid"], e["recipient"], e["credential"]) for e in spooled] \
        == [(line_id(q2_line), "sent", "Q1AAA", "ok@dest.test", LOGIN),
            (line_id(deferred), "delayed", "Q1DDD", "slow@dest.test", LOGIN),
            (line_id(expired, "slow@dest.test"), "failed", "Q1DDD", "slow@dest.test",
             LOGIN)], spooled
    links = (events / "filter.links").read_text()
    assert "Q2BBB Q1AAA Q1AAA" in links and "Q3CCC Q1AAA" in links, links


@pytest.mark.parametrize("restart", [False, True], ids=["running", "restarted"])
def test_reinjected_expiry_fails_pending_of_first_record(stack, restart):
    """Q2 deferred, policyd restarted or not (what is pending comes back
    from the spool, under Q1), then Postfix gives Q2 up: one failed event, joined
    to Q1, with the id of Q2's expiry line and the recipient. Q1's
    "removed" right after the hand-off must not have dropped it."""
    rcpt = f"defer{'r' if restart else 'n'}x@dest.test"
    q1 = stack.send_marked("expire", "fx@example.com", [rcpt], False)
    stack.pf.wait_log(rf"to=<{rcpt}>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
                      rf"{stack.remote.port}, .*status=deferred")
    stack.wait_caught_up()
    (hop,) = stack.hops(q1)
    q2 = hop[2]
    if restart:
        stack.kill_policyd()
        stack.start_policyd()
        stack.wait_caught_up()
    subprocess.run(["postconf", "-c", stack.pf.etc, "-e", "maximal_queue_lifetime=0",
                    "bounce_queue_lifetime=0"], check=True)
    try:
        stack.pf.reload()
        stack.pf.wait_log(rf"{q2}: from=<[^>]*>, status=expired, returned to sender",
                          timeout=60)
    finally:
        subprocess.run(["postconf", "-c", stack.pf.etc, "-e", "maximal_queue_lifetime=5d",
                        "bounce_queue_lifetime=5d"], check=True)
        stack.pf.reload()
    stack.wait_caught_up()
    (expiry,) = [line for line in stack.log_lines()
                 if re.search(rf"\]: {q2}: from=<[^>]*>, status=expired", line)]
    failed = [e for e in stack.spool() if e["event"] == "failed"
              and e["recipient"] == rcpt]
    assert len(failed) == 1, failed
    e = failed[0]
    assert e["id"] == line_id(expiry, rcpt), (e, expiry)
    assert e["qid"] == q1 and e["credential"] == LOGIN and e["status"].startswith("4."), e
    assert e["message_id"] == "<fx@example.com>", e
