"""postseal keygen: the key file it writes (mode 0600, never over an
existing file), the record it prints, and the oracle: mail signed with the
written private key by dkimpy verifies against exactly the record that
`postseal dns` prints for that key, and fails once the body is changed."""

import base64
import os
import stat

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

import zonetext

DOMAIN = "example.test"
MESSAGE = (b"From: Alice <alice@example.test>\r\n"
           b"To: Bob <bob@example.net>\r\n"
           b"Subject: keygen oracle\r\n"
           b"Date: Mon, 23 Nov 2026 07:00:00 +0000\r\n"
           b"Message-ID: <keygen@example.test>\r\n"
           b"\r\n"
           b"Hello Bob,\r\n\r\nthis is signed.\r\n")
KINDS = [("rsa", "s2026r", ["--bits", "2048"]), ("ed25519", "s2026e", [])]


def keygen(postseal, tmp_path, kind, selector, extra=()):
    return postseal("keygen", "--domain", DOMAIN, "--selector", selector,
                    "--algorithm", kind, *extra, "--out", tmp_path)


def dkimpy_private(pem_path):
    """The key in the form dkimpy signs with: PEM for RSA, the base64 of
    the raw 32-byte seed for Ed25519 (dkim/__init__.py, sign())."""
    pem = open(pem_path, "rb").read()
    key = serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        return base64.b64encode(raw), b"ed25519-sha256"
    assert isinstance(key, rsa.RSAPrivateKey)
    return pem, b"rsa-sha256"


def dns_record(postseal, selector, pem_path):
    """The DKIM TXT record `postseal dns` prints for the key, strings
    joined, read by dnspython's zone parser."""
    out = postseal("dns", "--domain", DOMAIN, "--selector", selector, "--key", pem_path)
    assert out.returncode == 0, out.stderr
    return zonetext.txt(zonetext.parse(out.stdout), f"{selector}._domainkey.{DOMAIN}")


def dnsfunc_for(selector, record):
    def dnsfunc(name, timeout=5):
        if name.rstrip(b".").decode().lower() == f"{selector}._domainkey.{DOMAIN}":
            return record.encode()
        return None
    return dnsfunc


@pytest.mark.parametrize("kind,selector,extra", KINDS)
def test_keygen_writes_0600_key_and_prints_record(postseal, tmp_path, kind, selector, extra):
    out = keygen(postseal, tmp_path, kind, selector, extra)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    path = tmp_path / f"{DOMAIN}.{selector}.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if kind == "rsa":
        assert key.key_size == 2048
    else:
        assert isinstance(key, ed25519.Ed25519PrivateKey)
    assert str(path) in out.stdout
    record = zonetext.txt(zonetext.parse(out.stdout), f"{selector}._domainkey.{DOMAIN}")
    assert record.startswith(f"v=DKIM1; k={kind}; p=")
    assert record == dns_record(postseal, selector, path)


def test_keygen_rsa_record_split_into_255_byte_strings(postseal, tmp_path):
    out = keygen(postseal, tmp_path, "rsa", "big", ["--bits", "4096"])
    assert out.returncode == 0, out.stderr
    strings = zonetext.txt_strings(zonetext.parse(out.stdout), f"big._domainkey.{DOMAIN}")
    assert len(strings) > 1
    assert all(len(s.encode()) <= 255 for s in strings)
    assert all(len(s.encode()) == 255 for s in strings[:-1])


@pytest.mark.parametrize("kind,selector,extra", KINDS)
def test_dkimpy_signature_verifies_against_printed_record(postseal, tmp_path, kind,
                                                          selector, extra):
    assert keygen(postseal, tmp_path, kind, selector, extra).returncode == 0
    path = tmp_path / f"{DOMAIN}.{selector}.pem"
    private, algorithm = dkimpy_private(path)
    record = dns_record(postseal, selector, path)
    dnsfunc = dnsfunc_for(selector, record)

    signature = dkim.sign(MESSAGE, selector.encode(), DOMAIN.encode(), private,
                          signature_algorithm=algorithm,
                          include_headers=[b"From", b"To", b"Subject", b"Date"])
    signed = signature + MESSAGE
    assert dkim.verify(signed, dnsfunc=dnsfunc)

    tampered = signed.replace(b"this is signed.", b"this is forged.")
    assert tampered != signed
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)


def test_dkimpy_signature_fails_against_another_keys_record(postseal, tmp_path):
    for sel in ("one", "two"):
        assert keygen(postseal, tmp_path, "ed25519", sel).returncode == 0
    private, algorithm = dkimpy_private(tmp_path / f"{DOMAIN}.one.pem")
    other = dns_record(postseal, "two", tmp_path / f"{DOMAIN}.two.pem")
    signed = dkim.sign(MESSAGE, b"one", DOMAIN.encode(), private,
                       signature_algorithm=algorithm) + MESSAGE
    assert not dkim.verify(signed, dnsfunc=dnsfunc_for("one", other))


def test_keygen_refuses_existing_file(postseal, tmp_path):
    path = tmp_path / f"{DOMAIN}.s1.pem"
    path.write_text("precious\n")
    os.chmod(path, 0o600)
    out = keygen(postseal, tmp_path, "ed25519", "s1")
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("postseal: ") and str(path) in lines[0]
    assert path.read_text() == "precious\n"


@pytest.mark.parametrize("args,expect", [
    (["--algorithm", "rsa", "--bits", "1024"], "--bits"),
    (["--algorithm", "rsa", "--bits", "2048x"], "--bits"),
    (["--algorithm", "dsa"], "--algorithm"),
    (["--algorithm", "ed25519", "--bits", "2048"], "--bits"),
    (["--domain", "localhost"], "domain"),
    (["--selector", "bad selector"], "selector"),
    (["--frobnicate"], "--frobnicate"),
    (["stray"], "stray"),
])
def test_keygen_bad_arguments(postseal, tmp_path, args, expect):
    base = {"--domain": DOMAIN, "--selector": "s1"}
    for opt in ("--domain", "--selector"):
        if opt in args:
            base.pop(opt)
    argv = [x for kv in base.items() for x in kv] + args
    out = postseal("keygen", *argv, "--out", tmp_path)
    assert out.returncode == 2
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("postseal: ") and expect in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_keygen_requires_domain_and_selector(postseal, tmp_path):
    out = postseal("keygen", "--domain", DOMAIN, "--out", tmp_path)
    assert out.returncode == 2
    assert len(out.stderr.splitlines()) == 1 and "--selector" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_keygen_normalises_the_domain(postseal, tmp_path):
    out = postseal("keygen", "--domain", "Example.TEST.", "--selector", "s1",
                   "--algorithm", "ed25519", "--out", tmp_path)
    assert out.returncode == 0, out.stderr
    assert [p.name for p in tmp_path.iterdir()] == [f"{DOMAIN}.s1.pem"]
    assert (f"s1._domainkey.{DOMAIN}", "TXT") in zonetext.parse(out.stdout)


def test_keygen_missing_out_directory(postseal, tmp_path):
    missing = tmp_path / "no" / "such"
    out = postseal("keygen", "--domain", DOMAIN, "--selector", "s1",
                   "--algorithm", "ed25519", "--out", missing)
    assert out.returncode == 2
    [line] = out.stderr.splitlines()
    assert line.startswith("postseal: keygen: ") and str(missing) in line
