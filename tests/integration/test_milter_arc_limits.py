"""What one hostile ARC chain can cost postseal-milter, through a real
Postfix: every ARC byte is the sender's, up to 50 sets, each with its own
key. The key lookups are counted at a DNS server of ours on loopback
(fakedns.py), never timed:

- a chain longer than [milter] arc_max_verify allows fails (arc=fail,
  the reason in the log) before a single key is looked up, 50 sets too;
- a chain within the cap looks each key up once (a hop's AMS and AS share
  it), however many checks use it;
- keys that answer slowly share one deadline per message
  (PS_MILTER_ARC_DNS_DEADLINE, 10 s): the chain ends as temperror (arc=fail)
  after fewer lookups than it needs, never as a pass, and a message on
  another connection is answered meanwhile."""

import os
import re
import threading
import time
import types

import dkim  # noqa: F401  (dkimpy seals; skip cleanly without it)
import pytest

import mailstack as ms
from fakedns import FakeDns
from test_milter_arc import AUTHSERV, LIST, MILTER, our_ar, seal

ORIGINAL = (b"From: Alice <alice@plain.example>\r\nTo: list@lists.example.org\r\n"
            b"Subject: hello\r\nMessage-ID: <arc-limits@plain.example>\r\n"
            b"Date: Sun, 6 Dec 2026 10:00:00 +0000\r\n\r\nHello, list.\r\n")
SEALER = "lists.example.org"
SLOW = 2.5  # seconds before a slow key is answered: inside one 3 s try

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK),
                                reason="postseal-milter not built")


class SlowDns(FakeDns):
    """FakeDns answering each query in its own thread, names in slow
    after SLOW seconds (other names at once)."""

    def __init__(self, table, slow=()):
        self.slow = {n.lower() for n in slow}
        super().__init__(table)

    def _serve(self):
        while True:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            threading.Thread(target=self._reply, args=(q, peer), daemon=True).start()

    def _reply(self, q, peer):
        reply = self.answer(q)
        if self.queries and self.queries[-1] in self.slow:
            time.sleep(SLOW)
        if reply is not None:
            try:
                self.sock.sendto(reply, peer)
            except OSError:
                pass

    def key_names(self):
        return [q for q in list(self.queries) if "._domainkey." in q]


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    return ms.DkimKey(str(tmp_path_factory.mktemp("arclim")), "k", "rsa", domain=SEALER)


def chain(key, hops, tag=""):
    """hops ARC sets on ORIGINAL, hop k sealed under selector s<tag>k (all
    with the one key, published under every selector)."""
    msg = ORIGINAL.replace(b"Subject: hello", b"Subject: hello " + tag.encode())
    for k in range(1, hops + 1):
        sealer = types.SimpleNamespace(selector=f"s{tag}{k}", domain=SEALER,
                                       dkimpy_private=key.dkimpy_private)
        msg = seal(msg, sealer, SEALER.encode(),
                   b"spf=pass smtp.mailfrom=plain.example" if k == 1 else b"arc=pass")
        # the hop's own Authentication-Results, which dkimpy read for cv=,
        # does not travel on: the next hop would read it as its own
        msg = re.sub(rb"^Authentication-Results: [^\r\n]*\r\n", b"", msg, count=1,
                     flags=re.M)
    return msg


def zone(key, hops, tag=""):
    return {f"s{tag}{k}._domainkey.{SEALER}": key.record for k in range(1, hops + 1)}


class Stack:
    def __init__(self, tmp, dns, **milter_extra):
        self.dns = dns
        self.port = ms.free_port()
        milter = {"socket": f"inet:{self.port}@127.0.0.1", "mode": "verify",
                  "authserv_id": AUTHSERV, "resolver": dns.resolver, **milter_extra}
        self.conf = ms.write_ini(os.path.join(tmp, "postseal.conf"), {"milter": milter})
        self.milter = ms.Daemon([MILTER, "-f", "-c", self.conf], port=self.port)
        self.sink = ms.SmtpSink()
        self.pf = ms.PostfixInstance(self.sink, milter=f"inet:127.0.0.1:{self.port}",
                                     hostname=AUTHSERV,
                                     main={"local_header_rewrite_clients": ""})

    def close(self):
        report = ms.shutdown(self.pf, self.sink, self.milter)
        self.dns.close()
        assert report is None, report

    def send(self, msg):
        return self.pf.smtp_send(msg, "list-bounces@lists.example.org", ["bob@example.com"],
                                 xclient=LIST, helo=LIST["NAME"])


def delivered_ar(stack, n, tag):
    """Our Authentication-Results in the message with Subject "hello <tag>"
    among the next n delivered."""
    want = f"Subject: hello {tag}\r\n".encode()
    [dump] = [d for d in stack.sink.wait_for(n) if want in ms.message_of(d)]
    return our_ar(ms.message_of(dump))


def test_cap_on_checks_and_lookups(key):
    """arc_max_verify = 8: 6 sets (7 checks) pass, one lookup per key;
    8 sets (9 checks) and 50 sets fail without a lookup."""
    table = {**zone(key, 6, "a"), **zone(key, 8, "b"), **zone(key, 50, "c")}
    dns = SlowDns(table)
    with ms.running(lambda tmp: Stack(tmp, dns, arc_max_verify="8"),
                    "postseal-arclim-") as s:
        mark = len(s.milter.log())
        code, text = s.send(chain(key, 6, "a"))
        assert code == 250, text
        assert "arc=pass" in delivered_ar(s, 1, "a")
        # 7 checks for the chain, one left for the oldest-pass search (AMS
        # 5); AMS 4 unchecked counts as broken: oldest-pass 5, trusting less
        s.milter.wait_log(r"event=arc qid=\w+ result=pass instances=6 oldest_pass=5",
                          after=mark)
        names = dns.key_names()
        assert sorted(names) == sorted(zone(key, 6, "a")), names  # each key once

        for n, tag in ((8, "b"), (50, "c")):
            mark, before = len(s.milter.log()), len(dns.key_names())
            code, text = s.send(chain(key, n, tag))
            assert code == 250, text
            ar = delivered_ar(s, 1, tag)
            assert "arc=fail" in ar and "arc_max_verify" in ar, ar
            s.milter.wait_log(rf"event=arc qid=\w+ result=fail instances={n} .*"
                              rf"reason=\"i={n}: {n} sets need {n + 1} signature checks, "
                              r"more than arc_max_verify \(8\)\"", after=mark)
            assert len(dns.key_names()) == before, dns.key_names()[before:]


def send_async(stack, msg, out):
    def run():
        out["started"] = time.monotonic()
        out["reply"] = stack.send(msg)
        out["done"] = time.monotonic()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_slow_keys_share_one_deadline(key):
    """11 sets sealed under 11 keys, each answered after 2.5 s: all of them
    would take 27 s; the 10 s ARC deadline ends the lookups early, the
    chain is not a pass, and another connection's message goes through
    while the first waits."""
    hops = 11
    keys = zone(key, hops, "d")
    dns = SlowDns(keys, slow=keys)
    with ms.running(lambda tmp: Stack(tmp, dns), "postseal-arclim-") as s:
        mark = len(s.milter.log())
        first = {}
        t = send_async(s, chain(key, hops, "d"), first)
        end = time.monotonic() + 60
        while not dns.key_names() and time.monotonic() < end:
            time.sleep(0.05)
        assert dns.key_names(), "the milter never asked for an ARC key"

        code, text = s.send(ORIGINAL)  # another connection, meanwhile
        assert code == 250, text
        assert t.is_alive(), "the ARC message was answered before the plain one"

        t.join(120)
        assert not t.is_alive(), "the ARC message was never answered"
        code, text = first["reply"]
        assert code == 250, text
        s.milter.wait_log(r"event=arc qid=\w+ result=temperror instances=11 .*"
                          r"no DNS answer", after=mark)
        names = set(dns.key_names())
        # each answered lookup took 2.5 s of the 10: at most 4 answered, the
        # fifth cut short; all 11 keys would be needed for a pass
        assert len(names) <= 5, sorted(names)
        ar = delivered_ar(s, 2, "d")
        assert "arc=fail" in ar, ar


def test_unanswered_key_stops_the_chain(key):
    """A key that never answers: temperror after that one lookup, the
    other ten keys are never asked for."""
    hops = 11
    keys = zone(key, hops, "e")
    table = dict(keys)
    table[f"se{hops}._domainkey.{SEALER}"] = "TIMEOUT"
    dns = SlowDns(table)
    with ms.running(lambda tmp: Stack(tmp, dns), "postseal-arclim-") as s:
        mark = len(s.milter.log())
        code, text = s.send(chain(key, hops, "e"))
        assert code == 250, text
        s.milter.wait_log(r"event=arc qid=\w+ result=temperror instances=11", after=mark)
        assert set(dns.key_names()) == {f"se{hops}._domainkey.{SEALER}"}, dns.key_names()
        assert "arc=fail" in delivered_ar(s, 1, "e")
