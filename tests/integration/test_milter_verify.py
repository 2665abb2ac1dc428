"""postseal-milter verification through a real Postfix: mail from outside
signed by an independent signer (dkimpy, RSA and Ed25519, keys published
by a dnsmasq the milter uses as its resolver) gets dkim=pass, a modified
copy dkim=fail, and SPF pass/fail/softfail comes from dnsmasq-served
records; exactly one Authentication-Results with our authserv-id, forged
ones removed; at most max_verify signatures checked; DNS trouble gives
temperror, never a lost or rejected message."""

import os
import re

import dkim
import pytest

import mailstack as ms
# test_dkim_vectors.py takes MILTER from here
from verify_harness import AUTHSERV, MILTER, OUTSIDE, VerifyStack, needs_milter  # noqa: F401

pytestmark = needs_milter


class Stack(VerifyStack):
    def __init__(self, tmp, resolver=None, max_verify=None):
        self.tmp = tmp
        self.rsa = ms.DkimKey(tmp, "sel", "rsa", domain="ext.example")
        self.ed = ms.DkimKey(tmp, "edsel", "ed25519", domain="ext.example")
        self.own = ms.DkimKey(tmp, "own", "rsa", domain="example.com")
        self.dns = ms.Dnsmasq(txt={
            self.rsa.dns_name: self.rsa.record,
            self.ed.dns_name: self.ed.record,
            "ext.example": "v=spf1 ip4:192.0.2.0/24 -all",
            "soft.example": "v=spf1 ip4:203.0.113.0/24 ~all",
            "mail.ext.example": "v=spf1 a:mail.ext.example -all",
        }, a={"mail.ext.example": "192.0.2.7"})
        self.start(tmp, {"mode": "sign,verify", "internal_hosts": "127.0.0.0/8",
                         **({"max_verify": str(max_verify)} if max_verify else {})},
                   sections={"keys": {"own": f"example.com own {self.own.path}"},
                             "signing": {"example.com": "own"}},
                   resolver=resolver)


@pytest.fixture(scope="module")
def stack():
    with ms.running(Stack, "postseal-verify-") as s:
        yield s


def message(subject="inbound", body=b"Hello from outside.\r\nSecond line.\r\n"):
    return (b"From: Sender <sender@ext.example>\r\nTo: bob@example.com\r\n"
            b"Subject: " + subject.encode() + b"\r\nDate: Mon, 23 Nov 2026 08:00:00 +0000\r\n"
            b"Message-ID: <" + subject.encode().replace(b" ", b".") + b"@ext.example>\r\n\r\n" + body)


def sign(msg, key, **kw):
    return dkim.sign(msg, key.selector.encode(), key.domain.encode(), key.dkimpy_private,
                     signature_algorithm=b"ed25519-sha256" if key.kind == "ed25519"
                     else b"rsa-sha256", **kw) + msg


def deliver(stack, msg, sender="sender@ext.example", client=OUTSIDE, helo="mail.ext.example"):
    code, text = stack.pf.smtp_send(msg, sender, ["bob@example.com"], xclient=client, helo=helo)
    assert code == 250, text
    [dump] = stack.sink.wait_for(1)
    return ms.message_of(dump)


def our_authres(msg):
    """The one Authentication-Results field with our authserv-id, unfolded."""
    ours = [re.sub(r"\s+", " ", v).strip() for v in ms.header_values(msg, "Authentication-Results")
            if v.strip().lower().startswith(AUTHSERV)]
    assert len(ours) == 1, ms.header_values(msg, "Authentication-Results")
    return ours[0]


def dkim_results(ar):
    return re.findall(r"dkim=(\w+)", ar)


def test_rsa_and_ed25519_signed_pass(stack):
    msg = sign(sign(message("two sigs"), stack.rsa), stack.ed)
    ar = our_authres(deliver(stack, msg))
    assert "dkim=pass header.d=ext.example header.s=sel header.a=rsa-sha256" in ar, ar
    assert "dkim=pass header.d=ext.example header.s=edsel header.a=ed25519-sha256" in ar, ar
    assert "spf=pass smtp.mailfrom=sender@ext.example" in ar
    stack.milter.wait_log(r"event=verify qid=\w+ dkim=pass:ext.example,pass:ext.example spf=pass")


def test_modified_message_fails(stack):
    signed = sign(message("modified"), stack.rsa)
    tampered = signed.replace(b"Hello from outside.", b"Hello from elsewhere")
    ar = our_authres(deliver(stack, tampered))
    assert dkim_results(ar) == ["fail"], ar
    assert "header.d=ext.example" in ar
    signed = sign(message("header changed"), stack.ed)
    tampered = signed.replace(b"Subject: header changed", b"Subject: header CHANGED")
    ar = our_authres(deliver(stack, tampered))
    assert dkim_results(ar) == ["fail"], ar


def test_unsigned_gets_none_and_spf_fail(stack):
    ar = our_authres(deliver(stack, message("unsigned"),
                             client={"ADDR": "198.51.100.9", "NAME": "elsewhere.example"}))
    assert "dkim=none" in ar
    assert "spf=fail smtp.mailfrom=sender@ext.example" in ar


def test_spf_softfail_and_none(stack):
    ar = our_authres(deliver(stack, message("soft"), sender="x@soft.example"))
    assert "spf=softfail smtp.mailfrom=x@soft.example" in ar
    ar = our_authres(deliver(stack, message("no spf"), sender="x@nospf.example"))
    assert "spf=none smtp.mailfrom=x@nospf.example" in ar


def test_null_sender_checks_helo(stack):
    ar = our_authres(deliver(stack, message("bounce"), sender=""))
    assert "spf=pass smtp.helo=mail.ext.example" in ar, ar


def test_missing_key_is_permerror(stack):
    gone = ms.DkimKey(stack.tmp, "gone", "rsa", domain="ext.example")
    ar = our_authres(deliver(stack, sign(message("no key"), gone)))
    assert dkim_results(ar) == ["permerror"], ar
    assert "header.s=gone" in ar


def test_forged_authres_removed_and_one_added(stack):
    forged = (f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=bank.example\r\n"
              f"Authentication-Results: (comment) \"{AUTHSERV}\"; spf=pass\r\n"
              "Authentication-Results: upstream.example; dkim=fail\r\n").encode()
    msg = deliver(stack, sign(forged + message("forged"), stack.rsa))
    ar = our_authres(msg)
    assert "bank.example" not in ar and "dkim=pass header.d=ext.example" in ar
    others = ms.header_values(msg, "Authentication-Results")
    assert len(others) == 2 and any("upstream.example" in v for v in others)
    stack.milter.wait_log(r"event=authres-removed qid=\w+ count=2")


def test_signature_cap(stack):
    msg = message("many signatures")
    for _ in range(7):
        msg = sign(msg, stack.rsa)
    ar = our_authres(deliver(stack, msg))
    assert dkim_results(ar) == ["pass"] * 5, ar


def test_more_results_than_one_field_used_to_hold(tmp_path):
    """max_verify 20: twenty dkim= results, spf= and dmarc= in one field
    (it held 16, so such a message was tempfailed for ever)."""
    with ms.running(lambda tmp: Stack(tmp, max_verify=20), "postseal-verify-20-") as s:
        msg = message("twenty signatures")
        for _ in range(20):
            msg = sign(msg, s.rsa)
        ar = our_authres(deliver(s, msg))
        assert dkim_results(ar) == ["pass"] * 20, ar
        assert "spf=pass" in ar and "dmarc=" in ar, ar


def test_our_own_mail_is_signed_not_verified(stack):
    body = b"From: app@example.com\r\nTo: bob@example.net\r\nSubject: out\r\n\r\nhi\r\n"
    msg = deliver(stack, body, sender="app@example.com", client=None, helo="localhost")
    assert len(ms.header_values(msg, "DKIM-Signature")) == 1
    assert not any(v.strip().lower().startswith(AUTHSERV)
                   for v in ms.header_values(msg, "Authentication-Results"))


def test_dns_down_is_temperror_not_lost(tmp_path):
    os.chmod(tmp_path, 0o755)
    dead = f"127.0.0.1:{ms.free_port()}"  # nothing answers there
    s = Stack(str(tmp_path), resolver=dead)
    try:
        ar = our_authres(deliver(s, sign(message("dns down"), s.rsa)))
        assert dkim_results(ar) == ["temperror"], ar
        assert "spf=temperror" in ar
    finally:
        s.close()


def from_field(value, subject):
    return (b"From: " + value + b"\r\nTo: bob@example.com\r\nSubject: " + subject.encode() +
            b"\r\nMessage-ID: <" + subject.encode().replace(b" ", b".") + b"@ext.example>\r\n\r\nhi\r\n")


@pytest.mark.parametrize("value,subject", [(b"<>", "null from"),
                                           (b"Sender <no at sign", "unparsable from")])
def test_unsigned_unreadable_from_is_none(stack, value, subject):
    # No signature means dkim=none (RFC 8601), whatever libopendkim thought
    # of the From field; permerror would read as a broken signature.
    ar = our_authres(deliver(stack, from_field(value, subject)))
    assert dkim_results(ar) == ["none"], ar
    assert "dkim=none reason=" not in ar, ar  # (dmarc= may carry one)


def test_internal_mail_without_rule_gets_no_authres(stack):
    body = b"From: app@norule.example\r\nTo: bob@example.net\r\nSubject: internal\r\n\r\nhi\r\n"
    msg = deliver(stack, body, sender="app@norule.example", client=None, helo="localhost")
    assert b"Subject: internal" in msg  # still delivered
    assert ms.header_values(msg, "DKIM-Signature") == []
    assert not any(v.strip().lower().startswith(AUTHSERV)
                   for v in ms.header_values(msg, "Authentication-Results")), msg
    stack.milter.wait_log(r"event=decision qid=\w+ sign=no reason=no-signing-rule")


def test_authenticated_mail_without_rule_gets_no_authres(stack):
    body = b"From: app@norule.example\r\nTo: bob@example.net\r\nSubject: authed\r\n\r\nhi\r\n"
    msg = deliver(stack, body, sender="app@norule.example",
                  client={"ADDR": "198.51.100.20", "NAME": "roaming.example",
                          "LOGIN": "app@norule.example"})
    assert b"Subject: authed" in msg
    assert not any(v.strip().lower().startswith(AUTHSERV)
                   for v in ms.header_values(msg, "Authentication-Results")), msg
