"""SRS interoperability: postseal's SRS0/SRS1 addresses checked by the
independent implementations (Mail::SRS from libmail-srs-perl, and postsrsd's
own binary over its TCP table protocol), and theirs checked by postseal.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_srs_interop.py
"""

import os
import shutil
import socket
import subprocess
import time
import urllib.parse

import pytest

from conftest import free_port
from mailstack import _terminate, wait_port

SECRET = "tops3cr3t"
T0 = 1577836860
VECTOR = "SRS0=vmyz=2W=otherdomain.com=test@example.com"

# Mail::SRS reads time() at run time: pinning CORE::GLOBAL::time before the
# module is compiled lets one process run at any day stamp.
PERL = r"""
BEGIN { my $t = shift @ARGV; *CORE::GLOBAL::time = sub () { $t }; }
use Mail::SRS;
my ($op, $secret, $arg, $alias) = @ARGV;
my $srs = Mail::SRS->new(Secret => [split /,/, $secret], MaxAge => 21);
my $r = eval { $op eq 'forward' ? $srs->forward($arg, $alias) : $srs->reverse($arg) };
if (!defined $r) { print STDERR "refused: $@"; exit 1 }
print "$r\n";
"""


def perl_srs(op, addr, t=T0, secret=SECRET, alias="example.com"):
    if shutil.which("perl") is None:
        pytest.skip("perl missing")
    r = subprocess.run(["perl", "-e", PERL, str(t), op, secret, addr, alias],
                       text=True, capture_output=True, timeout=30)
    if "Can't locate Mail/SRS.pm" in r.stderr:
        pytest.skip("libmail-srs-perl not installed")
    return r


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "srs.secrets"
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    return path


def ours(postseal, secret_file, op, addr, t=T0, domain="example.com"):
    return postseal("srs", op, "--secret-file", secret_file, "--domain",
                    domain, "--time", t, addr)


def test_vector_both_ways(postseal, secret_file):
    r = ours(postseal, secret_file, "forward", "test@otherdomain.com")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == VECTOR
    p = perl_srs("forward", "test@otherdomain.com")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == VECTOR


@pytest.mark.parametrize("sender", [
    "alice@otherdomain.com", "Bob.Smith+tag@Mixed.Example.ORG",
    "a=b@weird.example", "x_y-z@sub.domain.example",
    "SRS0=vmyz=2W=otherdomain.com=test@example.net",
    "SRS1=JO9m=example.com==vmyz=2W=otherdomain.com=test@fwd.example",
])
@pytest.mark.parametrize("t", [T0, T0 + 86400 * 400 + 1234])
def test_mail_srs_agrees(postseal, secret_file, sender, t):
    mine = ours(postseal, secret_file, "forward", sender, t)
    theirs = perl_srs("forward", sender, t)
    assert mine.returncode == 0 and theirs.returncode == 0, (mine.stderr, theirs.stderr)
    assert mine.stdout == theirs.stdout
    # each reverses the other's (the same bytes, but also at a later day)
    later = t + 86400 * 20
    back_perl = perl_srs("reverse", mine.stdout.strip(), later)
    back_ours = ours(postseal, secret_file, "reverse", theirs.stdout.strip(), later)
    assert back_perl.returncode == 0, back_perl.stderr
    assert back_ours.returncode == 0, back_ours.stderr
    assert back_perl.stdout == back_ours.stdout


def test_mail_srs_refuses_what_we_refuse(postseal, secret_file):
    late = T0 + 86400 * 22
    assert perl_srs("reverse", VECTOR, late).returncode != 0
    assert ours(postseal, secret_file, "reverse", VECTOR, late).returncode == 1
    bad = VECTOR.replace("vmyz", "vmyy")
    assert perl_srs("reverse", bad).returncode != 0
    assert ours(postseal, secret_file, "reverse", bad).returncode == 1


def test_rotation_with_mail_srs(postseal, tmp_path):
    path = tmp_path / "two.secrets"
    path.write_text("n3w\n" + SECRET + "\n")
    path.chmod(0o600)
    mine = ours(postseal, path, "forward", "test@otherdomain.com")
    theirs = perl_srs("forward", "test@otherdomain.com", secret="n3w," + SECRET)
    assert mine.stdout == theirs.stdout != VECTOR + "\n"
    assert ours(postseal, path, "reverse", VECTOR).returncode == 0


class Postsrsd:
    """postsrsd 1.10 on two loopback ports, speaking Postfix's tcp_table
    protocol ("get ADDR" -> "200 ADDR", URL-encoded)."""

    def __init__(self, secret_file, domain):
        binary = shutil.which("postsrsd") or "/usr/sbin/postsrsd"
        if not os.access(binary, os.X_OK):
            pytest.skip("postsrsd not installed")
        self.fport, self.rport = free_port(), free_port()
        while self.rport == self.fport:
            self.rport = free_port()
        self.proc = subprocess.Popen(
            [binary, f"-s{secret_file}", f"-d{domain}", "-l127.0.0.1", "-4",
             f"-f{self.fport}", f"-r{self.rport}", "-t30"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_port(self.fport)
            wait_port(self.rport)
        except TimeoutError:
            self.close()
            pytest.fail("postsrsd did not start")

    def ask(self, port, addr):
        with socket.create_connection(("127.0.0.1", port), 5) as s:
            s.sendall(b"get " + urllib.parse.quote(addr).encode() + b"\n")
            reply = s.makefile("rb").readline().decode().strip()
        code, _, text = reply.partition(" ")
        return code, urllib.parse.unquote(text)

    def close(self):
        _terminate(self.proc)


@pytest.fixture
def postsrsd(secret_file):
    d = Postsrsd(secret_file, "example.com")
    yield d
    d.close()


@pytest.mark.parametrize("sender", [
    "alice@otherdomain.com", "Bob.Smith+tag@Mixed.Example.ORG",
    "SRS0=vmyz=2W=otherdomain.com=test@example.net",
])
def test_postsrsd_agrees(postseal, secret_file, postsrsd, sender):
    for _ in range(2):  # again if a UTC midnight fell between the two clocks
        now = int(time.time())
        code, theirs = postsrsd.ask(postsrsd.fport, sender)
        if int(time.time()) // 86400 == now // 86400:
            break
    assert code == "200", theirs
    mine = ours(postseal, secret_file, "forward", sender, now)
    assert mine.returncode == 0, mine.stderr
    assert mine.stdout.strip() == theirs
    # postsrsd reverses ours and we reverse postsrsd's
    code, back = postsrsd.ask(postsrsd.rport, mine.stdout.strip())
    assert code == "200", back
    r = ours(postseal, secret_file, "reverse", theirs, now)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == back


def test_postsrsd_case_smashed(postseal, secret_file, postsrsd):
    now = int(time.time())
    mine = ours(postseal, secret_file, "forward", "alice@otherdomain.com", now)
    smashed = mine.stdout.strip().upper()
    code, back = postsrsd.ask(postsrsd.rport, smashed)
    assert code == "200", back
    r = ours(postseal, secret_file, "reverse", smashed, now)
    assert r.returncode == 0 and r.stdout.strip().lower() == back.lower()
