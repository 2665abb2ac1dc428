"""postseal-milter signing through a real Postfix: who is signed (SASL
login through XCLIENT, internal_hosts over IPv4 and IPv6, local sendmail)
and who is not (outside clients, bad From fields), with RSA and Ed25519
signatures from one pass, each checked alone by dkimpy, by libopendkim
(opendkim -t) and, for RSA, by Mail::DKIM against keys published in a
dnsmasq; forged Authentication-Results
removed; OpenDKIM tables; configured canonicalization, signed headers
and expiry; SIGHUP reload; -n."""

import os
import re
import signal
import smtplib
import subprocess
import tempfile
import time

import dkim
import pytest

import mailstack as ms

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")
AUTHSERV = "mx.example.test"

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK), reason="postseal-milter not built")

PERL_VERIFY = r"""
use strict; use Mail::DKIM::Verifier; use Net::DNS::Resolver;
my $res = Net::DNS::Resolver->new(nameservers => ['127.0.0.1'], port => $ARGV[0],
                                  recurse => 1, udp_timeout => 5);
Mail::DKIM::DNS::resolver($res);
my $v = Mail::DKIM::Verifier->new();
binmode STDIN; local $/; my $msg = <STDIN>; $v->PRINT($msg); $v->CLOSE;
print $_->algorithm, " ", $_->domain, " ", $_->selector, " ", $_->result, "\n"
    for $v->signatures;
"""


class Stack:
    """Keys, a dnsmasq publishing them, the milter and a Postfix using it."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.rsa = ms.DkimKey(tmp, "s2026r", "rsa")
        self.ed = ms.DkimKey(tmp, "s2026e", "ed25519")
        self.sub = ms.DkimKey(tmp, "sub", "ed25519", domain="example.org")
        keys = (self.rsa, self.ed, self.sub)
        self.dns = ms.Dnsmasq(txt={k.dns_name: k.record for k in keys})
        self.port = ms.free_port()
        self.conf = os.path.join(tmp, "postseal.conf")
        self.write_conf()
        self.milter = ms.Daemon([MILTER, "-f", "-c", self.conf], port=self.port)
        self.sink = ms.SmtpSink()
        spec = f"inet:127.0.0.1:{self.port}"
        # inet_protocols = all: XCLIENT takes IPv6 client addresses only then;
        # no local_header_rewrite_clients: Postfix adds no From of its own
        # to SMTP mail, so the milter sees the message as the client sent it.
        self.pf = ms.PostfixInstance(self.sink, milter=spec, non_smtpd_milter=spec,
                                     hostname=AUTHSERV,
                                     main={"inet_protocols": "all",
                                           "local_header_rewrite_clients": ""})

    def write_conf(self, signing=None, extra_keys=None, milter_extra=None):
        keys = {
            "ex-rsa": f"example.com s2026r {self.rsa.path}",
            "ex-ed": f"example.com s2026e {self.ed.path}",
            "org-sub": f"example.org sub {self.sub.path}",
        }
        keys.update(extra_keys or {})
        milter = {
            "socket": f"inet:{self.port}@127.0.0.1",
            "mode": "sign,verify",
            "internal_hosts": "127.0.0.0/8, 198.51.100.0/24, 2001:db8::/32",
            "authserv_id": AUTHSERV,
            "resolver": self.dns.resolver,
        }
        milter.update(milter_extra or {})
        ms.write_ini(self.conf, {
            "milter": milter,
            "keys": keys,
            "signing": signing or {"example.com": "ex-rsa, ex-ed", "*.example.org": "org-sub"},
        })

    def close(self):
        """Stops everything; fails if the milter's log holds a sanitizer
        report (make SANITIZE=1, POSTSEAL_BUILD=build-san)."""
        report = ms.shutdown(self.pf, self.sink, self.milter, self.dns)
        assert report is None, report


@pytest.fixture(scope="module")
def stack():
    with ms.running(Stack, "postseal-sign-") as s:
        yield s


def dnsfunc_for(stack):
    records = {k.dns_name: k.record for k in (stack.rsa, stack.ed, stack.sub)}

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        rec = records.get(name.rstrip("."))
        return rec.encode() if rec else None
    return dnsfunc


def dkimpy_results(stack, msg):
    """dkimpy's verdict for each DKIM-Signature, checked one at a time."""
    n = len(ms.header_values(msg, "DKIM-Signature"))
    return [dkim.DKIM(msg).verify(idx=i, dnsfunc=dnsfunc_for(stack)) for i in range(n)]


def mail_dkim_results(stack, msg):
    """Mail::DKIM's (algorithm, domain, selector, result) per signature,
    keys fetched from the dnsmasq."""
    r = subprocess.run(["perl", "-e", PERL_VERIFY, str(stack.dns.port)], input=msg,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return [tuple(line.split()) for line in r.stdout.decode().splitlines()]


def opendkim_results(stack, msg):
    """libopendkim's verdicts (opendkim -t with the keys in a file) as
    {(algorithm, selector): result}; it checks Ed25519 too."""
    d = tempfile.mkdtemp(prefix="postseal-odk-", dir=stack.tmp)
    keys, conf, path = (os.path.join(d, n) for n in ("keys", "opendkim.conf", "msg.eml"))
    with open(keys, "w") as f:
        f.writelines(f"{k.dns_name} {k.record}\n" for k in (stack.rsa, stack.ed, stack.sub))
    with open(conf, "w") as f:
        f.write(f"Mode v\nTestPublicKeys {keys}\nSyslog no\nAlwaysAddARHeader yes\n")
    with open(path, "wb") as f:
        f.write(msg)
    r = subprocess.run(["opendkim", "-x", conf, "-t", path, "-vvv"], capture_output=True,
                       text=True, timeout=60)
    out = {}
    for m in re.finditer(r"dkim=(\w+)[^;]*?header\.a=(\S+) header\.s=(\S+)", r.stdout):
        out[(m.group(2), m.group(3))] = m.group(1)
    return out


def signature_tags(msg):
    out = []
    for v in ms.header_values(msg, "DKIM-Signature"):
        tags = dict(t.strip().split("=", 1) for t in re.sub(r"\s+", "", v).split(";") if "=" in t)
        out.append(tags)
    return out


def queue_id(msg):
    m = re.search(rb"by " + AUTHSERV.encode() + rb" \(Postfix[^)]*\)\s+(?:with \S+ )?id (\w+)", msg)
    assert m, msg[:600]
    return m.group(1).decode()


def deliver(stack, send):
    """Runs send(), returns the delivered message and its decision line."""
    send()
    [dump] = stack.sink.wait_for(1)
    msg = ms.message_of(dump)
    qid = queue_id(msg)
    line = stack.milter.wait_log(rf"event=decision qid={qid} .*").group(0)
    return msg, line


def assert_both_signatures_verify(stack, msg):
    tags = signature_tags(msg)
    assert sorted(t["a"] for t in tags) == ["ed25519-sha256", "rsa-sha256"]
    assert {t["d"] for t in tags} == {"example.com"}
    assert tags[0]["bh"] == tags[1]["bh"], "one body hash for both keys"
    assert dkimpy_results(stack, msg) == [True, True]
    assert opendkim_results(stack, msg) == {("rsa-sha256", "s2026r"): "pass",
                                            ("ed25519-sha256", "s2026e"): "pass"}
    # Debian 12's Mail::DKIM (1.20230212) has no Ed25519: it says "invalid"
    # for that one, and checks the RSA signature.
    got = dict(((a, s), r) for a, d, s, r in mail_dkim_results(stack, msg))
    assert got[("rsa-sha256", "s2026r")] == "pass"
    assert got[("ed25519-sha256", "s2026e")] in ("pass", "invalid")


def swaks_msg(stack, *extra, xclient=None, sender="app@example.com"):
    args = ["--to", "bob@example.net", "--from", sender, *extra]
    if xclient:
        args += ["--xclient", xclient]
    return lambda: stack.pf.swaks(*args)


def test_authenticated_client_signed_with_rsa_and_ed25519(stack):
    # An outside address, so only the SASL login ({auth_authen}) can count.
    msg, line = deliver(stack, swaks_msg(
        stack, xclient="ADDR=192.0.2.7 NAME=client.example.net LOGIN=app@example.com"))
    assert "sign=yes reason=authenticated" in line
    assert "auth=app@example.com" in line and "keys=ex-rsa,ex-ed" in line
    assert_both_signatures_verify(stack, msg)


def test_internal_hosts_signed_ipv4_and_ipv6(stack):
    for addr in ("198.51.100.20", "IPV6:2001:db8::25"):
        msg, line = deliver(stack, swaks_msg(stack, xclient=f"ADDR={addr} NAME=app.example.net"))
        assert "sign=yes reason=internal" in line, line
        assert_both_signatures_verify(stack, msg)


def test_loopback_client_signed(stack):
    msg, line = deliver(stack, swaks_msg(stack))
    assert "sign=yes reason=internal" in line and "client=127.0.0.1" in line
    assert_both_signatures_verify(stack, msg)


def test_outside_unauthenticated_not_signed(stack):
    msg, line = deliver(stack, swaks_msg(stack, xclient="ADDR=192.0.2.7 NAME=client.example.net"))
    assert "sign=no reason=not-internal-not-authenticated" in line
    assert "client=192.0.2.7" in line
    assert ms.header_values(msg, "DKIM-Signature") == []


def test_sendmail_submission_signed(stack):
    body = (b"From: App <app@example.com>\nTo: bob@example.net\nSubject: local\n\n"
            b"submitted with sendmail\n.. a dot line\n")
    msg, line = deliver(stack, lambda: stack.pf.sendmail(body, "app@example.com",
                                                         ["bob@example.net"]))
    assert "sign=yes reason=internal" in line
    assert_both_signatures_verify(stack, msg)


def test_wildcard_rule_and_subdomain(stack):
    msg, line = deliver(stack, swaks_msg(stack, sender="news@mail.example.org",
                                         xclient="LOGIN=news@mail.example.org"))
    assert 'rule="[signing] *.example.org"' in line
    [tags] = signature_tags(msg)
    assert (tags["a"], tags["d"], tags["s"]) == ("ed25519-sha256", "example.org", "sub")
    assert dkimpy_results(stack, msg) == [True]


def test_forged_authentication_results_removed(stack):
    forged = f"Authentication-Results: {AUTHSERV.upper()}; dkim=pass header.d=example.com"
    other = "Authentication-Results: other.example.net; spf=pass smtp.mailfrom=x@example.net"
    for xclient in ("ADDR=192.0.2.7 NAME=c.example.net LOGIN=app@example.com",
                    "ADDR=192.0.2.7 NAME=c.example.net"):
        msg, line = deliver(stack, swaks_msg(stack, "--add-header", forged,
                                             "--add-header", other, xclient=xclient))
        ars = ms.header_values(msg, "Authentication-Results")
        assert not any("dkim=pass header.d=example.com" in a for a in ars), ars
        assert any("other.example.net" in a for a in ars)
        assert stack.milter.wait_log(rf"event=authres-removed qid={queue_id(msg)} count=1")
        if "LOGIN" in xclient:
            assert_both_signatures_verify(stack, msg)


@pytest.mark.parametrize("headers,reason", [
    (b"To: bob@example.net\n", "no-from"),
    (b"From: app@example.com\nFrom: other@example.com\n", "from-repeated"),
    (b"From: a@example.com, b@example.com\n", "from-unparsable"),
    (b"From: undisclosed:;\n", "from-unparsable"),
    (b"From: <app@example.com\n", "from-unparsable"),
])
def test_bad_from_not_signed_never_rejected(stack, headers, reason):
    body = headers + b"Subject: from test\n\nbody\n"
    client = {"ADDR": "192.0.2.7", "NAME": "c.example.net", "LOGIN": "app@example.com"}

    def send():
        code, text = stack.pf.smtp_send(body, "app@example.com", ["bob@example.net"],
                                        xclient=client)
        assert code == 250, text
    msg, line = deliver(stack, send)
    assert f"sign=no reason={reason}" in line
    assert ms.header_values(msg, "DKIM-Signature") == []


def test_refusal_at_end_of_headers_reaches_client(stack):
    """End of headers sends no reply (SMFIP_NR_EOH): a message with more
    header fields than can be signed is still refused, with its reason, at
    the end of DATA, and nothing of it is delivered; the connection goes on."""
    client = {"ADDR": "192.0.2.7", "NAME": "c.example.net", "LOGIN": "app@example.com"}
    many = b"".join(b"X-N: %d\n" % i for i in range(1001))
    code, text = stack.pf.smtp_send(b"From: app@example.com\n" + many +
                                    b"Subject: too many\n\nbody\n",
                                    "app@example.com", ["bob@example.net"],
                                    xclient=client)
    assert code == 552 and b"too many header fields" in text, (code, text)
    code, text = stack.pf.smtp_send(b"From: app@example.com\nSubject: after\n\nok\n",
                                    "app@example.com", ["bob@example.net"],
                                    xclient=client)
    assert code == 250, text
    [dump] = stack.sink.wait_for(1)
    assert [v.strip() for v in ms.header_values(ms.message_of(dump), "Subject")] == ["after"]


def test_message_shapes_verify(stack):
    """A handful of shapes through Postfix: folded headers, long lines,
    trailing blank lines, 8-bit body, an empty body."""
    shapes = [
        b"From: \"Folded,\n Name\" <app@example.com>\nTo: bob@example.net\n"
        b"Subject: a folded\n\tsubject  with   spaces \nX-Trailing: x   \n\n"
        b"line with trailing spaces   \n\n\n\n",
        b"From: app@example.com\nSubject: long\n\n" + b"x" * 900 + b"\n" + b"y" * 10 + b"\n",
        b"From: app@example.com\nSubject: 8bit\nMIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        b"caf\xc3\xa9 \xe2\x82\xac\n",
        b"From: app@example.com\nSubject: empty body\n\n",
    ]
    for body in shapes:
        msg, line = deliver(stack, lambda: stack.pf.smtp_send(
            body, "app@example.com", ["bob@example.net"], xclient={"LOGIN": "app@example.com"}))
        assert "sign=yes" in line
        assert_both_signatures_verify(stack, msg)


def test_opendkim_tables(stack):
    kt = os.path.join(stack.tmp, "KeyTable")
    st = os.path.join(stack.tmp, "SigningTable")
    with open(kt, "w") as f:
        f.write(f"# migrated from opendkim\nodk-rsa example.com:s2026r:{stack.rsa.path}\n"
                f"odk-ed example.com:s2026e:{stack.ed.path}\n")
    with open(st, "w") as f:
        f.write("*@example.com odk-rsa\n*@example.com odk-ed\n")
    stack.write_conf(signing={"*.example.org": "org-sub"},
                     milter_extra={"keytable": kt, "signingtable": f"refile:{st}"})
    try:
        mark = len(stack.milter.log())
        stack.milter.signal(signal.SIGHUP)
        stack.milter.wait_log(r"event=reload result=ok keys=5", after=mark)
        msg, line = deliver(stack, swaks_msg(stack, xclient="LOGIN=app@example.com"))
        assert 'rule="SigningTable:1 *@example.com"' in line
        assert "keys=odk-rsa,odk-ed" in line
        assert_both_signatures_verify(stack, msg)
    finally:
        stack.write_conf()
        mark = len(stack.milter.log())
        stack.milter.signal(signal.SIGHUP)
        stack.milter.wait_log(r"event=reload result=ok", after=mark)


def test_configured_canonicalization_headers_and_expiry(stack):
    """[milter] canonicalization, sign_headers, oversign_headers (empty:
    none) and signature_expire reach the signature, which still verifies."""
    stack.write_conf(milter_extra={
        "canonicalization": "simple/simple", "sign_headers": "From, Subject, X-Custom",
        "oversign_headers": "", "signature_expire": "2h", "max_verify": "3"})
    try:
        mark = len(stack.milter.log())
        stack.milter.signal(signal.SIGHUP)
        stack.milter.wait_log(r"event=reload result=ok", after=mark)
        msg, line = deliver(stack, swaks_msg(stack, "--add-header", "X-Custom: kept as is",
                                             xclient="LOGIN=app@example.com"))
        assert "sign=yes" in line
        tags = signature_tags(msg)
        assert len(tags) == 2
        for t in tags:
            assert t["c"] == "simple/simple"
            assert t["h"] == "From:Subject:X-Custom", t["h"]  # no To, nothing oversigned
            assert int(t["x"]) - int(t["t"]) == 7200
        assert dkimpy_results(stack, msg) == [True, True]
        assert opendkim_results(stack, msg) == {("rsa-sha256", "s2026r"): "pass",
                                                ("ed25519-sha256", "s2026e"): "pass"}
    finally:
        stack.write_conf()
        mark = len(stack.milter.log())
        stack.milter.signal(signal.SIGHUP)
        stack.milter.wait_log(r"event=reload result=ok", after=mark)


def test_sighup_reload_and_bad_reload_kept(stack):
    # A rule for a new domain takes effect without a restart ...
    extra = ms.DkimKey(stack.tmp, "new", "ed25519", domain="example.com")
    stack.write_conf(signing={"example.com": "ex-rsa, ex-ed", "example.net": "new-ed"},
                     extra_keys={"new-ed": f"example.net new {extra.path}"})
    try:
        mark = len(stack.milter.log())
        stack.milter.signal(signal.SIGHUP)
        stack.milter.wait_log(r"event=reload result=ok keys=4", after=mark)
        msg, line = deliver(stack, swaks_msg(stack, sender="x@example.net",
                                             xclient="LOGIN=x@example.net"))
        assert 'rule="[signing] example.net"' in line
        # ... and a broken file is refused: the previous rules stay.
        with open(stack.conf, "a") as f:
            f.write("[signing]\nbroken line\n")
        mark = len(stack.milter.log())
        stack.milter.signal(signal.SIGHUP)
        stack.milter.wait_log(r"event=reload result=failed reason=.*postseal.conf:\d+",
                              after=mark)
        msg, line = deliver(stack, swaks_msg(stack, sender="x@example.net",
                                             xclient="LOGIN=x@example.net"))
        assert "sign=yes" in line
    finally:
        stack.write_conf()
        mark = len(stack.milter.log())
        stack.milter.signal(signal.SIGHUP)
        stack.milter.wait_log(r"event=reload result=ok", after=mark)


def test_check_mode(stack, tmp_path):
    r = subprocess.run([MILTER, "-n", "-c", stack.conf], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text(open(stack.conf).read().replace(stack.ed.path, "/nonexistent/key.pem"))
    r = subprocess.run([MILTER, "-n", "-c", str(bad)], capture_output=True, text=True)
    assert r.returncode != 0
    line = [i for i, l in enumerate(bad.read_text().splitlines(), 1) if "/nonexistent" in l][0]
    assert f"{bad}:{line}:" in r.stderr, r.stderr
    r = subprocess.run([MILTER, "-x"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr


def _session_up_to_data(stack):
    """An SMTP session of an authenticated client, MAIL FROM and RCPT TO
    given: DATA is next."""
    c = smtplib.SMTP("127.0.0.1", stack.pf.port, local_hostname="c.example.net")
    c.ehlo()
    c.docmd("XCLIENT", "LOGIN=app@example.com")
    c.ehlo("c.example.net")
    c.mail("app@example.com")
    c.rcpt("bob@example.net")
    return c


def test_sigterm_drains_message_in_flight(tmp_path):
    """SIGTERM stops new connections but lets a message the milter already
    has finish, signed; then the milter exits 0. Postfix hands the message
    over (with its connection and MAIL FROM, which need no answer) at DATA,
    when no recipient step is asked for: the signal comes after 354."""
    os.chmod(tmp_path, 0o755)
    s = Stack(str(tmp_path))
    try:
        with _session_up_to_data(s) as c:
            c.putcmd("data")
            assert c.getreply()[0] == 354
            s.milter.signal(signal.SIGTERM)
            s.milter.wait_log(r"event=stop reason=SIGTERM")
            assert s.milter.proc.poll() is None, "exited with a message in flight"
            c.send(b"From: app@example.com\r\nSubject: drain\r\n\r\nlast one\r\n.\r\n")
            assert c.getreply()[0] == 250
        [dump] = s.sink.wait_for(1)
        msg = ms.message_of(dump)
        assert_both_signatures_verify(s, msg)
        assert s.milter.stop(timeout=20) == 0
        assert "event=stopped messages_in_flight=0" in s.milter.log()
    finally:
        s.close()


def test_sigterm_before_data_defers_the_message(tmp_path):
    """A message Postfix has not yet handed over (MAIL FROM and RCPT TO
    given, DATA not) is not waited for: the milter exits, and Postfix
    answers DATA with a temporary failure (milter_default_action =
    tempfail), so the client retries; nothing passes unsigned."""
    os.chmod(tmp_path, 0o755)
    s = Stack(str(tmp_path))
    try:
        with _session_up_to_data(s) as c:
            s.milter.signal(signal.SIGTERM)
            assert s.milter.proc.wait(timeout=30) == 0
            assert "event=stopped messages_in_flight=0" in s.milter.log()
            with pytest.raises(smtplib.SMTPResponseException) as e:
                c.data(b"From: app@example.com\r\nSubject: late\r\n\r\nnot signed\r\n")
            assert 400 <= e.value.smtp_code < 500, e.value
        assert s.sink.files() == []
    finally:
        s.close()


def _thread_syscalls(pid):
    """{tid: syscall number} of every thread of pid, from /proc."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                first = f.read().split()[0]
        except (OSError, IndexError):
            continue
        if first.isdigit():
            out[int(tid)] = int(first)
    return out


def test_only_main_thread_takes_signals(stack):
    """libmilter's own signal thread stops the milter on SIGHUP or SIGTERM;
    it must never be the one that takes them. It sleeps in pause()
    (syscall 34) and only the main thread waits for signals
    (rt_sigtimedwait, 128)."""
    pid = stack.milter.proc.pid
    calls = {}
    for _ in range(200):
        calls = _thread_syscalls(pid)
        if 34 in calls.values() and 128 in calls.values():
            break
        time.sleep(0.05)
    assert 34 in calls.values(), f"no thread parked in pause(): {calls}"
    waiters = [tid for tid, nr in calls.items() if nr == 128]
    assert waiters == [pid], f"threads waiting for signals: {waiters} (main {pid})"


def test_sighup_burst_reloads_never_stops(stack):
    """Reload signals sent faster than reloads finish: each lands on the
    main thread (a reload), none stops the milter."""
    mark = len(stack.milter.log())
    for _ in range(50):
        stack.milter.signal(signal.SIGHUP)
    stack.milter.wait_log(r"event=reload result=ok", after=mark)
    msg, line = deliver(stack, swaks_msg(stack, xclient="LOGIN=app@example.com"))
    assert "sign=yes" in line
    assert stack.milter.proc.poll() is None
    assert "event=stop" not in stack.milter.log()[mark:]
