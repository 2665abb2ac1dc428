"""Wrong input gets one clear line and exit 2: a key file others can read,
a truncated PEM, an unknown config key, a bad base64 secret, each named by
file (and line, for what a config names); and --help on every command
prints its usage on stdout and exits 0."""

import os

import pytest

DOMAIN = "example.test"


def one_error_line(out):
    """The single stderr line of a failed command (exit 2, nothing on
    stdout)."""
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("postseal: ")
    return lines[0]


@pytest.fixture
def key(postseal, tmp_path):
    """A good Ed25519 key, mode 0600."""
    out = postseal("keygen", "--domain", DOMAIN, "--selector", "s1", "--algorithm",
                   "ed25519", "--out", tmp_path)
    assert out.returncode == 0, out.stderr
    return tmp_path / f"{DOMAIN}.s1.pem"


@pytest.fixture
def secrets(tmp_path):
    path = tmp_path / "retpath.secrets"
    path.write_text("# newest first\nbase64:c2VjcmV0LW9uZS0xMjM0NTY3OA==\nold-secret\n")
    os.chmod(path, 0o600)
    return path


def write_conf(tmp_path, key, secrets, extra=""):
    conf = tmp_path / "postseal.conf"
    conf.write_text(
        "# test configuration\n"
        "[keys]\n"
        f"ed = {DOMAIN} s1 {key}\n"
        "\n"
        "[signing]\n"
        f"{DOMAIN} = ed\n"
        "\n"
        "[return_path]\n"
        "domain = rp.example.test\n"
        f"secret_file = {secrets}\n" + extra +
        # run as root, the milter's user must exist: root, said so
        "[milter]\nuser = root\n")
    return conf


def dns_with_key(postseal, path):
    return postseal("dns", "--domain", DOMAIN, "--selector", "s1", "--key", path)


# ---- key files ------------------------------------------------------------------

def test_world_readable_key_refused(postseal, key):
    assert dns_with_key(postseal, key).returncode == 0
    os.chmod(key, 0o644)
    line = one_error_line(dns_with_key(postseal, key))
    assert str(key) in line and "chmod 600" in line


def test_truncated_pem_refused(postseal, key, tmp_path):
    cut = tmp_path / "cut.pem"
    cut.write_bytes(key.read_bytes()[:60])
    os.chmod(cut, 0o600)
    line = one_error_line(dns_with_key(postseal, cut))
    assert str(cut) in line and "truncated" in line


def test_missing_key_file(postseal, tmp_path):
    missing = tmp_path / "nope.pem"
    line = one_error_line(dns_with_key(postseal, missing))
    assert str(missing) in line


def test_key_from_config_names_the_config_line(postseal, key, secrets, tmp_path):
    conf = write_conf(tmp_path, key, secrets)
    os.chmod(key, 0o640)
    for args in (["check", "-c", conf], ["dns", "-c", conf]):
        line = one_error_line(postseal(*args))
        assert f"{conf}:3:" in line and str(key) in line, args


# ---- postseal check -------------------------------------------------------------

def test_check_good_config(postseal, key, secrets, tmp_path):
    conf = write_conf(tmp_path, key, secrets)
    out = postseal("check", "-c", conf)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{conf}: ok\n"
    assert out.stderr == ""


def test_check_unknown_config_key(postseal, key, secrets, tmp_path):
    conf = write_conf(tmp_path, key, secrets, extra="bounce_colour = blue\n")
    line = one_error_line(postseal("check", "-c", conf))
    assert line.startswith(f"postseal: {conf}:11: ") and "bounce_colour" in line


def test_check_bad_base64_secret(postseal, key, secrets, tmp_path):
    secrets.write_text("base64:!!!\n")
    conf = write_conf(tmp_path, key, secrets)
    line = one_error_line(postseal("check", "-c", conf))
    assert line.startswith(f"postseal: {conf}:10: secret_file: ")
    assert f"{secrets}:1:" in line and "base64" in line
    assert "!!!" not in line  # secrets are never echoed


def test_check_world_readable_secret(postseal, key, secrets, tmp_path):
    os.chmod(secrets, 0o644)
    conf = write_conf(tmp_path, key, secrets)
    line = one_error_line(postseal("check", "-c", conf))
    assert f"{conf}:10:" in line and str(secrets) in line


def test_check_signing_names_unknown_key(postseal, key, secrets, tmp_path):
    conf = write_conf(tmp_path, key, secrets)
    conf.write_text(conf.read_text().replace(f"{DOMAIN} = ed", f"{DOMAIN} = ed, nokey"))
    line = one_error_line(postseal("check", "-c", conf))
    assert f"{conf}:6:" in line and "nokey" in line


def test_check_missing_config(postseal, tmp_path):
    line = one_error_line(postseal("check", "-c", tmp_path / "absent.conf"))
    assert str(tmp_path / "absent.conf") in line


# ---- usage ----------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["--help"], ["help"], ["-h"],
    ["keygen", "--help"], ["dns", "--help"], ["dns", "check", "--help"],
    ["check", "--help"], ["keygen", "-h"], ["dns", "check", "-h"],
])
def test_help(postseal, argv):
    out = postseal(*argv)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert out.stdout.startswith("usage: postseal")
    if len(argv) > 1:
        assert out.stdout.startswith("usage: postseal " + " ".join(argv[:-1]))


@pytest.mark.parametrize("argv,expect", [
    ([], "no command"),
    (["frobnicate"], "frobnicate"),
    (["keygen", "--frob"], "--frob"),
    (["dns", "--domain"], "--domain"),
    (["dns", "check", "-x", "--domain", DOMAIN], "-x"),
    (["check", "-c"], "-c"),
    (["check", "-c", "/etc/postseal/postseal.conf", "extra"], "extra"),
    (["dns"], "--domain"),
    (["dns", "check", "--domain", DOMAIN, "--key", "/k.pem"], "--selector"),
])
def test_bad_usage(postseal, argv, expect):
    line = one_error_line(postseal(*argv))
    assert expect in line
