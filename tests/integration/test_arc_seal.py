"""ARC seals (RFC 8617) made by the core through `postseal arc seal` and by
postseal-milter on forwarded mail, checked by two ARC verifiers nobody on
the team wrote: dkimpy's dkim.arc_verify and Mail::DKIM::ARC::Verifier.

- i=1 (cv=none) with RSA-2048 and Ed25519 keys, and i=2 (cv=pass) over an
  i=1 set dkimpy made; one changed body byte or header fails with both.
- The chain rules: i=1 takes cv=none only, a chain takes pass or fail; no
  set after a cv=fail seal; none past instance 50 (50 seals made here,
  verified by dkimpy, the 51st refused).
- The ValiMail ARC test suite's signing cases
  (tests/vectors/arc/arc-draft-sign-tests.yml) replayed at their t=.
- Through a real Postfix: mail the SRS path forwards leaves with an ARC set
  both verifiers pass.

Ed25519: dkimpy 1.1.4 refuses ed25519-sha256 in ARC by an allow-list
(dkim.ARC_HASH_ALGORITHMS holds rsa-sha256 only, though its DKIM code
verifies Ed25519); the Ed25519 checks add it to that list for the call,
so dkimpy's own Ed25519 code does the checking. Debian 12's Mail::DKIM
has no ed25519-sha256 at all: it checks the RSA seals.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_arc_seal.py
"""

import contextlib
import os
import pathlib
import re
import signal
import subprocess
import time

import dkim
import pytest
import yaml

import mailstack as ms

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("POSTSEAL_BUILD", ROOT / "build"))
CLI = BUILD / "postseal"
MILTER = BUILD / "postseal-milter"
VECTORS = ROOT / "tests" / "vectors" / "arc" / "arc-draft-sign-tests.yml"
DOMAIN = "fwd.example.com"
NOW = int(time.time()) - 60

pytestmark = pytest.mark.skipif(not CLI.exists(), reason=f"{CLI} not built")

MSG = (b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n"
       b"Subject: ARC test\r\nDate: Sun, 06 Dec 2026 20:00:00 +0000\r\n"
       b"Message-ID: <arc1@example.org>\r\n\r\nHello  Bob,\r\n\r\nsee you.\r\n\r\n")


# ---- the oracles -------------------------------------------------------------

@contextlib.contextmanager
def dkimpy_ed25519_in_arc():
    """dkimpy's ARC allow-list widened to its own Ed25519 verifier."""
    added = b"ed25519-sha256" not in dkim.ARC_HASH_ALGORITHMS
    dkim.ARC_HASH_ALGORITHMS[b"ed25519-sha256"] = dkim.HASH_ALGORITHMS[b"ed25519-sha256"]
    try:
        yield
    finally:
        if added:
            del dkim.ARC_HASH_ALGORITHMS[b"ed25519-sha256"]


def dkimpy_arc(msg, records):
    def dns(name, timeout=5):
        return records.get(name.decode().rstrip(".").lower(), "").encode() or None
    with dkimpy_ed25519_in_arc():
        cv, results, reason = dkim.arc_verify(msg, dnsfunc=dns)
    # None: a chain a cv=fail seal ended (dkimpy's word for it)
    return (cv.decode() if cv is not None else "fail"), reason, results


MAIL_DKIM_ARC = r"""
use strict; use warnings;
use Mail::DKIM::ARC::Verifier; use Net::DNS;
my ($keys, $file) = @ARGV;
my %rec;
open my $k, '<', $keys or die "$keys: $!";
while (<$k>) { chomp; my ($n, $r) = split /\t/, $_, 2; $rec{lc $n} = $r; }
close $k;
{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ($name, $type) = @_;
        my $r = $rec{lc $name};
        return () unless defined $r && $type eq 'TXT';
        my @chunks = unpack('(a255)*', $r);
        return (Net::DNS::RR->new(name => $name, type => 'TXT', txtdata => \@chunks));
    };
}
open my $fh, '<:raw', $file or die "$file: $!";
local $/; my $m = <$fh>; close $fh;
my $v = Mail::DKIM::ARC::Verifier->new();
$v->PRINT($m); $v->CLOSE;
print $v->result, "\t", ($v->result_detail // ''), "\n";
"""


def mail_dkim_arc(tmp, msg, records):
    keys = tmp / "arc-keys.tsv"
    keys.write_text("".join(f"{n}\t{r}\n" for n, r in records.items()))
    script = tmp / "arc_verify.pl"
    script.write_text(MAIL_DKIM_ARC)
    path = tmp / "arc-msg.eml"
    path.write_bytes(msg)
    r = subprocess.run(["perl", str(script), str(keys), str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    result, detail = r.stdout.rstrip("\n").split("\t", 1)
    return result, detail


# ---- the sealer ----------------------------------------------------------------

@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("arckeys")
    rsa = ms.DkimKey(str(d), "arcr", "rsa", domain=DOMAIN)
    ed = ms.DkimKey(str(d), "arce", "ed25519", domain=DOMAIN)
    return {"rsa": rsa, "ed25519": ed,
            "records": {rsa.dns_name: rsa.record, ed.dns_name: ed.record}}


def seal(msg, key, cv, aar="mx.fwd.example.com; spf=pass smtp.mailfrom=example.org",
         t=NOW, extra=(), tmp=None, check=True):
    path = pathlib.Path(tmp) / "in.eml"
    path.write_bytes(msg)
    r = subprocess.run([str(CLI), "arc", "seal", "--key-file", key.path, "--domain", key.domain,
                        "--selector", key.selector, "--cv", cv, "--aar", aar, "--time", str(t),
                        *extra, str(path)], capture_output=True)
    if check:
        assert r.returncode == 0, r.stderr.decode()
    return r


def dkimpy_seal(msg, key, ar="list.example; arc=none", t=NOW - 60):
    msg = b"Authentication-Results: " + ar.encode() + b"\r\n" + msg
    sig = dkim.arc_sign(msg, key.selector.encode(), key.domain.encode(), key.dkimpy_private,
                        ar.split(";")[0].encode(), timestamp=t)
    assert sig, "dkimpy made no ARC set"
    return b"".join(sig) + msg


def both(tmp, msg, keys, kind):
    """(dkimpy cv, Mail::DKIM result or None for Ed25519)."""
    cv, reason, _ = dkimpy_arc(msg, keys["records"])
    md = mail_dkim_arc(tmp, msg, keys["records"])[0] if kind == "rsa" else None
    return cv, md, reason


def instances(msg, name):
    return [int(m) for m in re.findall(rb"(?im)^" + name.encode() + rb":\s*i=(\d+);", msg)]


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_first_seal_passes(tmp_path, keys, kind):
    out = seal(MSG, keys[kind], "none", tmp=tmp_path).stdout
    assert out.endswith(MSG)
    head = out[:-len(MSG)]
    # AS, AMS, AAR on top, in that order, all i=1
    assert re.match(rb"ARC-Seal: i=1; cv=none; a=%s;" % ps_alg(kind).encode(), head), head
    assert head.index(b"ARC-Seal:") < head.index(b"ARC-Message-Signature:") < \
        head.index(b"ARC-Authentication-Results:")
    assert b"ARC-Authentication-Results: i=1; mx.fwd.example.com; spf=pass" in head
    assert instances(out, "ARC-Message-Signature") == [1]
    assert b"v=1" not in head
    cv, md, reason = both(tmp_path, out, keys, kind)
    assert cv == "pass", reason
    assert md in (None, "pass")


def ps_alg(kind):
    return "rsa-sha256" if kind == "rsa" else "ed25519-sha256"


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_second_seal_over_dkimpy(tmp_path, keys, kind):
    first = dkimpy_seal(MSG, keys["rsa"])
    assert dkimpy_arc(first, keys["records"])[0] == "pass"
    out = seal(first, keys[kind], "pass", aar="mx.fwd.example.com; arc=pass", tmp=tmp_path).stdout
    assert instances(out, "ARC-Seal") == [2, 1]
    assert re.search(rb"ARC-Seal: i=2; cv=pass;", out)
    cv, md, reason = both(tmp_path, out, keys, kind)
    assert cv == "pass", reason
    assert md in (None, "pass")


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
@pytest.mark.parametrize("change", ["body", "subject"])
def test_altered_message_fails(tmp_path, keys, kind, change):
    out = seal(dkimpy_seal(MSG, keys["rsa"]), keys[kind], "pass", tmp=tmp_path).stdout
    if change == "body":
        bad = out.replace(b"see you.", b"see you!")
    else:
        bad = out.replace(b"Subject: ARC test", b"Subject: ARC tesT")
    assert bad != out
    cv, md, reason = both(tmp_path, bad, keys, kind)
    assert cv == "fail", reason
    assert md in (None, "fail")


def test_seal_covers_earlier_sets(tmp_path, keys):
    """Changing the i=1 AAR breaks our i=2 seal (it covers the chain), even
    though every AMS still verifies."""
    out = seal(dkimpy_seal(MSG, keys["rsa"]), keys["rsa"], "pass", tmp=tmp_path).stdout
    bad = out.replace(b"i=1; list.example; arc=none", b"i=1; list.example; arc=pass")
    assert bad != out
    cv, md, _ = both(tmp_path, bad, keys, "rsa")
    assert (cv, md) == ("fail", "fail")


def test_cv_rules(tmp_path, keys):
    k = keys["rsa"]
    r = seal(MSG, k, "pass", tmp=tmp_path, check=False)
    assert r.returncode == 2 and b"cv= must be none" in r.stderr
    first = dkimpy_seal(MSG, k)
    r = seal(first, k, "none", tmp=tmp_path, check=False)
    assert r.returncode == 2 and b"must be pass or fail" in r.stderr
    # a failed chain: our seal says so and covers its own set only ...
    failed = seal(first, k, "fail", aar="mx.fwd.example.com; arc=fail", tmp=tmp_path).stdout
    assert re.search(rb"ARC-Seal: i=2; cv=fail;", failed)
    assert dkimpy_arc(failed, keys["records"])[0] == "fail"
    # ... and nobody adds to it (RFC 8617 5.1.2)
    r = seal(failed, k, "fail", tmp=tmp_path, check=False)
    assert r.returncode == 1 and b"cv=fail" in r.stderr and r.stdout == b""


def test_instance_limit(tmp_path, keys):
    msg = MSG
    k = keys["rsa"]
    for i in range(1, 51):
        msg = seal(msg, k, "none" if i == 1 else "pass", tmp=tmp_path, t=NOW + i).stdout
    assert instances(msg, "ARC-Seal") == list(range(50, 0, -1))
    assert dkimpy_arc(msg, keys["records"])[0] == "pass"
    r = seal(msg, k, "pass", tmp=tmp_path, check=False)
    assert r.returncode == 1 and b"instance 50" in r.stderr


def test_usage_errors(tmp_path, keys):
    def run(*args):
        return subprocess.run([str(CLI), "arc", *args], capture_output=True)
    assert run("--help").returncode == 0
    assert b"--cv" in run("seal", "--help").stdout
    (tmp_path / "m.eml").write_bytes(MSG)
    k = keys["rsa"]
    base = ["seal", "--key-file", k.path, "--domain", k.domain, "--selector", k.selector]
    assert run(*base, "--cv", "maybe", "--aar", "x; none", str(tmp_path / "m.eml")).returncode == 2
    assert run(*base, "--cv", "none", str(tmp_path / "m.eml")).returncode == 2
    assert run(*base, "--cv", "none", "--aar", "x;\r\nEvil: 1", str(tmp_path / "m.eml")).returncode == 2
    assert run("seal", "--key", "nokey", "--cv", "none", "--aar", "x; none",
               str(tmp_path / "m.eml")).returncode == 2


def test_key_from_conf(tmp_path, keys):
    """--key NAME takes the key, d= and s= from [keys], as the milter does."""
    k = keys["ed25519"]
    conf = ms.write_ini(str(tmp_path / "postseal.conf"), {
        "keys": {"arc": f"{k.domain} {k.selector} {k.path}"}})
    (tmp_path / "m.eml").write_bytes(MSG)
    r = subprocess.run([str(CLI), "arc", "seal", "--key", "arc", "-c", conf, "--cv", "none",
                        "--aar", "mx.fwd.example.com; none", str(tmp_path / "m.eml")],
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    assert re.search(rb"ARC-Seal: i=1; cv=none; a=ed25519-sha256; d=fwd.example.com; s=arce;",
                     r.stdout)
    assert dkimpy_arc(r.stdout, keys["records"])[0] == "pass"


# ---- the ValiMail ARC test suite: signing ---------------------------------------

def suite_cases():
    cases = []
    for doc in yaml.safe_load_all(VECTORS.read_text()):
        if not doc:
            continue
        for name, case in doc["tests"].items():
            cases.append(pytest.param(doc, case, id=name))
    return cases


def tags(value):
    """tag -> value with all whitespace removed, as a verifier reads them."""
    out = {}
    for part in re.sub(r"\s+", "", value).split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def squeeze(value):
    return re.sub(r"\s+", " ", value).strip()


def own_authres(msg, srv_id):
    """The Authentication-Results payloads claiming srv_id, merged into one
    the way the suite's generator (dkimpy) does; and the arc= result in it."""
    text = msg.split("\n\n", 1)[0]
    fields = re.findall(r"(?ms)^Authentication-Results:(.*?)(?=^\S|\Z)", text + "\n")
    results = []
    for f in fields:
        f = squeeze(f)
        ident, _, rest = f.partition(";")
        if re.sub(r"\s*\(.*?\)\s*", "", ident).strip() != srv_id:
            continue
        results += [r.strip() for r in rest.split(";") if r.strip()]
    arc = [r.split("=", 1)[1].split()[0] for r in results if r.startswith("arc=")]
    return srv_id + "; " + "; ".join(results), (arc[0] if arc else "none")


def sealed_fields(out):
    """The topmost field of each name: the set just added."""
    head = out.split(b"\r\n\r\n", 1)[0].decode() + "\r\n"
    fields = {}
    for m in re.finditer(r"(?ms)^([A-Za-z-]+):(.*?)\r\n(?=\S|\Z)", head):
        fields.setdefault(m.group(1), m.group(2))
    return fields


# Cases whose input chain the suite ships with a seal that neither
# dkimpy nor Mail::DKIM verifies (the i=1 ARC-Seal of i1_base and i2_base,
# b=eEDEW..., differs from the one i0_base's expected output makes over
# the same set, b=Pg8Y...): our new set verifies, the chain cannot.
UPSTREAM_BROKEN = {"i1_base", "i2_base"}


def case_name(case):
    for doc in yaml.safe_load_all(VECTORS.read_text()):
        for name, c in (doc or {}).get("tests", {}).items():
            if c is case or c == case:
                return name
    return None


@pytest.mark.parametrize("doc,case", suite_cases())
def test_valimail_signing_suite(tmp_path, doc, case):
    key = tmp_path / "dummy.pem"
    key.write_text(doc["privatekey"])
    key.chmod(0o600)
    records = {n.lower(): "".join(v.split("\n")).strip() for n, v in doc["txt-records"].items()}
    text = case["message"]
    msg = text.replace("\n", "\r\n").encode()
    aar, cv = own_authres(text, case["srv-id"])
    (tmp_path / "m.eml").write_bytes(msg)
    r = subprocess.run([str(CLI), "arc", "seal", "--key-file", str(key), "--domain", doc["domain"],
                        "--selector", doc["sel"], "--cv", cv, "--aar", aar,
                        "--time", str(case["t"]), "--headers", case["sig-headers"],
                        str(tmp_path / "m.eml")], capture_output=True)
    if not (case.get("AS") or "").strip():
        # the suite expects no set: the latest seal says cv=fail
        assert r.returncode == 1 and b"cv=fail" in r.stderr, r.stderr
        return
    assert r.returncode == 0, r.stderr.decode()
    got = sealed_fields(r.stdout)
    for field, want in (("ARC-Seal", case["AS"]), ("ARC-Message-Signature", case["AMS"])):
        ours, theirs = tags(got[field]), tags(want)
        assert set(ours) == set(theirs), (field, ours, theirs)
        for t in theirs:
            if t != "b":
                assert ours[t] == theirs[t], (field, t, ours[t], theirs[t])
    assert squeeze(got["ARC-Authentication-Results"]) == squeeze(case["AAR"])
    # b= differs (tag order); both verifiers accept our set with the
    # suite's key. The chain as a whole passes where the suite's own
    # earlier seals verify (see UPSTREAM_BROKEN).
    n = int(tags(got["ARC-Seal"])["i"])
    cv_py, reason, results = dkimpy_arc(r.stdout, records)
    md, detail = mail_dkim_arc(tmp_path, r.stdout, records)
    assert f"ams.{n}.example.org=pass" in detail, detail
    mine = [x for x in results if x["instance"] == n]
    assert mine and all(x["ams-valid"] for x in mine), results
    # A cv=fail seal signs its own set only (RFC 8617 5.1.2; dkimpy's
    # signer does the same), both verifiers check it over the whole
    # chain: the chain fails either way
    if cv != "fail":
        assert f"as.{n}.example.org=pass" in detail, detail
        assert all(x["as-valid"] for x in mine), results
    name = case_name(case)
    if cv == "fail" or name in UPSTREAM_BROKEN:
        assert (cv_py, md) == ("fail", "fail"), (reason, detail)
        if name in UPSTREAM_BROKEN:
            assert f"as.{n - 1}.example.org=fail" in detail, detail
    else:
        assert (cv_py, md) == ("pass", "pass"), (reason, detail)


# ---- through a real Postfix: the SRS path seals ----------------------------------

OUTSIDE = {"ADDR": "203.0.113.9", "NAME": "[UNAVAILABLE]"}


class Stack:
    def __init__(self, tmp):
        self.tmp = tmp
        self.srs_secret = os.path.join(tmp, "srs.secrets")
        with open(self.srs_secret, "w") as f:
            f.write("tops3cr3t\n")
        os.chmod(self.srs_secret, 0o600)
        self.own = ms.DkimKey(tmp, "s2026e", "ed25519")
        self.arc = ms.DkimKey(tmp, "arcr", "rsa", domain=DOMAIN)
        # the sealer's key, so the milter validates the chains that arrive
        self.dns = ms.Dnsmasq(txt={self.arc.dns_name: self.arc.record})
        self.port = ms.free_port()
        self.conf = os.path.join(tmp, "postseal.conf")
        self.write_conf("forwarded")
        self.milter = ms.Daemon([str(MILTER), "-f", "-c", self.conf], port=self.port)
        self.sink = ms.SmtpSink()
        self.pf = ms.PostfixInstance(self.sink, milter=f"inet:127.0.0.1:{self.port}")

    def write_conf(self, which):
        ms.write_ini(self.conf, {
            "milter": {"socket": f"inet:{self.port}@127.0.0.1", "mode": "sign,verify",
                       "internal_hosts": "127.0.0.0/8", "authserv_id": "mx.fwd.example.com",
                       "resolver": self.dns.resolver, "arc_seal": which,
                       "arc_seal_key": "arc"},
            "keys": {"own": f"example.com s2026e {self.own.path}",
                     "arc": f"{DOMAIN} arcr {self.arc.path}"},
            "signing": {"example.com": "own"},
            "return_path": {"srs_domain": DOMAIN, "srs_secret_file": self.srs_secret},
        })

    def reload(self, which):
        self.write_conf(which)
        mark = len(self.milter.log())
        self.milter.signal(signal.SIGHUP)
        self.milter.wait_log(r"reload result=ok", after=mark)

    def close(self):
        report = ms.shutdown(self.pf, self.sink, self.milter, self.dns)
        assert report is None, report


@pytest.fixture(scope="module")
def stack():
    if not MILTER.exists():
        pytest.skip(f"{MILTER} not built")
    with ms.running(Stack, "postseal-arcseal-") as s:
        yield s


def delivered(stack, sender, rcpt, xclient, msg=MSG):
    code, text = stack.pf.smtp_send(msg, sender, [rcpt], xclient=xclient)
    assert code == 250, text
    [dump] = stack.sink.wait_for(1)
    env = ms.envelope_of(dump)
    return {"mail": env["mail"].split(" ")[0]}, ms.message_of(dump)


def test_forwarded_mail_is_sealed(tmp_path, stack):
    records = {stack.arc.dns_name: stack.arc.record}
    env, msg = delivered(stack, "someone@remote.example", "friend@elsewhere.example", OUTSIDE)
    assert env["mail"].startswith("<SRS0="), env          # the SRS path took it
    assert instances(msg, "ARC-Seal") == [1], msg[:600]
    assert re.search(rb"ARC-Seal: i=1; cv=none; a=rsa-sha256; d=fwd.example.com; s=arcr;", msg)
    # the AAR is the Authentication-Results this host wrote
    aar = re.search(rb"ARC-Authentication-Results: i=1; (mx.fwd.example.com;[^\r]*)", msg)
    assert aar and b"spf=" in msg.split(b"\r\n\r\n")[0], msg[:900]
    cv, reason, _ = dkimpy_arc(msg, records)
    assert cv == "pass", reason
    assert mail_dkim_arc(tmp_path, msg, records)[0] == "pass"
    stack.milter.wait_log(r"arc-seal qid=\S+ verdict=sealed instance=1 cv=none")
    bad = msg.replace(b"see you.", b"see you!")
    assert dkimpy_arc(bad, records)[0] == "fail"
    assert mail_dkim_arc(tmp_path, bad, records)[0] == "fail"


def test_own_mail_is_not_sealed(stack):
    env, msg = delivered(stack, "app@example.com", "friend@elsewhere.example", None,
                         MSG.replace(b"alice@example.org", b"app@example.com"))
    assert b"ARC-Seal:" not in msg and b"DKIM-Signature:" in msg


def test_forwarded_chain_sealed_with_its_validation(tmp_path, stack):
    """A chain that arrives is validated here (verify mode) and our seal
    carries that result: an intact dkimpy chain gets cv=pass and the whole
    chain passes dkimpy and Mail::DKIM; a chain broken on the way gets
    cv=fail: our set (its AMS) verifies, the chain is ended."""
    records = {stack.arc.dns_name: stack.arc.record}
    first = dkimpy_seal(MSG.replace(b"arc1@", b"arc2@"), stack.arc)
    env, msg = delivered(stack, "someone@remote.example", "friend@elsewhere.example", OUTSIDE,
                         first)
    assert re.search(rb"ARC-Seal: i=2; cv=pass;", msg), msg[:600]
    assert dkimpy_arc(msg, records)[0] == "pass"
    assert mail_dkim_arc(tmp_path, msg, records)[0] == "pass"
    stack.milter.wait_log(r"arc-seal qid=\S+ verdict=sealed instance=2 cv=pass")

    broken = dkimpy_seal(MSG.replace(b"arc1@", b"arc3@"), stack.arc).replace(
        b"see you.", b"see you!")
    env, msg = delivered(stack, "someone@remote.example", "friend@elsewhere.example", OUTSIDE,
                         broken)
    assert re.search(rb"ARC-Seal: i=2; cv=fail;", msg), msg[:600]
    cv, reason, results = dkimpy_arc(msg, records)
    assert cv == "fail"
    assert [r["ams-valid"] for r in results if r["instance"] == 2] == [True], results
    stack.milter.wait_log(r"arc-seal qid=\S+ verdict=sealed instance=2 cv=fail")


def test_always_seals_own_mail(tmp_path, stack):
    stack.reload("always")
    try:
        env, msg = delivered(stack, "app@example.com", "friend@elsewhere.example", None,
                             MSG.replace(b"alice@example.org", b"app@example.com"))
    finally:
        stack.reload("forwarded")
    records = {stack.arc.dns_name: stack.arc.record, stack.own.dns_name: stack.own.record}
    assert instances(msg, "ARC-Seal") == [1]
    assert dkimpy_arc(msg, records)[0] == "pass"
    assert mail_dkim_arc(tmp_path, msg, records)[0] == "pass"
    # the DKIM signature made in the same pass still verifies
    assert dkim.verify(msg, dnsfunc=lambda n, timeout=5: records.get(
        n.decode().rstrip(".").lower(), "").encode() or None)
