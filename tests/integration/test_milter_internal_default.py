"""internal_hosts when postseal.conf has no such line: loopback
(127.0.0.0/8, ::1), as OpenDKIM's InternalHosts, so mail that sendmail(1)
or cron submits on the host itself, or a local client over SMTP, leaves
signed; an outside client is still not signed. Through a real Postfix,
checked by dkimpy."""

import os

import dkim
import pytest

import mailstack as ms

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK), reason="postseal-milter not built")


class Stack:
    """One RSA key, a milter whose [milter] section has no internal_hosts
    line, and a Postfix using it for SMTP and for sendmail."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.key = ms.DkimKey(tmp, "s2026r", "rsa")
        self.port = ms.free_port()
        self.conf = os.path.join(tmp, "postseal.conf")
        self.write_conf({})
        self.milter = ms.Daemon([MILTER, "-f", "-c", self.conf], port=self.port)
        self.sink = ms.SmtpSink()
        spec = f"inet:127.0.0.1:{self.port}"
        self.pf = ms.PostfixInstance(self.sink, milter=spec, non_smtpd_milter=spec,
                                     hostname="mx.example.test",
                                     main={"local_header_rewrite_clients": ""})

    def write_conf(self, extra):
        milter = {"socket": f"inet:{self.port}@127.0.0.1", "mode": "sign"}
        milter.update(extra)
        ms.write_ini(self.conf, {"milter": milter,
                                 "keys": {"ex": f"example.com s2026r {self.key.path}"},
                                 "signing": {"example.com": "ex"}})

    def close(self):
        report = ms.shutdown(self.pf, self.sink, self.milter)
        assert report is None, report


@pytest.fixture(scope="module")
def stack():
    with ms.running(Stack, "postseal-internal-") as s:
        yield s


def verified(stack, msg):
    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return stack.key.record.encode() if name.rstrip(".") == stack.key.dns_name else None
    return dkim.DKIM(msg).verify(dnsfunc=dnsfunc)


def deliver(stack, send):
    send()
    [dump] = stack.sink.wait_for(1)
    return ms.message_of(dump)


BODY = (b"From: App <app@example.com>\nTo: bob@example.net\nSubject: cron\n\n"
        b"the nightly report\n")


def test_sendmail_on_the_host_signed_without_internal_hosts(stack):
    msg = deliver(stack, lambda: stack.pf.sendmail(BODY, "app@example.com",
                                                   ["bob@example.net"]))
    assert len(ms.header_values(msg, "DKIM-Signature")) == 1, msg[:800]
    assert verified(stack, msg)
    assert "sign=yes reason=internal" in stack.milter.log()


def test_loopback_smtp_signed_outside_not(stack):
    msg = deliver(stack, lambda: stack.pf.swaks("--to", "bob@example.net",
                                                "--from", "app@example.com",
                                                "--header", "From: app@example.com"))
    assert len(ms.header_values(msg, "DKIM-Signature")) == 1 and verified(stack, msg)
    msg = deliver(stack, lambda: stack.pf.swaks("--to", "bob@example.net",
                                                "--from", "app@example.com",
                                                "--xclient", "ADDR=192.0.2.7 NAME=c.example.net"))
    assert ms.header_values(msg, "DKIM-Signature") == []
    assert "sign=no reason=not-internal-not-authenticated" in stack.milter.log()
