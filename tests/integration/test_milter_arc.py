"""ARC (RFC 8617) chain validation, the core's verifier checked three ways.

1. ValiMail's ARC test suite (tests/vectors/arc/) replayed through
   `postseal arc verify`: the expected cv of every case, but for the
   cases README's "Where we decide differently" lists; dkimpy's
   arc_verify and Mail::DKIM::ARC::Verifier run on the same cases, and
   where they part from the suite is asserted too.
2. Messages sealed by dkimpy (RSA; Ed25519 through dkimpy's own signing
   code, given a nacl key) pass, altered ones fail, and on every RSA one
   ours agrees with dkimpy's arc_verify and Mail::DKIM's (neither verifies
   ed25519-sha256 seals).
3. Through a real Postfix: a mailing-list forward of mail from a p=reject
   domain (DKIM broken by the list, sealed by the list with dkimpy) is
   delivered with dmarc=fail policy.override=arc under enforcement when
   the list is a trusted sealer, and refused 550 when it is not, or when
   the chain no longer verifies."""

import base64
import json
import os
import re
import smtplib
import subprocess

import dkim
import pytest
import yaml

import mailstack as ms
from fakedns import FakeDns

HERE = os.path.dirname(__file__)
BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(HERE, "../../build"))
CLI = os.path.join(BUILD, "postseal")
MILTER = os.path.join(BUILD, "postseal-milter")
SUITE = os.path.join(HERE, "../vectors/arc/arc-draft-validation-tests.yml")
MAIL_DKIM = os.path.join(HERE, "arc_mail_dkim.pl")
AUTHSERV = "mx.example.test"
LIST = {"ADDR": "203.0.113.77", "NAME": "mail.lists.example.org"}

pytestmark = pytest.mark.skipif(not os.access(CLI, os.X_OK), reason="postseal not built")

# Where we decide differently from the suite (README in tests/vectors/arc):
# case -> (ours, dkimpy's, Mail::DKIM's).
DIFFERS = {
    "ams_fields_c_na": ("fail", "pass", "fail"),
    "ams_fields_h_empty": ("fail", "pass", "pass"),
}
# Mail::DKIM says "invalid" for these malformed seals and keys; ARC has
# no such word, and the suite (and we) say fail.
MAIL_DKIM_INVALID = {"as_fields_d_invalid", "as_fields_h_present", "public_key_na",
                     "public_key_invalid"}
# dkimpy raises instead of answering when the newest seal says cv=fail.
DKIMPY_RAISES = {"cv_fail_i1_as_cv_fail", "cv_fail_i2_as2_fail", "cv_fail_i2_as1_fail"}


def suite_cases():
    with open(SUITE) as f:
        for doc in yaml.safe_load_all(f):
            if not doc:
                continue
            keys = {k.lower(): v for k, v in doc.get("txt-records", {}).items()}
            for name, case in doc["tests"].items():
                want = (case["cv"] or "").strip().lower() or "fail"
                yield name, case["message"].replace("\n", "\r\n").encode(), keys, want


def ours(path, keys):
    args = [CLI, "arc", "verify"]
    for name, rec in keys.items():
        args += ["--txt", f"{name}={rec}"]
    r = subprocess.run(args + [path], capture_output=True, text=True, timeout=60)
    m = re.match(r"arc=(\w+) i=(\d+)(?: header\.oldest-pass=(\d+))?", r.stdout)
    assert m, (r.stdout, r.stderr)
    assert r.returncode == {"pass": 0, "fail": 1, "none": 1, "temperror": 2}[m[1]], r
    return m[1], int(m[2]), None if m[3] is None else int(m[3])


def dkimpy(msg, keys):
    def dnsfunc(name, timeout=5):
        return keys.get(name.decode().rstrip(".").lower(), "").encode()
    try:
        cv, _, _ = dkim.arc_verify(msg, dnsfunc=dnsfunc)
    except Exception:  # pylint: disable=broad-except
        return "raised"
    return cv.decode() if cv is not None else "raised"


def mail_dkim(paths, keys, tmp):
    kf = os.path.join(tmp, "keys.json")
    with open(kf, "w") as f:
        json.dump(keys, f)
    r = subprocess.run(["perl", MAIL_DKIM, kf] + paths, capture_output=True, text=True,
                       timeout=120, check=True)
    return dict(line.rsplit(" ", 1) for line in r.stdout.splitlines())


def write(tmp, name, msg):
    path = os.path.join(tmp, name + ".eml")
    with open(path, "wb") as f:
        f.write(msg)
    return path


def test_validation_suite(tmp_path):
    seen = wrong = 0
    bad = []
    for name, msg, keys, want in suite_cases():
        got, _, _ = ours(write(str(tmp_path), name, msg), keys)
        seen += 1
        expect = DIFFERS[name][0] if name in DIFFERS else want
        if got != expect:
            bad.append((name, want, got))
        wrong += got != want
    assert seen == 171, seen
    assert bad == []
    assert wrong == len(DIFFERS)


def test_suite_oracles(tmp_path):
    """dkimpy and Mail::DKIM on the same cases: where they differ from the
    suite is exactly what README says."""
    by_keys = {}
    for name, msg, keys, want in suite_cases():
        path = write(str(tmp_path), name, msg)
        by_keys.setdefault(json.dumps(keys, sort_keys=True), []).append((name, path, msg, want))
    for keys_json, cases in by_keys.items():
        keys = json.loads(keys_json)
        md = mail_dkim([p for _, p, _, _ in cases], keys, str(tmp_path))
        for name, path, msg, want in cases:
            py = dkimpy(msg, keys)
            py_want = DIFFERS[name][1] if name in DIFFERS else (
                "raised" if name in DKIMPY_RAISES else want)
            md_want = DIFFERS[name][2] if name in DIFFERS else (
                "invalid" if name in MAIL_DKIM_INVALID else want)
            assert py == py_want, (name, py, py_want)
            assert md[path] == md_want, (name, md[path], md_want)


# ---- messages sealed by dkimpy ------------------------------------------

def nacl_keys():
    """dkimpy's ARC signer reads only PEM keys, but its signing step takes
    any object with sign(): a nacl SigningKey for a raw Ed25519 key makes
    dkimpy seal with ed25519-sha256 through its own hashing code."""
    import nacl.signing
    orig = dkim.parse_pem_private_key

    def parse(key):
        if key.startswith(b"-----"):
            return orig(key)
        return nacl.signing.SigningKey(base64.b64decode(key))
    return orig, parse


def seal(msg, key, srv_id, results, algorithm=b"rsa-sha256"):
    msg = b"Authentication-Results: " + srv_id + b"; " + results + b"\r\n" + msg
    orig, parse = nacl_keys()
    dkim.parse_pem_private_key = parse
    try:
        # dkim.ARC itself: dkim.arc_sign() always passes rsa-sha256 on
        arc = dkim.ARC(msg, signature_algorithm=algorithm)
        hdrs = arc.sign(key.selector.encode(), key.domain.encode(), key.dkimpy_private,
                        srv_id, include_headers=arc.default_sign_headers())
    finally:
        dkim.parse_pem_private_key = orig
    assert hdrs, "dkimpy did not seal"
    return b"".join(hdrs) + msg


ORIGINAL = (b"From: CEO <ceo@ext.example>\r\nTo: list@lists.example.org\r\n"
            b"Subject: hello\r\nMessage-ID: <arc-1@ext.example>\r\n"
            b"Date: Sun, 6 Dec 2026 10:00:00 +0000\r\n\r\nHello, list.\r\n")
DMARC_PASS = b"dkim=pass header.d=ext.example; spf=pass smtp.mailfrom=ext.example; " \
             b"dmarc=pass header.from=ext.example"


class Keys:
    def __init__(self, tmp):
        self.lst = ms.DkimKey(tmp, "lst", "rsa", domain="lists.example.org")
        self.fwd = ms.DkimKey(tmp, "fwd", "ed25519", domain="fwd.example.net")
        self.other = ms.DkimKey(tmp, "oth", "rsa", domain="other.example")
        self.ext = ms.DkimKey(tmp, "ext", "rsa", domain="ext.example")
        self.txt = {k.dns_name: k.record for k in (self.lst, self.fwd, self.other, self.ext)}


def listified(keys, sealer, body=b"Hello, list.\r\n-- \r\nlist footer\r\n"):
    """The original DKIM-signed by ext.example, then changed as a list
    does (subject tag, footer: the DKIM signature breaks) and sealed."""
    signed = dkim.sign(ORIGINAL, b"ext", b"ext.example", keys.ext.dkimpy_private) + ORIGINAL
    head, _ = signed.split(b"\r\n\r\n", 1)
    changed = head.replace(b"Subject: hello", b"Subject: [list] hello") + b"\r\n\r\n" + body
    return seal(changed, sealer, sealer.domain.encode(), DMARC_PASS)


def corpus(keys):
    """(name, message, expected result, expected oldest-pass)."""
    one = listified(keys, keys.lst)
    two = seal(one, keys.fwd, b"fwd.example.net", b"arc=pass", b"ed25519-sha256")
    three = seal(two, keys.other, b"other.example", b"arc=pass")
    # a hop that changes the body and then seals: the chain still passes,
    # instance 1's AMS no longer does
    h1, b1 = one.split(b"\r\n\r\n", 1)
    rewritten = seal(h1 + b"\r\n\r\n" + b1 + b"rewritten by hop 2\r\n", keys.other,
                     b"other.example", b"arc=pass")
    h2, b2 = two.split(b"\r\n\r\n", 1)
    return [
        ("rsa-1", one, "pass", 0),
        ("rsa-2", seal(one, keys.other, b"other.example", b"arc=pass"), "pass", 0),
        ("rsa-ed25519-2", two, "pass", 0),
        ("three-hops", three, "pass", 0),
        ("hop2-rewrote-body", rewritten, "pass", 2),
        ("body-changed", h2 + b"\r\n\r\n" + b2 + b"P.S.\r\n", "fail", None),
        ("subject-changed", two.replace(b"Subject: [list] hello", b"Subject: [list] bye"),
         "fail", None),
        ("aar-changed", two.replace(b"i=2; fwd.example.net; arc=pass",
                                    b"i=2; fwd.example.net; arc=fail"), "fail", None),
        ("set-removed", re.sub(rb"ARC-Seal: i=2;.*?(?=ARC-Message-Signature: i=2)", b"",
                               two, flags=re.S), "fail", None),
        ("no-arc", ORIGINAL, "none", None),
    ]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return Keys(str(tmp_path_factory.mktemp("arckeys")))


def test_dkimpy_sealed_corpus(keys, tmp_path):
    cases = corpus(keys)
    paths = [write(str(tmp_path), n, m) for n, m, _, _ in cases]
    md = mail_dkim(paths, {k.lower(): v for k, v in keys.txt.items()}, str(tmp_path))
    for (name, msg, want, oldest), path in zip(cases, paths):
        got, _, op = ours(path, keys.txt)
        assert (got, op) == (want, oldest), name
        # Neither dkimpy's ARC verifier ("unknown signature algorithm") nor
        # Debian 12's Mail::DKIM verifies ed25519-sha256: there dkimpy's
        # signing code is the independent side.
        if b"ed25519-sha256" not in msg:
            assert dkimpy(msg, keys.txt) == want, name
            assert md[path] == want, (name, md[path])


def test_dkimpy_seal_altered_key(keys, tmp_path):
    """The right signature under another key, and a revoked key: fail."""
    path = write(str(tmp_path), "m", listified(keys, keys.lst))
    assert ours(path, {keys.lst.dns_name: keys.other.record})[0] == "fail"
    assert ours(path, {keys.lst.dns_name: "v=DKIM1; k=rsa; p="})[0] == "fail"
    assert ours(path, {})[0] == "fail"


# ---- through a real Postfix ----------------------------------------------

def zone(keys):
    txt = dict(keys.txt)
    txt["_dmarc.ext.example"] = "v=DMARC1; p=reject"
    txt["ext.example"] = "v=spf1 ip4:192.0.2.0/24 -all"
    return txt


class Stack:
    def __init__(self, tmp, keys, trusted, dns=None, history=None):
        self.dns = dns or ms.Dnsmasq(txt=zone(keys))
        self.port = ms.free_port()
        milter = {
            "socket": f"inet:{self.port}@127.0.0.1",
            "mode": "verify",
            "authserv_id": AUTHSERV,
            "resolver": self.dns.resolver,
            "dmarc_enforce": "yes",
            "arc_trusted_sealers": trusted,
        }
        if history:
            milter["dmarc_history"] = history
        self.conf = ms.write_ini(os.path.join(tmp, "postseal.conf"), {"milter": milter})
        self.milter = ms.Daemon([MILTER, "-f", "-c", self.conf], port=self.port)
        self.sink = ms.SmtpSink()
        self.pf = ms.PostfixInstance(self.sink, milter=f"inet:127.0.0.1:{self.port}",
                                     hostname=AUTHSERV,
                                     main={"local_header_rewrite_clients": ""})

    def close(self):
        dns = self.dns if isinstance(self.dns, ms.Dnsmasq) else None
        report = ms.shutdown(self.pf, self.sink, self.milter, dns)
        assert report is None, report

    def send(self, msg):
        self.mark = len(self.milter.log())  # wait_log looks from here on
        try:
            return self.pf.smtp_send(msg, "list-bounces@lists.example.org",
                                     ["bob@example.com"], xclient=LIST, helo=LIST["NAME"])
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error


@pytest.fixture(scope="module")
def stack(keys):
    if not os.access(MILTER, os.X_OK):
        pytest.skip("postseal-milter not built")
    with ms.running(lambda tmp: Stack(tmp, keys, "lists.example.org, fwd.example.net"),
                    "postseal-arc-") as s:
        yield s


def our_ar(msg):
    vals = [re.sub(r"\s+", " ", v).strip() for v in ms.header_values(msg, "Authentication-Results")
            if v.strip().lower().startswith(AUTHSERV)]
    assert len(vals) == 1, vals
    return vals[0]


def test_list_forward_trusted_sealer_overrides_dmarc(stack, keys):
    code, text = stack.send(listified(keys, keys.lst))
    assert code == 250, text
    [dump] = stack.sink.wait_for(1)
    ar = our_ar(ms.message_of(dump))
    assert "dkim=fail" in ar, ar
    assert "dmarc=fail header.from=ext.example policy.dmarc=reject policy.override=arc" in ar, ar
    assert f"arc=pass smtp.remote-ip={LIST['ADDR']} header.oldest-pass=0" in ar, ar
    stack.milter.wait_log(r"event=arc qid=\w+ result=pass instances=1 oldest_pass=0 "
                          r"trusted_sealer=lists.example.org trusted_instance=1", after=stack.mark)
    stack.milter.wait_log(r"event=dmarc qid=\w+ result=fail domain=ext.example policy=reject "
                          r"action=accept reason=arc-trusted-sealer "
                          r"detail=\"sealer lists.example.org i=1\"", after=stack.mark)


def test_list_forward_untrusted_sealer_refused(stack, keys):
    before = len(stack.sink.files())
    code, text = stack.send(listified(keys, keys.other))
    assert code == 550, text
    text = text.decode() if isinstance(text, bytes) else text
    assert "DMARC policy of ext.example (p=reject)" in text, text
    stack.milter.wait_log(r"event=arc qid=\w+ result=pass instances=1 oldest_pass=0 "
                          r"trusted_sealer=- trusted_instance=-", after=stack.mark)
    stack.milter.wait_log(r"result=fail domain=ext.example policy=reject action=reject "
                          r"reason=policy-reject", after=stack.mark)
    assert len(stack.sink.files()) == before


def test_trusted_sealer_broken_chain_refused(stack, keys):
    """Sealed by the trusted list, then altered: the chain fails, no override."""
    msg = listified(keys, keys.lst).replace(b"list footer", b"LIST FOOTER")
    code, text = stack.send(msg)
    assert code == 550, text
    stack.milter.wait_log(r"event=arc qid=\w+ result=fail instances=1 oldest_pass=- .*"
                          r"reason=\"i=1: AMS body hash mismatch\"", after=stack.mark)


def test_trusted_sealer_that_saw_dmarc_fail_refused(stack, keys):
    """A trusted sealer whose own ARC-Authentication-Results recorded a
    DMARC failure does not vouch: it only relayed a spoof."""
    signed = ORIGINAL.replace(b"Subject: hello", b"Subject: [list] spoof")
    msg = seal(signed, keys.lst, b"lists.example.org",
               b"dkim=none; spf=fail smtp.mailfrom=ext.example; dmarc=fail header.from=ext.example")
    code, text = stack.send(msg)
    assert code == 550, text
    stack.milter.wait_log(r"event=arc qid=\w+ result=pass instances=1 oldest_pass=0 "
                          r"trusted_sealer=- trusted_instance=-", after=stack.mark)


def test_intact_older_trusted_instance_vouches(stack, keys):
    """The list (trusted, i=1) then an Ed25519 forwarder (trusted, i=2):
    the oldest intact trusted instance, i=1, is the one that vouches."""
    two = seal(listified(keys, keys.lst), keys.fwd, b"fwd.example.net", b"arc=pass",
               b"ed25519-sha256")
    code, text = stack.send(two)
    assert code == 250, text
    stack.milter.wait_log(r"event=arc qid=\w+ result=pass instances=2 oldest_pass=0 "
                          r"trusted_sealer=lists.example.org trusted_instance=1", after=stack.mark)


def test_cli_keys_from_dns_and_usage(keys, tmp_path):
    """The keys from a DNS server (--resolver) give the same answers as
    --txt; usage errors exit 2 with one line."""
    ok = write(str(tmp_path), "ok", listified(keys, keys.lst))
    broken = write(str(tmp_path), "broken",
                   listified(keys, keys.lst).replace(b"list footer", b"LIST FOOTER"))
    with ms.Dnsmasq(txt=keys.txt) as dns:
        def run(*args):
            return subprocess.run([CLI, "arc", "verify", "--resolver", dns.resolver, *args],
                                  capture_output=True, text=True, timeout=60)
        r = run(ok)
        assert (r.returncode, r.stdout) == (0, "arc=pass i=1 header.oldest-pass=0\n"), r
        r = run(broken)
        assert r.returncode == 1 and r.stdout.startswith("arc=fail i=1 (i=1: AMS body hash"), r
    for args, code in ((["--help"], 0), (["verify"], 2), (["verify", "--txt", "x", ok], 2),
                       (["verify", str(tmp_path / "missing.eml")], 2), (["sign", ok], 2)):
        r = subprocess.run([CLI, "arc", *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == code, (args, r)
        if code == 2:
            assert len(r.stderr.strip().splitlines()) == 1 and "postseal:" in r.stderr, r


def test_trusted_sealer_key_lookup_failure_tempfails(keys, tmp_path):
    """The list's key cannot be looked up (SERVFAIL): a DMARC failure the
    trusted list might vouch for is tempfailed (451), not refused, so
    that the retry decides; the untrusted case stays a 550. The DMARC
    history records the refused message only: the tempfailed one is
    recorded when its retry is answered, so it is never counted twice."""
    if not os.access(MILTER, os.X_OK):
        pytest.skip("postseal-milter not built")
    os.chmod(tmp_path, 0o755)
    table = zone(keys)
    table[keys.lst.dns_name] = "SERVFAIL"
    table[keys.other.dns_name] = "SERVFAIL"
    dns = FakeDns(table)
    history = str(tmp_path / "history")
    s = Stack(str(tmp_path), keys, "lists.example.org", dns=dns, history=history)
    try:
        code, text = s.send(listified(keys, keys.lst))
        assert code == 451, text
        text = text.decode() if isinstance(text, bytes) else text
        assert "4.7.1" in text and "ARC seal keys not available" in text, text
        s.milter.wait_log(r"event=arc qid=\w+ result=temperror instances=1 .*"
                          r"reason=\"i=1: key lst._domainkey.lists.example.org: no DNS answer\"",
                          after=s.mark)
        s.milter.wait_log(r"action=tempfail reason=arc-temperror", after=s.mark)
        s.milter.wait_log(r"event=error qid=\w+ stage=arc reason=\"ARC key lookup failed",
                          after=s.mark)
        code, text = s.send(listified(keys, keys.other))
        assert code == 550, text
        assert s.sink.files() == []
        lines = [line for day in os.listdir(history)
                 for line in open(os.path.join(history, day)).read().splitlines()]
        assert len(lines) == 1, lines
        assert " fail reject " in lines[0], lines  # DMARC fail, disposition reject
    finally:
        s.close()
        dns.close()
