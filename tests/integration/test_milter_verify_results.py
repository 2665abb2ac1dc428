"""postseal-milter's dkim= results for signatures that are not a plain pass
or fail, through a real Postfix, signed by independent signers (dkimpy,
Mail::DKIM) with keys served by dnsmasq: rsa-sha1 is not accepted (RFC
8301), a PKCS#1 key record is read, an expired x=, a future t=, an i=
outside a t=s key's domain and an l= longer than the body each get the
RFC 8601 result and a reason naming the cause, a pass whose l= leaves
content unsigned says so, and a SERVFAIL on the key is temperror."""

import base64
import json
import os
import re
import subprocess
import time

import dkim
import pytest

import mailstack as ms
from fakedns import FakeDns
from test_milter_verify import deliver, message, our_authres, sign
from verify_harness import VerifyStack, needs_milter

pytestmark = needs_milter


def pkcs1_record(key):
    """The key's record with p= as an RSAPublicKey (PKCS#1), not SPKI."""
    der = subprocess.run(["openssl", "rsa", "-in", key.path, "-RSAPublicKey_out",
                          "-outform", "DER"], check=True, capture_output=True).stdout
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


class Stack(VerifyStack):
    def __init__(self, tmp, resolver=None):
        self.tmp = tmp
        self.rsa = ms.DkimKey(tmp, "sel", "rsa", domain="ext.example")
        self.strict = ms.DkimKey(tmp, "strict", "rsa", domain="ext.example")
        self.pk1 = ms.DkimKey(tmp, "pkcs1", "rsa", domain="ext.example")
        self.dns = ms.Dnsmasq(txt={
            self.rsa.dns_name: self.rsa.record,
            self.strict.dns_name: self.strict.record + "; t=s",
            self.pk1.dns_name: pkcs1_record(self.pk1),
        })
        self.start(tmp, {"mode": "verify", "internal_hosts": "127.0.0.0/8"},
                   resolver=resolver)


@pytest.fixture(scope="module")
def stack():
    with ms.running(Stack, "postseal-vres-") as s:
        yield s


BODY = b"Hello from outside.\r\nSecond line.\r\n"  # test_milter_verify.message's


def sign_sha1(msg, key):
    return dkim.sign(msg, key.selector.encode(), key.domain.encode(), key.dkimpy_private,
                     signature_algorithm=b"rsa-sha1") + msg


MAIL_DKIM_SIGN = r"""
use strict; use Mail::DKIM::Signer; use Mail::DKIM::Signature; use JSON::PP;
my $a = decode_json($ARGV[0]);
my $signer = Mail::DKIM::Signer->new(KeyFile => $a->{key}, Policy => sub {
    my $s = shift;
    $s->add_signature(Mail::DKIM::Signature->new(
        Algorithm => 'rsa-sha256', Method => 'relaxed', Domain => $a->{d},
        Selector => $a->{s}, Headers => $s->headers,
        Timestamp => $a->{t}, Expiration => $a->{x}));
    return;
});
local $/; my $m = <STDIN>; $m =~ s/\r?\n/\r\n/g;
$signer->PRINT($m); $signer->CLOSE;
print $signer->signature->as_string, "\r\n";
"""


def mail_dkim_sign(msg, key, t, x):
    """msg signed by Mail::DKIM (an independent signer) with t= and x=."""
    arg = json.dumps({"key": key.path, "d": key.domain, "s": key.selector, "t": t, "x": x})
    out = subprocess.run(["perl", "-e", MAIL_DKIM_SIGN, arg], input=msg, check=True,
                         capture_output=True).stdout
    return out.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + msg


def dkim_result(msg):
    """(result, comment, reason) of the one dkim= result in our field."""
    ar = our_authres(msg)
    found = re.findall(r'dkim=(\w+)(?: \(([^)]*)\))?(?: reason="([^"]*)")?', ar)
    assert len(found) == 1, ar
    return found[0]


def test_plain_pass_has_no_comment(stack):
    assert dkim_result(deliver(stack, sign(message("plain"), stack.rsa))) == ("pass", "", "")


def test_rsa_sha1_is_not_a_pass(stack):
    msg = sign_sha1(message("sha1"), stack.rsa)
    assert dkim.verify(msg, dnsfunc=lambda name, timeout=5: stack.rsa.record.encode())
    result, _, reason = dkim_result(deliver(stack, msg))
    assert result == "policy" and "rsa-sha1" in reason and "8301" in reason


def test_pkcs1_key_record_is_read(stack):
    msg = sign(message("pkcs1"), stack.pk1)
    record = pkcs1_record(stack.pk1).encode()
    assert dkim.verify(msg, dnsfunc=lambda name, timeout=5: record)  # dkimpy takes it too
    assert dkim_result(deliver(stack, msg))[0] == "pass"


def test_pkcs1_key_record_still_checks_the_signature(stack):
    msg = sign(message("pkcs1 bad"), stack.pk1).replace(b"Second line", b"Altered line")
    assert dkim_result(deliver(stack, msg))[:1] == ("fail",)


def test_expired_x_is_neutral(stack):
    now = int(time.time())
    msg = mail_dkim_sign(message("expired"), stack.rsa, now - 20 * 86400, now - 10 * 86400)
    assert dkim_result(deliver(stack, msg)) == ("neutral", "", "signature expired (x=)")


def test_future_t_is_neutral(stack):
    now = int(time.time())
    msg = mail_dkim_sign(message("future"), stack.rsa, now + 365 * 86400, now + 400 * 86400)
    assert dkim_result(deliver(stack, msg)) == ("neutral", "",
                                                "signature timestamp in the future (t=)")


def test_unexpired_mail_dkim_signature_passes(stack):
    """The signer above makes valid signatures: the two cases fail on time only."""
    now = int(time.time())
    msg = mail_dkim_sign(message("in time"), stack.rsa, now - 3600, now + 10 * 86400)
    assert dkim_result(deliver(stack, msg)) == ("pass", "", "")


def test_subdomain_identity_with_strict_key_is_permerror(stack):
    msg = sign(message("strict"), stack.strict, identity=b"@sub.ext.example")
    assert dkim_result(deliver(stack, msg)) == ("permerror", "",
                                                "i= domain is not d= and the key has t=s")
    ok = sign(message("strict ok"), stack.strict, identity=b"user@ext.example")
    assert dkim_result(deliver(stack, ok))[0] == "pass"


def test_l_longer_than_body_is_permerror(stack):
    signed = sign(message("short body"), stack.rsa, length=True)
    msg = signed[:-len(b"Second line.\r\n")]
    assert dkim_result(deliver(stack, msg)) == ("permerror", "", "l= is longer than the body")


def test_l_leaving_content_unsigned_says_so(stack):
    signed = sign(message("appended"), stack.rsa, length=True)
    n = len(BODY)
    result, comment, _ = dkim_result(deliver(stack, signed + b"Appended after signing.\r\n"))
    assert (result, comment) == ("pass", f"l={n}: only the first {n} body octets are signed")


def test_l_covering_the_whole_body_has_no_comment(stack):
    msg = sign(message("whole body"), stack.rsa, length=True)
    assert dkim_result(deliver(stack, msg)) == ("pass", "", "")


def test_servfail_on_the_key_is_temperror(tmp_path):
    os.chmod(tmp_path, 0o755)
    server = FakeDns({}, default="SERVFAIL")
    s = Stack(str(tmp_path), resolver=server.resolver)
    try:
        result, _, reason = dkim_result(deliver(s, sign(message("servfail"), s.rsa)))
        assert (result, reason) == ("temperror", "key lookup failed: SERVFAIL")
        assert "sel._domainkey.ext.example" in server.queries
    finally:
        s.close()
        server.close()
