"""One verdict per config file: `postseal check -c F`, `postseal-milter -n
-c F` and `postseal-policyd -n -c F` refuse the same files with the same
"FILE:LINE: reason", and each daemon started with -f on a bad file refuses
it with that same line; on a good file all three pass and both daemons
start.

The corpus is conf_corpus/*.conf. The first line of each file says what
to expect: "# expect: ok", or "# expect: LINE: PIECE" where LINE is the
line to blame and PIECE a part of the reason. Placeholders: @TMP@ (a
writable directory), @KEY@ (an Ed25519 key, 0600), @SECRETS@ (a return-path
secret file, 0600), @PORT@ and @PORT2@ (free loopback ports).
"""

import os
import pathlib
import re
import subprocess

import pytest

from conftest import build_dir, free_port
from mailstack import Daemon, wait_port

CORPUS = pathlib.Path(__file__).resolve().parent / "conf_corpus"
FILES = sorted(p.name for p in CORPUS.glob("*.conf"))
EXPECT = re.compile(r"# expect: (ok|(\d+): (.+))$")
PROGRAMS = {"postseal": ["check"], "postseal-milter": ["-n"],
            "postseal-policyd": ["-n"]}
DAEMONS = ("postseal-milter", "postseal-policyd")


def binary(name):
    path = build_dir() / name
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} not built")
    return str(path)


@pytest.fixture
def place(tmp_path):
    """What the placeholders stand for, made fresh for each file."""
    tmp_path.chmod(0o755)
    key = tmp_path / "ed.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)],
                   check=True, capture_output=True)
    key.chmod(0o600)
    secrets = tmp_path / "retpath.secrets"
    secrets.write_text("base64:c2VjcmV0LW9uZS0xMjM0NTY3OA==\n")
    secrets.chmod(0o600)
    return {"@TMP@": str(tmp_path), "@KEY@": str(key), "@SECRETS@": str(secrets),
            "@PORT@": str(free_port()), "@PORT2@": str(free_port())}


def instantiate(name, place, tmp_path):
    """The corpus file with its placeholders filled in, and what it expects:
    None for ok, else (line, piece)."""
    text = (CORPUS / name).read_text()
    for k, v in place.items():
        text = text.replace(k, v)
    m = EXPECT.match(text.splitlines()[0])
    assert m, f"{name}: first line must be '# expect: ...'"
    text = run_as_root(text)
    conf = tmp_path / name
    conf.write_text(text)
    return str(conf), None if m.group(1) == "ok" else (int(m.group(2)), m.group(3))


def run_as_root(text):
    """The tests run as root, where each daemon becomes its section's user
    (default postseal, which this host need not have): a file that names
    no user gets "user = root" for the sections it has, appended so that
    no line it blames moves."""
    if re.search(r"^user\s*=", text, re.M):
        return text
    sections = set(re.findall(r"^\[(\w+)\]", text, re.M))
    if sections - {"policyd", "limits"}:
        text += "[milter]\nuser = root\n"
    if sections & {"policyd", "limits"}:
        text += "[policyd]\nuser = root\n"
    return text


def error_of(name, r):
    """The "FILE:LINE: reason" a program printed, without its name."""
    lines = [l for l in r.stderr.splitlines() if l.startswith(f"{name}: ")]
    assert lines, (name, r.returncode, r.stdout, r.stderr)
    return lines[0][len(name) + 2:]


def run(name, conf, timeout=60):
    return subprocess.run([binary(name), *PROGRAMS[name], "-c", conf],
                          capture_output=True, text=True, timeout=timeout)


def start(name, conf):
    """The daemon in the foreground; for a file it refuses, it must exit
    (a daemon that stays up is killed and reported)."""
    p = subprocess.Popen([binary(name), "-f", "-c", conf], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"{name} -f started on a file the checks refuse:\n{err}")
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


@pytest.mark.parametrize("name", [f for f in FILES if f.startswith("bad_")])
def test_bad_file_one_verdict(name, place, tmp_path):
    conf, (line, piece) = instantiate(name, place, tmp_path)
    said = {}
    for prog in PROGRAMS:
        r = run(prog, conf)
        assert r.returncode != 0, (prog, r.stdout, r.stderr)
        said[prog] = error_of(prog, r)
    for prog in DAEMONS:
        r = start(prog, conf)
        assert r.returncode != 0, (prog, r.stderr)
        assert not Daemon.SANITIZER.search(r.stderr), r.stderr
        said[f"{prog} -f"] = error_of(prog, r)
    first = said["postseal"]
    assert first.startswith(f"{conf}:{line}: "), said
    assert piece in first, said
    assert all(msg == first for msg in said.values()), said


def wait_started(conf, place):
    """Both sockets of a good file answer (inet port, or unix socket)."""
    text = open(conf).read()
    if "unix:" in text:
        for sock in ("milter.sock", "policyd.sock"):
            path = pathlib.Path(place["@TMP@"]) / sock
            for _ in range(200):
                if path.is_socket():
                    break
                subprocess.run(["sleep", "0.05"])
            assert path.is_socket(), path
        return
    wait_port(int(place["@PORT@"]), 15)
    if "[::1]" in text:
        return  # wait_port speaks IPv4; the start log below says it listened
    wait_port(int(place["@PORT2@"]), 15)


@pytest.mark.parametrize("name", [f for f in FILES if f.startswith("good_")])
def test_good_file_passes_everywhere(name, place, tmp_path):
    conf, expect = instantiate(name, place, tmp_path)
    assert expect is None
    for prog in PROGRAMS:
        r = run(prog, conf)
        assert r.returncode == 0, (prog, r.stdout, r.stderr)
    procs = [subprocess.Popen([binary(p), "-f", "-c", conf], stdout=subprocess.DEVNULL,
                              stderr=open(tmp_path / f"{p}.log", "w")) for p in DAEMONS]
    try:
        wait_started(conf, place)
        for p in procs:
            assert p.poll() is None, (tmp_path / "postseal-policyd.log").read_text()
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=90)
    for prog in DAEMONS:
        log = (tmp_path / f"{prog}.log").read_text()
        assert not Daemon.SANITIZER.search(log), log


def test_corpus_covers_each_grammar():
    """A grammar added to the checks without a corpus file is a gap."""
    for prefix in ("bad_cidr", "bad_limits_cidr", "bad_resolver", "bad_listen",
                   "bad_socket", "bad_limits", "bad_expire", "bad_key",
                   "bad_signing", "bad_secret", "bad_events", "bad_store",
                   "bad_mode", "good_"):
        assert any(f.startswith(prefix) for f in FILES), prefix
