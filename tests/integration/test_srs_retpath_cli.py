"""postseal srs and postseal retpath from the shell: the SRS vector, round
trips, tampered or expired addresses (exit 1) and bad usage (exit 2).

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_srs_retpath_cli.py
"""

import pytest

T0 = 1577836860
VECTOR = "SRS0=vmyz=2W=otherdomain.com=test@example.com"
RP = "rp.example.com"


@pytest.fixture
def secrets(tmp_path):
    def make(*lines, mode=0o600):
        path = tmp_path / f"s{len(list(tmp_path.iterdir()))}.secrets"
        path.write_text("".join(line + "\n" for line in lines))
        path.chmod(mode)
        return path
    return make


def srs(postseal, op, sec, addr, t=T0, domain="example.com"):
    return postseal("srs", op, "--secret-file", sec, "--domain", domain,
                    "--time", t, addr)


def rp(postseal, op, sec, arg, t=T0, domain=RP):
    return postseal("retpath", op, "--secret-file", sec, "--domain", domain,
                    "--time", t, arg)


def test_srs_vector(postseal, secrets):
    sec = secrets("tops3cr3t")
    r = srs(postseal, "forward", sec, "test@otherdomain.com")
    assert (r.returncode, r.stdout, r.stderr) == (0, VECTOR + "\n", "")
    r = srs(postseal, "reverse", sec, VECTOR)
    assert (r.returncode, r.stdout) == (0, "test@otherdomain.com\n")


def test_srs_round_trip_and_srs1(postseal, secrets):
    sec = secrets("new", "tops3cr3t")
    for sender in ["a.b+c@x.example", VECTOR.replace("example.com", "hop1.example")]:
        fwd = srs(postseal, "forward", sec, sender)
        assert fwd.returncode == 0, fwd.stderr
        back = srs(postseal, "reverse", sec, fwd.stdout.strip(), T0 + 86400)
        assert (back.returncode, back.stdout) == (0, sender + "\n")
    assert srs(postseal, "reverse", sec, VECTOR).returncode == 0  # old secret


@pytest.mark.parametrize("addr,t", [
    (VECTOR.replace("vmyz", "vmyq"), T0),
    (VECTOR.replace("=test@", "=tost@"), T0),
    (VECTOR, T0 + 22 * 86400),
    ("plain@example.com", T0),
    (VECTOR.replace("@example.com", "@elsewhere.example"), T0),
])
def test_srs_refused_exit_1(postseal, secrets, addr, t):
    r = srs(postseal, "reverse", secrets("tops3cr3t"), addr, t)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("postseal: srs reverse: ") and r.stderr.count("\n") == 1


def test_retpath_round_trip(postseal, secrets):
    sec = secrets("k1")
    enc = rp(postseal, "encode", sec, "4Xk9Tz2vQbz9sKL")
    assert enc.returncode == 0, enc.stderr
    addr = enc.stdout.strip()
    assert addr.startswith("b.4Xk9Tz2vQbz9sKL.") and addr.endswith("@" + RP)
    assert len(addr.split("@")[0]) <= 64
    for form in (addr, addr.upper(), addr.lower()):
        dec = rp(postseal, "decode", sec, form, T0 + 7 * 86400)
        assert dec.returncode == 0, dec.stderr
        assert dec.stdout.lower() == f"ref=4xk9tz2vqbz9skl issued={T0 // 86400 * 86400}\n"
    rotated = secrets("k2", "k1")
    assert rp(postseal, "decode", rotated, addr).returncode == 0
    assert rp(postseal, "encode", rotated, "4Xk9Tz2vQbz9sKL").stdout != enc.stdout


def test_retpath_refused_exit_1(postseal, secrets):
    sec = secrets("k1")
    addr = rp(postseal, "encode", sec, "Msg42").stdout.strip()
    local, _, dom = addr.partition("@")
    flip = local[:-1] + ("a" if local[-1] != "a" else "b")
    cases = [(flip + "@" + dom, T0), (addr, T0 + 8 * 86400),
             (addr.replace("Msg42", "Msg43"), T0), (local + "@rp.other.example", T0),
             ("b.Msg42@" + RP, T0)]
    for a, t in cases:
        r = rp(postseal, "decode", sec, a, t)
        assert r.returncode == 1, a
        assert r.stderr.startswith("postseal: retpath decode: ")
    assert rp(postseal, "decode", secrets("other"), addr).returncode == 1


@pytest.mark.parametrize("args", [
    ["srs"], ["srs", "sideways"], ["srs", "forward", "x@y"],
    ["srs", "forward", "--secret-file", "/nonexistent", "--domain", "d", "x@y"],
    ["srs", "forward", "--time", "soon", "--secret-file", "F", "--domain", "d", "x@y"],
    ["srs", "forward", "--bogus"], ["retpath"], ["retpath", "encode"],
    ["retpath", "decode", "--secret-file", "F", "--domain", RP, "a", "b"],
])
def test_usage_exit_2(postseal, secrets, args):
    sec = str(secrets("k1"))
    r = postseal(*[sec if a == "F" else a for a in args])
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("postseal: ") and r.stderr.count("\n") == 1


def test_bad_inputs_exit_2(postseal, secrets):
    sec = secrets("k1")
    assert rp(postseal, "encode", sec, "not-alnum").returncode == 2
    assert rp(postseal, "encode", sec, "x" * 21).returncode == 2
    assert srs(postseal, "forward", sec, "no-at-sign").returncode == 2
    loose = secrets("k1", mode=0o644)
    r = srs(postseal, "forward", loose, "a@b.example")
    assert r.returncode == 2 and "chmod" in r.stderr


def test_help_exit_0(postseal):
    for cmd in ("srs", "retpath"):
        r = postseal(cmd, "--help")
        assert r.returncode == 0 and "usage:" in r.stdout
