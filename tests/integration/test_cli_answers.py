"""What the CLI and the daemons say agrees with what they do: every
program answers --version with the Makefile's VERSION; webhook sign
--scheme mailgun prints what its help says (a JSON body holding the
signature object, which verifies as it is); --max-body is on sign's usage
and an over-size body is told to raise it; retpath decode and srs reverse
take the domain from the address when --domain is left out."""

import json
import os
import pathlib
import re
import subprocess

import pytest

from conftest import build_dir

ROOT = pathlib.Path(__file__).resolve().parents[2]
T0 = 1577836860


def makefile_version():
    m = re.search(r"^VERSION\s*:=\s*(\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert m, "no VERSION := line in the Makefile"
    return m.group(1)


@pytest.mark.parametrize("program", ["postseal", "postseal-milter", "postseal-policyd"])
def test_version(program):
    binary = build_dir() / program
    if not os.access(binary, os.X_OK):
        pytest.skip(f"{binary} not built")
    r = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (0, f"{program} {makefile_version()}\n", "")


def secret_file(path, text):
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def secret(tmp_path):
    return secret_file(tmp_path / "mg.secret", "key-mailgun-signing")


def test_mailgun_sign_prints_what_help_says_and_it_verifies(postseal, secret, tmp_path):
    helptext = postseal("webhook", "--help").stdout
    assert '{"signature": {"timestamp", "token", "signature"}}' in helptext, helptext
    r = postseal("webhook", "sign", "--scheme", "mailgun", "--secret-file", secret,
                 "--timestamp", T0, "--id", "tok123")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert list(body) == ["signature"]
    assert body["signature"]["timestamp"] == str(T0)
    assert body["signature"]["token"] == "tok123"
    assert re.fullmatch(r"[0-9a-f]{64}", body["signature"]["signature"])
    req = tmp_path / "req"
    req.write_text("POST /hook HTTP/1.1\r\nContent-Type: application/json\r\n\r\n" + r.stdout)
    v = postseal("webhook", "verify", "--scheme", "mailgun", "--secret-file", secret,
                 "--now", T0 + 10, req)
    assert v.returncode == 0 and v.stdout.startswith("verified: scheme=mailgun"), \
        v.stdout + v.stderr


def test_max_body_on_sign_usage_and_named_when_over(postseal, secret):
    usage = postseal("webhook", "--help").stdout
    sign_usage = usage.split("webhook verify")[0]
    assert "--max-body BYTES" in sign_usage, usage
    binary = str(build_dir() / "postseal")
    args = [binary, "webhook", "sign", "--scheme", "github", "--secret-file", str(secret)]
    big = b"x" * 5000
    r = subprocess.run(args + ["--max-body", "4096"], input=big, capture_output=True,
                       timeout=30)
    assert r.returncode == 2 and r.stdout == b""
    assert r.stderr.decode() == \
        "postseal: webhook sign: stdin is over 4096 bytes (raise --max-body)\n"
    r = subprocess.run(args + ["--max-body", "8192"], input=big, capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr


@pytest.fixture
def secrets(tmp_path):
    return secret_file(tmp_path / "k.secrets", "tops3cr3t")


def test_retpath_decode_and_srs_reverse_take_the_address_domain(postseal, secrets):
    addr = postseal("retpath", "encode", "--secret-file", secrets, "--domain",
                    "rp.example.com", "--time", T0, "Msg42").stdout.strip()
    assert addr.endswith("@rp.example.com")
    r = postseal("retpath", "decode", "--secret-file", secrets, "--time", T0, addr)
    assert (r.returncode, r.stdout) == (0, f"ref=Msg42 issued={T0 // 86400 * 86400}\n"), \
        r.stderr
    # a given --domain still has to match
    r = postseal("retpath", "decode", "--secret-file", secrets, "--domain",
                 "rp.other.example", "--time", T0, addr)
    assert r.returncode == 1
    vector = "SRS0=vmyz=2W=otherdomain.com=test@example.com"
    r = postseal("srs", "reverse", "--secret-file", secrets, "--time", T0, vector)
    assert (r.returncode, r.stdout) == (0, "test@otherdomain.com\n"), r.stderr
    # encode and forward still need it; an operand without '@' names none
    for args in (["retpath", "encode", "--secret-file", secrets, "Msg42"],
                 ["srs", "forward", "--secret-file", secrets, "a@b.example"],
                 ["retpath", "decode", "--secret-file", secrets, "no-at-sign"]):
        r = postseal(*args)
        assert r.returncode == 2 and "--domain" in r.stderr, (args, r.stderr)
