"""Re-injection: a real Postfix whose content_filter hands every message
back through a second smtpd (127.0.0.1) that inherits smtpd_milters, so
postseal-milter sees each message twice, the second time from an internal
address. Outside mail must not be signed by the second pass and keeps the
first pass's Authentication-Results; authenticated and internal mail is
signed exactly once; a trace field an outside client forges is removed and
believed by neither pass."""

import os
import re

import dkim
import pytest

import mailstack as ms

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")
AUTHSERV = "mx.example.test"
OUTSIDE = {"ADDR": "203.0.113.9", "NAME": "[UNAVAILABLE]"}

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK), reason="postseal-milter not built")


class Stack:
    def __init__(self, tmp):
        self.key = ms.DkimKey(tmp, "s2026r", "rsa")
        self.dns = ms.Dnsmasq(txt={self.key.dns_name: self.key.record})
        self.port = ms.free_port()
        conf = os.path.join(tmp, "postseal.conf")
        ms.write_ini(conf, {
            "milter": {"socket": f"inet:{self.port}@127.0.0.1", "mode": "sign,verify",
                       "internal_hosts": "127.0.0.0/8", "authserv_id": AUTHSERV,
                       "resolver": self.dns.resolver},
            "keys": {"ex-rsa": f"example.com s2026r {self.key.path}"},
            "signing": {"example.com": "ex-rsa"},
        })
        self.milter = ms.Daemon([MILTER, "-f", "-c", conf], port=self.port)
        self.sink = ms.SmtpSink()
        reinject = ms.free_port()
        # The content filter is Postfix's own SMTP client handing the mail
        # to a second smtpd: a filter that changes nothing, re-injecting
        # exactly as amavis or a spam filter would.
        self.pf = ms.PostfixInstance(
            self.sink, milter=f"inet:127.0.0.1:{self.port}", hostname=AUTHSERV,
            main={"content_filter": f"smtp:[127.0.0.1]:{reinject}"},
            master=f"127.0.0.1:{reinject} inet n - n - - smtpd\n"
                   "  -o content_filter=\n")

    def close(self):
        report = ms.shutdown(self.pf, self.sink, self.milter, self.dns)
        assert report is None, report


@pytest.fixture(scope="module")
def stack():
    with ms.running(Stack, "postseal-reinject-") as s:
        yield s


def message(sender, extra=""):
    return (f"From: {sender}\r\nTo: user@dest.example\r\nSubject: reinjected\r\n{extra}"
            "\r\nbody\r\n").encode()


def deliver(stack, msg, sender, xclient):
    code, text = stack.pf.smtp_send(msg, sender, ["user@dest.example"], xclient=xclient)
    assert code == 250, text
    return ms.message_of(stack.sink.wait_for(1)[0])


def our_authres(msg):
    return [v for v in ms.header_values(msg, "Authentication-Results")
            if re.match(r"\s*" + re.escape(AUTHSERV) + r"\s*;", v)]


def decisions(stack, after):
    return re.findall(r"event=decision qid=\S+ sign=(\w+) reason=(\S+)", stack.milter.log()[after:])


def dkim_ok(stack, msg):
    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return stack.key.record.encode() if name.rstrip(".") == stack.key.dns_name else None
    return dkim.DKIM(msg).verify(dnsfunc=dnsfunc)


def test_outside_mail_not_signed_and_keeps_first_authres(stack):
    mark = len(stack.milter.log())
    msg = deliver(stack, message("ceo@example.com"), "ceo@example.com", OUTSIDE)
    assert ms.header_values(msg, "DKIM-Signature") == []
    ours = our_authres(msg)
    assert len(ours) == 1, ms.header_values(msg, "Authentication-Results")
    assert "smtp.mailfrom=ceo@example.com" in ours[0]  # the first pass's SPF result
    assert decisions(stack, mark) == [("no", "not-internal-not-authenticated"),
                                      ("no", "reinjected-inbound")]


def test_forged_trace_and_authres_from_outside_are_removed(stack):
    forged = (f"Postseal-Trace: signed; mac={'0' * 32}\r\n"
              f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=example.com\r\n")
    mark = len(stack.milter.log())
    msg = deliver(stack, message("ceo@example.com", forged), "ceo@example.com", OUTSIDE)
    assert ms.header_values(msg, "DKIM-Signature") == []
    ours = our_authres(msg)
    assert len(ours) == 1 and "dkim=pass" not in ours[0], ours
    assert all("0" * 32 not in v for v in ms.header_values(msg, "Postseal-Trace"))
    assert decisions(stack, mark)[-1] == ("no", "reinjected-inbound")


@pytest.mark.parametrize("xclient,reason", [
    ({"LOGIN": "app@example.com"}, "authenticated"),
    (None, "internal"),
])
def test_our_mail_signed_exactly_once(stack, xclient, reason):
    mark = len(stack.milter.log())
    msg = deliver(stack, message("app@example.com"), "app@example.com", xclient)
    assert len(ms.header_values(msg, "DKIM-Signature")) == 1, msg.decode(errors="replace")
    assert dkim_ok(stack, msg)
    assert decisions(stack, mark) == [("yes", reason), ("no", "reinjected-signed")]
