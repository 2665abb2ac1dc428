"""DMARC through a real Postfix: postseal-milter in verify mode with its
_dmarc lookups served by a dnsmasq on loopback. A spoofed message claiming
a p=reject domain is delivered with dmarc=fail while enforcement is off
and refused with 550 5.7.1 naming the policy when it is on; an aligned
one (DKIM or SPF) passes; sp= refuses a subdomain, DMARCbis's np= one
that does not exist (NXDOMAIN for A, AAAA and MX); a p=quarantine
failure goes to Postfix's hold queue; a trusted forwarder is not enforced; an ambiguous author (two From
fields) is refused under enforcement; with dmarc_quarantine = header the
message is delivered marked; the null sender aligns through HELO."""

import os
import re
import smtplib

import dkim
import pytest

import mailstack as ms
from verify_harness import AUTHSERV, VerifyStack, needs_milter

GOOD = {"ADDR": "192.0.2.7", "NAME": "mail.ext.example"}
SPOOFER = {"ADDR": "198.51.100.9", "NAME": "spoofer.example"}
FORWARDER = {"ADDR": "203.0.113.5", "NAME": "list.example"}

pytestmark = needs_milter


class Stack(VerifyStack):
    def __init__(self, tmp, enforce, quarantine=None):
        self.rsa = ms.DkimKey(tmp, "sel", "rsa", domain="ext.example")
        self.dns = ms.Dnsmasq(txt={
            self.rsa.dns_name: self.rsa.record,
            "ext.example": "v=spf1 ip4:192.0.2.0/24 -all",
            "mail.ext.example": "v=spf1 ip4:192.0.2.0/24 -all",
            "_dmarc.ext.example": "v=DMARC1; p=reject; rua=mailto:d@ext.example",
            "_dmarc.q.example": "v=DMARC1; p=quarantine",
            "_dmarc.sp.example": "v=DMARC1; p=none; sp=reject",
            "_dmarc.strict.example": "v=DMARC1; p=reject; aspf=s",
            "strict.example": "v=spf1 ip4:192.0.2.0/24 -all",
            "bounce.strict.example": "v=spf1 ip4:192.0.2.0/24 -all",
            "_dmarc.np.example": "v=DMARC1; p=none; sp=none; np=reject",
        }, a={"www.np.example": "192.0.2.80"})
        milter = {
            "mode": "verify",
            "dmarc_trusted_forwarders": "203.0.113.0/24",
        }
        if enforce:
            milter["dmarc_enforce"] = "yes"
        if quarantine:
            milter["dmarc_quarantine"] = quarantine
        self.start(tmp, milter)


@pytest.fixture(scope="module")
def relaxed():
    with ms.running(lambda tmp: Stack(tmp, enforce=False), "postseal-dmarc-") as s:
        yield s


@pytest.fixture(scope="module")
def enforcing():
    with ms.running(lambda tmp: Stack(tmp, enforce=True), "postseal-dmarc-") as s:
        yield s


def message(frm, subject, extra=b""):
    return (b"From: " + frm.encode() + b"\r\n" + extra + b"To: bob@example.com\r\nSubject: " +
            subject.encode() + b"\r\nMessage-ID: <" + subject.replace(" ", ".").encode() +
            b"@test>\r\n\r\nHello.\r\n")


def signed(stack, msg):
    key = stack.rsa
    return dkim.sign(msg, key.selector.encode(), key.domain.encode(), key.dkimpy_private) + msg


def send(stack, msg, sender, client):
    try:
        return stack.pf.smtp_send(msg, sender, ["bob@example.com"], xclient=client,
                                  helo=client["NAME"])
    except smtplib.SMTPDataError as e:
        return e.smtp_code, e.smtp_error


def unseen(stack):
    """Messages the sink holds that no test has taken yet."""
    return [f for f in stack.sink.files() if f not in stack.sink._seen]


def delivered_ar(stack, msg, sender, client):
    code, text = send(stack, msg, sender, client)
    assert code == 250, text
    [dump] = stack.sink.wait_for(1)
    got = ms.message_of(dump)
    ours = [re.sub(r"\s+", " ", v).strip() for v in ms.header_values(got, "Authentication-Results")
            if v.strip().lower().startswith(AUTHSERV)]
    assert len(ours) == 1, ours
    return ours[0], got


def test_spoof_delivered_with_fail_when_not_enforced(relaxed):
    ar, _ = delivered_ar(relaxed, message("CEO <ceo@ext.example>", "spoof off"),
                         "x@attacker.example", SPOOFER)
    assert "dmarc=fail header.from=ext.example policy.dmarc=reject" in ar, ar
    relaxed.milter.wait_log(r"event=dmarc qid=\w+ result=fail domain=ext.example "
                            r"policy=reject action=accept reason=not-enforced")


def test_aligned_dkim_passes(relaxed):
    ar, _ = delivered_ar(relaxed, signed(relaxed, message("a@ext.example", "aligned dkim")),
                         "x@attacker.example", SPOOFER)
    assert "dkim=pass header.d=ext.example" in ar
    assert "dmarc=pass header.from=ext.example policy.dmarc=reject" in ar, ar


def test_null_sender_aligns_through_helo(relaxed):
    ar, _ = delivered_ar(relaxed, message("postmaster@ext.example", "bounce"), "", GOOD)
    assert "spf=pass smtp.helo=mail.ext.example" in ar, ar
    assert "dmarc=pass header.from=ext.example" in ar, ar
    relaxed.milter.wait_log(r"result=pass domain=ext.example policy=reject action=accept "
                            r"reason=spf-aligned")


def test_no_policy_is_none(relaxed):
    ar, _ = delivered_ar(relaxed, message("a@nodmarc.example", "no policy"),
                         "a@nodmarc.example", SPOOFER)
    assert "dmarc=none header.from=nodmarc.example" in ar, ar
    assert "policy.dmarc" not in ar


def test_spoof_refused_when_enforced(enforcing):
    code, text = send(enforcing, message("CEO <ceo@ext.example>", "spoof on"),
                      "x@attacker.example", SPOOFER)
    assert code == 550, text
    text = text.decode() if isinstance(text, bytes) else text
    assert "5.7.1" in text and "DMARC policy of ext.example (p=reject)" in text, text
    enforcing.milter.wait_log(r"event=dmarc qid=\w+ result=fail domain=ext.example "
                              r"policy=reject action=reject reason=policy-reject")
    assert unseen(enforcing) == []


def test_aligned_spf_passes_when_enforced(enforcing):
    ar, _ = delivered_ar(enforcing, message("a@ext.example", "aligned spf"),
                         "bounces@ext.example", GOOD)
    assert "spf=pass" in ar and "dmarc=pass header.from=ext.example" in ar, ar


def test_subdomain_policy_refused(enforcing):
    code, text = send(enforcing, message("a@news.sp.example", "subdomain"),
                      "x@attacker.example", SPOOFER)
    assert code == 550, text
    text = text.decode() if isinstance(text, bytes) else text
    assert "DMARC policy of news.sp.example (sp=reject)" in text, text


def test_nonexistent_subdomain_gets_np(relaxed):
    ar, _ = delivered_ar(relaxed, message("a@ghost.np.example", "np ghost"),
                         "x@attacker.example", SPOOFER)
    assert "dmarc=fail header.from=ghost.np.example policy.dmarc=reject" in ar, ar
    relaxed.milter.wait_log(r"result=fail domain=ghost.np.example policy=reject "
                            r"action=accept reason=not-enforced")


def test_existing_subdomain_keeps_sp(relaxed):
    ar, _ = delivered_ar(relaxed, message("a@www.np.example", "np www"),
                         "x@attacker.example", SPOOFER)
    assert "dmarc=fail header.from=www.np.example policy.dmarc=none" in ar, ar


def test_nonexistent_subdomain_refused_by_np(enforcing):
    code, text = send(enforcing, message("a@ghost.np.example", "np refused"),
                      "x@attacker.example", SPOOFER)
    assert code == 550, text
    text = text.decode() if isinstance(text, bytes) else text
    assert "DMARC policy of ghost.np.example (np=reject)" in text, text
    assert unseen(enforcing) == []


def test_strict_spf_subdomain_refused(enforcing):
    code, text = send(enforcing, message("a@strict.example", "strict spf"),
                      "b@bounce.strict.example", GOOD)
    assert code == 550, text


def test_trusted_forwarder_not_enforced(enforcing):
    ar, _ = delivered_ar(enforcing, message("ceo@ext.example", "forwarded"),
                         "list-bounces@list.example", FORWARDER)
    assert "dmarc=fail header.from=ext.example" in ar, ar
    enforcing.milter.wait_log(r"result=fail domain=ext.example policy=reject action=accept "
                              r"reason=trusted-forwarder")


def test_quarantine_goes_on_hold(enforcing):
    code, text = send(enforcing, message("a@q.example", "quarantined"),
                      "x@attacker.example", SPOOFER)
    assert code == 250, text
    enforcing.pf.wait_log(r"milter triggers HOLD action")
    enforcing.milter.wait_log(r"result=fail domain=q.example policy=quarantine action=hold "
                              r"reason=policy-quarantine")
    assert unseen(enforcing) == []


def test_two_from_fields_refused_when_enforced(enforcing):
    msg = message("a@other.example", "two froms", extra=b"From: ceo@ext.example\r\n")
    code, text = send(enforcing, msg, "x@attacker.example", SPOOFER)
    assert code == 550, text
    enforcing.milter.wait_log(r"result=permerror domain=- policy=- action=reject "
                              r"reason=ambiguous-author detail=\"2 From fields\"")


def test_quarantine_as_header(tmp_path):
    os.chmod(tmp_path, 0o755)
    s = Stack(str(tmp_path), enforce=True, quarantine="header")
    try:
        ar, got = delivered_ar(s, message("a@q.example", "marked"), "x@attacker.example", SPOOFER)
        assert "dmarc=fail header.from=q.example policy.dmarc=quarantine" in ar, ar
        marks = ms.header_values(got, "X-Postseal-DMARC-Quarantine")
        assert [m.strip() for m in marks] == ["DMARC policy of q.example (p=quarantine)"], marks
        s.milter.wait_log(r"result=fail domain=q.example policy=quarantine action=header "
                          r"reason=policy-quarantine")
    finally:
        s.close()
