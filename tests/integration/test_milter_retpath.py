"""postseal-milter at RCPT through a real Postfix: mail to the return-path
domain is accepted only with a valid, unexpired token (made by `postseal
retpath encode`); tampered, expired or token-less addresses get 550 with the
reason, other recipients of the same message are untouched.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_milter_retpath.py
"""

import os
import smtplib
import subprocess
import time

import pytest

import mailstack as ms

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")
CLI = os.path.join(BUILD, "postseal")
RP = "rp.example.com"

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK), reason="postseal-milter not built")


class Stack:
    def __init__(self, tmp):
        self.secret = os.path.join(tmp, "retpath.secrets")
        with open(self.secret, "w") as f:
            f.write("n3w\nk1\n")
        os.chmod(self.secret, 0o600)
        self.key = ms.DkimKey(tmp, "s2026e", "ed25519")
        self.port = ms.free_port()
        self.conf = ms.write_ini(os.path.join(tmp, "postseal.conf"), {
            "milter": {"socket": f"inet:{self.port}@127.0.0.1", "mode": "sign",
                       "internal_hosts": "127.0.0.0/8", "authserv_id": "mx.example.com"},
            "keys": {"own": f"example.com s2026e {self.key.path}"},
            "signing": {"example.com": "own"},
            "return_path": {"domain": RP, "secret_file": self.secret},
        })
        self.milter = ms.Daemon([MILTER, "-f", "-c", self.conf], port=self.port)
        self.sink = ms.SmtpSink()
        self.pf = ms.PostfixInstance(self.sink, milter=f"inet:127.0.0.1:{self.port}")

    def token(self, ref, t=None, secret=None):
        args = [CLI, "retpath", "encode", "--secret-file", secret or self.secret,
                "--domain", RP, ref]
        if t is not None:
            args[3:3] = ["--time", str(t)]
        r = subprocess.run(args, capture_output=True, text=True, check=True)
        return r.stdout.strip()

    def close(self):
        report = ms.shutdown(self.pf, self.sink, self.milter)
        assert report is None, report


@pytest.fixture(scope="module")
def stack():
    with ms.running(Stack, "postseal-retpath-") as s:
        yield s


def rcpt(stack, addr):
    with smtplib.SMTP("127.0.0.1", stack.pf.port, timeout=60) as s:
        s.ehlo("mx.remote.example")
        s.mail("<>")
        return s.rcpt(addr)


def bounce(to):
    return (f"From: MAILER-DAEMON@remote.example\r\nTo: {to}\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n\r\nbounced\r\n")


def test_valid_token_accepted(stack):
    addr = stack.token("Msg42")
    code, text = rcpt(stack, addr)
    assert code == 250, text
    code, _ = rcpt(stack, addr.upper())  # relays may change case
    assert code == 250
    stack.pf.smtp_send(bounce(addr).encode(), "<>", [addr])
    env = ms.envelope_of(stack.sink.wait_for(1)[0])
    assert [r.strip("<>").split(" ")[0].strip("<>") for r in env["rcpt"]] == [addr]


@pytest.mark.parametrize("what,reason", [
    ("tampered", b"does not verify"), ("expired", b"expired"),
    ("plain", b"malformed"), ("foreign", b"does not verify"),
])
def test_bad_tokens_refused(stack, what, reason):
    good = stack.token("Msg42")
    local, _, dom = good.partition("@")
    if what == "tampered":
        addr = local[:-1] + ("a" if local[-1] != "a" else "b") + "@" + dom
    elif what == "expired":
        addr = stack.token("Msg42", t=int(time.time()) - 9 * 86400)
    elif what == "plain":
        addr = "postmaster@" + RP
    else:
        other = os.path.join(os.path.dirname(stack.secret), "other.secrets")
        with open(other, "w") as f:
            f.write("not-ours\n")
        os.chmod(other, 0o600)
        addr = stack.token("Msg42", secret=other)
    code, text = rcpt(stack, addr)
    assert code == 550 and text.startswith(b"5.7.1") and reason in text, (code, text)
    assert b"bounce-rcpt" in open(stack.milter.log_path, "rb").read()


def test_other_recipients_untouched(stack):
    good = stack.token("Q1")
    with smtplib.SMTP("127.0.0.1", stack.pf.port, timeout=60) as s:
        s.ehlo("mx.remote.example")
        s.mail("<>")
        assert s.rcpt("b.Q1.aaaa.aaaaaaaaaa@" + RP)[0] == 550
        assert s.rcpt("someone@elsewhere.example")[0] == 250
        assert s.rcpt(good)[0] == 250
        assert s.data(bounce(good))[0] == 250
    env = ms.envelope_of(stack.sink.wait_for(1)[0])
    got = sorted(r.split(" ")[0].strip("<>") for r in env["rcpt"])
    assert got == sorted([good, "someone@elsewhere.example"])
