"""The suppression list (issue 14, point 4), through a real Postfix: it
signs through postseal-milter and relays to a loopback SMTP server that
refuses local parts starting "refuse" with 550; postseal-policyd follows
the mail log ([events]) and, on that permanent failure, suppresses the
recipient for the sender's domain in its store. The next message to it
from that domain is refused at RCPT with 550 5.1.1 and the "suppressed
since" text; another sender domain is not; after `postseal suppression
remove` it goes through again; an entry with a short ttl expires. With
Redis, two policy daemons sharing one redis-server both refuse, and a
Redis that is gone gets the store_down answer.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_suppression.py
"""

import os
import re
import smtplib
import subprocess
import time

import pytest

import mailstack as ms
import metrics_scrape as mx
from eventstack_harness import CLI, POLICYD, EventStack, needs_daemons
from policyd_harness import PolicyClient, RedisServer

pytestmark = needs_daemons

# Postfix puts its own "<rcpt>: Recipient address rejected:" before the text
SUPPRESSED = re.compile(r"^5\.1\.1 (?i:<refuse1@dest\.test>): Recipient address rejected: "
                        r"<refuse1@dest\.test>: suppressed since "
                        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ after a permanent failure$")


def message(msgid):
    return (f"From: app@example.com\r\nTo: someone@dest.test\r\nSubject: hi\r\n"
            f"Message-ID: <{msgid}>\r\n\r\nhello\r\n").encode()


class Stack(EventStack):
    def __init__(self, tmp, store):
        super().__init__(tmp, "s2026s")
        self.metrics = ms.free_port()
        self.start(main={"smtpd_recipient_restrictions":
                         f"check_policy_service inet:127.0.0.1:{self.pport}"},
                   policyd={"store": store, "store_down": "DEFER_IF_PERMIT",
                            "metrics": f"inet:127.0.0.1:{self.metrics}"},
                   sections={"suppression": {"scope": "domain", "ttl": "30d"}})
        self.pd = self.policyd()
        self.parts = [self.pd]  # the daemons besides the milter

    def send(self, msgid, sender, rcpts):
        return self.send_raw(message(msgid), sender, rcpts)

    def rcpt(self, sender, rcpt):
        """Postfix's answer to RCPT TO (code, text); the message is not sent."""
        with smtplib.SMTP("127.0.0.1", self.pf.port, local_hostname="client.example.test",
                          timeout=60) as s:
            s.ehlo()
            s.mail(sender)
            code, text = s.rcpt(rcpt)
            s.rset()
            return code, text.decode()

    def cli(self, *args, conf=None, check=True):
        r = subprocess.run([CLI, "suppression", *args, "-c", conf or self.conf],
                           capture_output=True, text=True)
        if check:
            assert r.returncode == 0, r.stdout + r.stderr
        return r

    def hard_bounce(self, msgid):
        """refuse1@dest.test fails for good; until policyd has suppressed it."""
        qid = self.send(msgid, "app@example.com", ["ok1@dest.test", "refuse1@dest.test"])
        self.pf.wait_log(rf"{qid}: to=<refuse1@dest.test>.*dsn=5\.1\.1, status=bounced")
        self.pd.wait_log(r"event=suppression_added .*recipient=refuse1@dest.test "
                         r"scope=domain for=example.com status=5.1.1", timeout=30)

    def close(self):
        self.close_with(*self.parts)


def refused(answer):
    code, text = answer
    assert code == 550, answer
    assert SUPPRESSED.match(text), text


def accepted(answer):
    assert answer[0] == 250, answer


@pytest.fixture
def lmdb_stack():
    with ms.running(lambda tmp: Stack(tmp, f"lmdb:{tmp}/quota"), "postseal-supp-") as s:
        yield s


def test_hard_bounce_suppresses_for_the_domain(lmdb_stack):
    st = lmdb_stack
    # before any failure the address is taken
    accepted(st.rcpt("app@example.com", "refuse1@dest.test"))
    before = mx.scrape(st.metrics)
    st.hard_bounce("m1@example.com")
    # the next message to it from example.com is refused at RCPT
    refused(st.rcpt("app@example.com", "refuse1@dest.test"))
    refused(st.rcpt("Other@EXAMPLE.com", "Refuse1@Dest.Test"))
    assert "event=suppressed" in st.pd.log()
    after = mx.scrape(st.metrics)
    assert mx.delta(before, after, "postseal_policyd_suppressions_added_total") == 1
    assert mx.delta(before, after, "postseal_policyd_suppression_hits_total",
                    answer="refused") == 2
    assert "refuse1" not in after.text
    # others from example.com, and refuse1 from another domain, pass
    accepted(st.rcpt("app@example.com", "ok1@dest.test"))
    accepted(st.rcpt("app@example.org", "refuse1@dest.test"))
    # the admin sees it, with the address, and removes it
    out = st.cli("list").stdout
    assert re.search(r"^refuse1@dest\.test domain:example\.com since \S+Z until \S+Z$",
                     out, re.M), out
    assert "removed refuse1@dest.test" in st.cli("remove", "refuse1@dest.test",
                                                 "example.com").stdout
    assert st.cli("list").stdout == "no suppressed recipients\n"
    accepted(st.rcpt("app@example.com", "refuse1@dest.test"))
    r = st.cli("remove", "refuse1@dest.test", "example.com", check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    # the key holds no address: the LMDB file has the address only in values
    # (the list needs them), never in a key
    assert b"sup:" in open(os.path.join(st.tmp, "quota"), "rb").read()


def test_entry_expires(lmdb_stack):
    st = lmdb_stack
    ttl = 20  # s: the refusal is checked right after the add, well within it
    short = ms.write_ini(os.path.join(st.tmp, "short.conf"),
                         dict(st.sections, suppression={"ttl": f"{ttl}s"}))
    before = time.time()
    st.cli("add", "refuse2@dest.test", "example.com", conf=short)
    answer = st.rcpt("app@example.com", "refuse2@dest.test")
    if time.time() - before < ttl - 5:  # else the machine was too slow to tell
        assert answer[0] == 550 and "<refuse2@dest.test>: suppressed since" in answer[1], answer
    # past its end (whole seconds, plus a margin): gone
    time.sleep(max(0.0, before + ttl + 2.5 - time.time()))
    accepted(st.rcpt("app@example.com", "refuse2@dest.test"))
    assert st.cli("list").stdout == "no suppressed recipients\n"


def test_mode_log_only_logs(lmdb_stack):
    st = lmdb_stack
    st.cli("add", "refuse3@dest.test", "example.com")
    refused_now = st.rcpt("app@example.com", "refuse3@dest.test")
    assert refused_now[0] == 550, refused_now
    st.sections["suppression"]["mode"] = "log"
    ms.write_ini(st.conf, st.sections)
    st.pd.signal(__import__("signal").SIGHUP)
    st.pd.wait_log(r"event=reload", timeout=15)
    accepted(st.rcpt("app@example.com", "refuse3@dest.test"))
    st.pd.wait_log(r"event=suppressed .*recipient=refuse3@dest.test .*answer=\"?DUNNO")


def test_redis_two_daemons_both_refuse(tmp_path):
    with RedisServer() as redis:
        with ms.running(lambda tmp: Stack(tmp, redis.url), "postseal-supp-r-") as st:
            # a second daemon on the same Redis, following no log
            port2 = ms.free_port()
            conf2 = ms.write_ini(os.path.join(st.tmp, "second.conf"), {
                "policyd": {"listen": f"inet:127.0.0.1:{port2}", "store": redis.url,
                            "store_down": "DEFER_IF_PERMIT"},
                "suppression": {},
            })
            pd2 = ms.Daemon([POLICYD, "-f", "-c", conf2], port=port2)
            st.parts.append(pd2)
            st.hard_bounce("r1@example.com")
            refused(st.rcpt("app@example.com", "refuse1@dest.test"))
            with PolicyClient(port2) as c:
                ask = dict(protocol_state="RCPT", instance="x1", client_address="192.0.2.7",
                           sender="app@example.com", recipient="refuse1@dest.test")
                answer = c.ask(**ask)
                assert answer.startswith("550 5.1.1 <refuse1@dest.test>: suppressed since "), \
                    answer
                answer = c.ask(**dict(ask, sender="app@example.org"))
                assert answer == "DUNNO", answer
            keys = redis.cli("--scan", "--pattern", "ps:sup:*").split()
            assert len(keys) == 1 and "refuse1" not in keys[0], keys
            out = st.cli("list").stdout
            assert out.startswith("refuse1@dest.test domain:example.com since "), out
            st.cli("remove", "refuse1@dest.test", "example.com")
            accepted(st.rcpt("app@example.com", "refuse1@dest.test"))
            with PolicyClient(port2) as c:
                assert c.ask(**ask) == "DUNNO"
            # Redis gone: the store_down answer, as for quotas
            redis.stop()
            with PolicyClient(port2) as c:
                answer = c.ask(**ask)
                assert answer == "DEFER_IF_PERMIT suppression list temporarily unavailable", \
                    answer


def test_check_names_file_and_line(tmp_path):
    """postseal check and postseal-policyd -n refuse a bad [suppression]
    value with FILE:LINE, as every other value."""
    conf = str(tmp_path / "bad.conf")
    with open(conf, "w") as f:
        f.write(f"[policyd]\nstore = lmdb:{tmp_path}/q\nuser = root\n\n"
                "[suppression]\nscope = domain\nttl = 30 days\n")
    for argv in ([CLI, "check", "-c", conf], [POLICYD, "-n", "-c", conf]):
        r = subprocess.run(argv, capture_output=True, text=True)
        assert r.returncode != 0, r.stdout
        assert f"{conf}:7: bad ttl '30 days': expected a time from 1s to 3650d" in r.stderr, \
            r.stderr
