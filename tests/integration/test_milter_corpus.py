"""The DKIM oracle corpus (every shape of test_dkim_oracles.corpus())
signed THROUGH POSTFIX: one private Postfix with postseal-milter (mode =
sign, an RSA-2048 and an Ed25519 key for example.com) in smtpd_milters and
non_smtpd_milters, relaying to an smtp-sink.  Every shape is submitted over
SMTP, a few through Postfix's sendmail -C, and one message goes to several
recipients; from the smtp-sink dump of each, each of the two
DKIM-Signature fields is checked alone (the other one removed) by dkimpy,
Mail::DKIM (RSA only on Debian 12) and opendkim -t with TestPublicKeys,
using the oracle helpers of test_dkim_oracles.  A message changed after
signing must fail with each oracle.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest -q
tests/integration/test_milter_corpus.py
"""

import os
import pathlib
import re
import subprocess
import time

import pytest

import mailstack as ms
import test_dkim_oracles as tdo

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")
AUTHSERV = "mx.example.test"
ALGS = ("rsa", "ed25519")
A_TAG = {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK),
                                reason="postseal-milter not built")

SHAPES = tdo.SHAPES  # the corpus builder's output, built once at import
SENDMAIL_SHAPES = ["plain", "folded-headers", "utf8-header", "no-final-crlf",
                   "trailing-whitespace-lines", "two-to", "very-long-lines"]
MULTI_RCPT = ["bob@example.net", "carol@example.net", "dave@example.org",
              "erin@example.test"]


class Stack:
    """The two keys, postseal-milter (sign only) and a Postfix using it
    for SMTP and for sendmail submissions."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.rsa = ms.DkimKey(tmp, tdo.SELECTORS["rsa"], "rsa", domain=tdo.DOMAIN)
        self.ed = ms.DkimKey(tmp, tdo.SELECTORS["ed25519"], "ed25519", domain=tdo.DOMAIN)
        self.port = ms.free_port()
        self.conf = os.path.join(tmp, "postseal.conf")
        ms.write_ini(self.conf, {
            "milter": {"socket": f"inet:{self.port}@127.0.0.1", "mode": "sign",
                       "internal_hosts": "127.0.0.0/8", "authserv_id": AUTHSERV},
            "keys": {"c-rsa": f"{tdo.DOMAIN} {self.rsa.selector} {self.rsa.path}",
                     "c-ed": f"{tdo.DOMAIN} {self.ed.selector} {self.ed.path}"},
            "signing": {tdo.DOMAIN: "c-rsa, c-ed"},
        })
        self.milter = self.sink = self.pf = None
        try:
            self.milter = ms.Daemon([MILTER, "-f", "-c", self.conf], port=self.port)
            self.sink = ms.SmtpSink()
            spec = f"inet:127.0.0.1:{self.port}"
            # local_header_rewrite_clients empty: Postfix adds no header of
            # its own to SMTP mail; message_size_limit: room for 10 MB;
            # smtputf8_autodetect_classes without sendmail: smtp-sink offers no
            # SMTPUTF8, so a sendmail submission with UTF-8 headers must
            # not ask for it (it goes as 8-bit, as the SMTP ones do).
            self.pf = ms.PostfixInstance(self.sink, milter=spec, non_smtpd_milter=spec,
                                         hostname=AUTHSERV,
                                         main={"local_header_rewrite_clients": "",
                                               "message_size_limit": "60000000",
                                               "smtputf8_autodetect_classes": "verify",
                                               "milter_content_timeout": "300s"})
        except Exception:
            self.close()
            raise
        self.oracles = tdo.Oracles(pathlib.Path(tmp),
                                   {k.dns_name: k.record for k in (self.rsa, self.ed)})

    def close(self):
        report = ms.shutdown(self.pf, self.sink, self.milter)
        assert report is None, report


def queue_id(text):
    m = re.search(r"queued as (\w+)", text)
    assert m, text
    return m.group(1)


def received_qid(msg):
    m = re.search(rb"by " + AUTHSERV.encode() + rb" \(Postfix[^)]*\)\s+(?:with \S+ )?id (\w+)",
                  msg)
    assert m, msg[:600]
    return m.group(1).decode()


def fields(msg):
    """(header fields as raw byte strings with their CRLFs, body)."""
    cut = msg.find(b"\r\n\r\n")
    head, body = (msg[:cut + 2], msg[cut + 2:]) if cut >= 0 else (msg, b"")
    out = []
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += line + b"\r\n"
        else:
            out.append(line + b"\r\n")
    return out, body


def is_sig(field):
    return field.split(b":", 1)[0].strip().lower() == b"dkim-signature"


def signatures(msg):
    return [f for f in fields(msg)[0] if is_sig(f)]


def alone(msg, alg):
    """msg with only the signature made with alg, the other removed."""
    fs, body = fields(msg)
    keep = [f for f in fs if not is_sig(f) or tdo.tag(f, "a") == A_TAG[alg]]
    assert len(keep) == len(fs) - 1, f"not one {alg} signature among two"
    return b"".join(keep) + body


def deliver_all(stack, sends):
    """sends: {name: callable returning the queue id}; every message is
    queued first, then collected from the sink: {name: message}."""
    qids = {name: send() for name, send in sends.items()}
    dumps = stack.sink.wait_for(len(qids), timeout=120)
    by_qid = {}
    for dump in dumps:
        msg = ms.message_of(dump)
        by_qid[received_qid(msg)] = (msg, ms.envelope_of(dump))
    missing = [n for n, q in qids.items() if q not in by_qid]
    assert not missing, f"not delivered: {missing}\n{stack.pf.log()[-3000:]}"
    return {name: by_qid[q] + (q,) for name, q in qids.items()}, qids


@pytest.fixture(scope="module")
def stack():
    with ms.running(Stack, "postseal-corpus-") as s:
        yield s


@pytest.fixture(scope="module")
def delivered(stack):
    """{name: (message as delivered, envelope, queue id)} for every
    submission."""
    sends = {}
    for shape, data in SHAPES.items():
        def smtp(data=data):
            code, text = stack.pf.smtp_send(data, "app@example.com", ["bob@example.net"])
            assert code == 250, text
            return queue_id(text.decode())
        sends[f"smtp:{shape}"] = smtp
    for shape in SENDMAIL_SHAPES:
        def local(data=tdo.to_lf(SHAPES[shape])):
            pat = r"postfix/pickup\[\d+\]: (\w+): uid="
            before = set(re.findall(pat, stack.pf.log()))
            stack.pf.sendmail(data, "app@example.com", ["bob@example.net"])
            end = time.monotonic() + 30
            while time.monotonic() < end:  # the pickup line not seen before
                new = [q for q in re.findall(pat, stack.pf.log()) if q not in before]
                if new:
                    assert len(new) == 1, new
                    return new[0]
                time.sleep(0.05)
            raise AssertionError("no pickup for the sendmail submission:\n"
                                 + stack.pf.log()[-2000:])
        sends[f"sendmail:{shape}"] = local
    multi = tdo.message(tdo.std_with(
        to=b"To: bob@example.net, carol@example.net, dave@example.org,\r\n"
           b" erin@example.test"), tdo.TEXT)

    def multi_send():
        code, text = stack.pf.smtp_send(multi, "app@example.com", MULTI_RCPT)
        assert code == 250, text
        return queue_id(text.decode())
    sends["multi-rcpt"] = multi_send
    got, qids = deliver_all(stack, sends)
    for name, q in qids.items():
        line = stack.milter.wait_log(rf"event=decision qid={q} .*").group(0)
        assert "sign=yes" in line and "keys=c-rsa,c-ed" in line, f"{name}: {line}"
    return got


@pytest.fixture(scope="module")
def verdicts(stack, delivered, tmp_path_factory):
    """{(name, alg): {oracle: (ok, detail)}} for each signature alone."""
    d = tmp_path_factory.mktemp("milter-corpus")
    files = {}
    for name, (msg, _, _) in delivered.items():
        for alg in ALGS:
            p = d / f"{name.replace(':', '.')}.{alg}.eml"
            p.write_bytes(alone(msg, alg))
            files[(name, alg)] = p
    res = stack.oracles.all(list(files.values()))
    return {k: res[str(p)] for k, p in files.items()}


def shape_of(name):
    return name.split(":", 1)[-1]


def judge(verdict, name, alg, want_pass=True):
    """Failures: an oracle that must judge alg and disagrees. Only the
    algorithm-wide gap (Mail::DKIM without Ed25519) is skipped: the
    shape-specific ones of test_dkim_oracles.skip_reason (whitespace before
    ':', odd spacing under simple canonicalisation) do not arise here,
    because Postfix's cleanup rewrites 'Subject :' and 'To\t:' to
    'Subject:' and 'To:' and the milter signs relaxed/relaxed; all three
    oracles pass those shapes as delivered."""
    bad = []
    for oracle, (ok, detail) in verdict.items():
        reason = tdo.skip_reason(oracle, alg)
        if reason:
            if oracle == "mail-dkim" and alg == "ed25519":
                assert not ok  # "invalid", never a pass
            continue
        if ok != want_pass:
            bad.append(f"{name} {alg} {oracle}: {detail}")
    return bad


# ---- the tests ----------------------------------------------------------------------

NAMES = ([f"smtp:{s}" for s in sorted(SHAPES)] + [f"sendmail:{s}" for s in SENDMAIL_SHAPES]
         + ["multi-rcpt"])

# FINDING: Postfix's smtp client (smtp_line_length_limit = 998, the
# default) breaks every header or body line longer than 998 bytes with
# <CR><LF><SPACE> when it relays the message, which is after the milter
# signed it; the signatures of these shapes then fail with every oracle.
# test_long_lines_verify_without_postfix_line_breaking shows the signatures
# themselves are right.
LONG_LINES = {"long-header-line": "a 1500-byte Subject line",
              "very-long-lines": "5000- and 6000-byte body lines"}
BROKEN_BY_POSTFIX = (
    "Postfix smtp_line_length_limit=998 breaks {what} with <CR><LF><SPACE> "
    "after signing (maillog: 'breaking line > 998 bytes'); the signatures cannot verify")


def param(name):
    what = LONG_LINES.get(shape_of(name))
    if what is None:
        return name
    return pytest.param(name, marks=pytest.mark.xfail(
        strict=True, reason=BROKEN_BY_POSTFIX.format(what=what)))


def test_corpus_size():
    assert len(SHAPES) >= 30
    assert len(NAMES) >= 30


@pytest.mark.parametrize("name", [param(n) for n in NAMES])
def test_signed_through_postfix_and_each_signature_alone_verifies(delivered, verdicts, name):
    msg, _, _ = delivered[name]
    sigs = signatures(msg)
    assert sorted(tdo.tag(s, "a") for s in sigs) == ["ed25519-sha256", "rsa-sha256"]
    assert {tdo.tag(s, "d") for s in sigs} == {tdo.DOMAIN}
    assert {tdo.tag(s, "c") for s in sigs} == {"relaxed/relaxed"}
    assert tdo.tag(sigs[0], "bh") == tdo.tag(sigs[1], "bh"), "one body hash for both keys"
    failures = []
    for alg in ALGS:
        failures += judge(verdicts[(name, alg)], name, alg)
    assert not failures, "\n".join(failures)


def test_mail_dkim_ed25519_gap(verdicts):
    """The one combination not judged: Mail::DKIM must call every
    Ed25519 signature "invalid" (unsupported algorithm), never pass or
    fail it; then the gap is reported as a skip (pytest -rs)."""
    reason = tdo.skip_reason("mail-dkim", "ed25519")
    if not reason:
        return  # Mail::DKIM learned Ed25519: judged like the others above
    for name in NAMES:
        ok, detail = verdicts[(name, "ed25519")]["mail-dkim"]
        assert not ok and "unsupported algorithm" in detail, f"{name}: {detail}"
    pytest.skip(f"Mail::DKIM, Ed25519: {reason}")


def test_multi_recipient_single_transaction(delivered):
    _, env, _ = delivered["multi-rcpt"]
    assert len(env["rcpt"]) == len(MULTI_RCPT), env
    for r in MULTI_RCPT:
        assert any(r in a for a in env["rcpt"]), (r, env)


def test_sendmail_submissions_signed(delivered):
    for s in SENDMAIL_SHAPES:
        msg, env, _ = delivered[f"sendmail:{s}"]
        assert b"(Postfix, from userid" in msg, msg[:400]
        assert "app@example.com" in (env["mail"] or "")


def test_attachment_10mb_arrived_whole(delivered):
    msg, _, _ = delivered["smtp:attachment-10mb"]
    assert len(msg) > 10 << 20


@pytest.mark.parametrize("change", ["body-byte", "added-from"])
def test_changed_after_signing_fails_with_each_oracle(stack, delivered, tmp_path, change):
    """Proves every oracle check above can fail: one byte of the body, or
    an added From, after Postfix delivered the signed message."""
    names = ["smtp:plain", "smtp:no-final-crlf", "sendmail:plain", "multi-rcpt"]
    paths = {}
    for name in names:
        msg, _, _ = delivered[name]
        for alg in ALGS:
            good = alone(msg, alg)
            bad = tdo.flip_body_byte(good) if change == "body-byte" else tdo.add_from(good)
            assert bad != good
            p = tmp_path / f"{name.replace(':', '.')}.{alg}.eml"
            p.write_bytes(bad)
            paths[(name, alg)] = p
    res = stack.oracles.all(list(paths.values()))
    failures = []
    for (name, alg), p in paths.items():
        failures += judge(res[str(p)], name, alg, want_pass=False)
    assert not failures, "wrongly passed:\n" + "\n".join(failures)


def test_postfix_breaks_exactly_the_long_lines(stack, delivered):
    """The maillog names the messages whose lines Postfix broke: those of
    LONG_LINES, and no other."""
    log = stack.pf.log()
    broken = set(re.findall(r"postfix/smtp\[\d+\]: (\w+): breaking line > 998 bytes", log))
    got = {name for name, (_, _, q) in delivered.items() if q in broken}
    assert got == {n for n in NAMES if shape_of(n) in LONG_LINES}


def test_long_lines_verify_without_postfix_line_breaking(stack, delivered, tmp_path):
    """With smtp_line_length_limit = 0 (never break lines) the long-line
    shapes arrive as the milter signed them and verify with each oracle:
    the failures marked xfail above come from Postfix's relaying, not
    from the signer. Restores the default afterwards."""
    def set_limit(value):
        subprocess.run(["/usr/sbin/postconf", "-c", stack.pf.etc, "-e",
                        f"smtp_line_length_limit = {value}"], check=True, capture_output=True)
        stack.pf.reload()
        time.sleep(1.5)  # old smtp processes finish and exit
    set_limit(0)
    try:
        sends = {}
        for shape in LONG_LINES:
            def smtp(data=SHAPES[shape]):
                code, text = stack.pf.smtp_send(data, "app@example.com", ["bob@example.net"])
                assert code == 250, text
                return queue_id(text.decode())
            sends[f"unbroken:{shape}"] = smtp
        got, qids = deliver_all(stack, sends)
    finally:
        set_limit(998)
    log = stack.pf.log()
    paths = {}
    for name, (msg, _, q) in got.items():
        assert f"{q}: breaking line" not in log
        assert max(len(line) for line in msg.split(b"\r\n")) > 998
        for alg in ALGS:
            p = tmp_path / f"{name.replace(':', '.')}.{alg}.eml"
            p.write_bytes(alone(msg, alg))
            paths[(name, alg)] = p
    res = stack.oracles.all(list(paths.values()))
    failures = []
    for (name, alg), p in paths.items():
        failures += judge(res[str(p)], name, alg)
    assert not failures, "\n".join(failures)
