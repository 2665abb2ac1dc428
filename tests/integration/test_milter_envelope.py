"""postseal-milter's envelope work through a real Postfix and smtp-sink:
signed return paths on outbound mail, bounces to them turned into events
(a DSN Postfix itself wrote, and the Exim, Gmail and Microsoft texts), SRS
for forwarded mail only, and SRS addresses reversed to the original sender.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_milter_envelope.py
"""

import email
import json
import os
import pwd
import re
import signal
import smtplib
import subprocess
import time

import pytest

import mailstack as ms
from test_srs_interop import perl_srs

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")
CLI = os.path.join(BUILD, "postseal")
RP = "rp.example.com"
RP_NET = "bounces.example.net"   # example.net's own bounce domain
FWD = "fwd.example.com"
OUTSIDE = {"ADDR": "203.0.113.9", "NAME": "[UNAVAILABLE]"}
GONE = "gone.example.test"      # its MX (a second smtp-sink) refuses every RCPT
HOSTED = "hosted.example.test"  # delivered here, by virtual(8)

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK), reason="postseal-milter not built")


def secret_file(path, *lines):
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    os.chmod(path, 0o600)
    return path


class Stack:
    def __init__(self, tmp):
        self.tmp = tmp
        self.rp_secret = secret_file(os.path.join(tmp, "retpath.secrets"), "n3w", "k1")
        self.srs_secret = secret_file(os.path.join(tmp, "srs.secrets"), "tops3cr3t")
        self.events = os.path.join(tmp, "bounces.jsonl")
        self.key = ms.DkimKey(tmp, "s2026e", "ed25519")
        self.port = ms.free_port()
        self.conf = os.path.join(tmp, "postseal.conf")
        self.write_conf()
        self.milter = ms.Daemon([MILTER, "-f", "-c", self.conf], port=self.port)
        self.sink = ms.SmtpSink()
        self.refuser_port = ms.free_port()
        self.refuser = subprocess.Popen([ms.SMTP_SINK, "-u", "postfix", "-f", "RCPT", f"127.0.0.1:{self.refuser_port}",
                                         "8"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ms.wait_port(self.refuser_port)
        vmail = os.path.join(tmp, "vmail")
        os.mkdir(vmail)
        pw = pwd.getpwnam("postfix")
        os.chown(vmail, pw.pw_uid, pw.pw_gid)
        self.vmail = os.path.join(vmail, "hosted")
        self.pf = ms.PostfixInstance(self.sink, milter=f"inet:127.0.0.1:{self.port}", main={
            "transport_maps": f"inline:{{{GONE}=smtp:[127.0.0.1]:{self.refuser_port}}}",
            "virtual_mailbox_domains": HOSTED,
            "virtual_mailbox_base": vmail,
            "virtual_mailbox_maps": "static:hosted/",
            "virtual_uid_maps": f"static:{pw.pw_uid}",
            "virtual_gid_maps": f"static:{pw.pw_gid}",
            "virtual_minimum_uid": "1",
        }, master="virtual   unix  -       n       n       -       -       virtual\n")

    def write_conf(self, discard="no", events=None):
        ms.write_ini(self.conf, {
            "milter": {"socket": f"inet:{self.port}@127.0.0.1", "mode": "sign",
                       "internal_hosts": "127.0.0.0/8", "authserv_id": "mx.example.com"},
            "keys": {"own": f"example.com s2026e {self.key.path}"},
            "signing": {"example.com": "own"},
            "return_path": {"domain": RP, "secret_file": self.rp_secret,
                            "rewrite": f"example.com, *.example.org, example.net={RP_NET}",
                            "events": events or self.events, "discard_bounces": discard,
                            "srs_domain": FWD, "srs_secret_file": self.srs_secret},
        })

    def reload(self, discard="no", events=None):
        self.write_conf(discard, events)
        mark = len(self.milter.log())
        self.milter.signal(signal.SIGHUP)
        self.milter.wait_log(r"reload result=ok", after=mark)

    def events_lines(self):
        try:
            with open(self.events) as f:
                return [json.loads(line) for line in f]
        except FileNotFoundError:
            return []

    def close(self):
        report = ms.shutdown(self.pf, self.sink, self.milter)
        ms._terminate(self.refuser)
        assert report is None, report


@pytest.fixture(scope="module")
def stack():
    with ms.running(Stack, "postseal-envelope-") as s:
        yield s


def message(sender, to, subject="hello"):
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{time.time_ns()}@example.com>\r\n\r\nbody\r\n").encode()


def sink_envelope(stack):
    env = ms.envelope_of(stack.sink.wait_for(1)[0])
    mail = env["mail"].split(" ")[0].strip("<>")
    rcpts = sorted(r.split(" ")[0].strip("<>") for r in env["rcpt"])
    return mail, rcpts


def decode(stack, addr, domain=RP):
    return subprocess.run([CLI, "retpath", "decode", "--secret-file", stack.rp_secret,
                           "--domain", domain, addr], capture_output=True, text=True)


def srs_reverse(stack, addr):
    return subprocess.run([CLI, "srs", "reverse", "--secret-file", stack.srs_secret,
                           "--domain", FWD, addr], capture_output=True, text=True)


def milter_qid(stack, addr):
    """The queue id the milter logged when it gave addr as return path."""
    m = stack.milter.wait_log(r"return-path qid=(\S+) .*to=" + re.escape(addr))
    return m.group(1)


def send_outbound(stack, sender, rcpts, login="app@example.com"):
    code, text = stack.pf.smtp_send(message(sender, rcpts[0]), sender, rcpts,
                                    xclient={"LOGIN": login})
    assert code == 250, text
    return sink_envelope(stack)


# ---- return paths -----------------------------------------------------------

@pytest.mark.parametrize("sender", ["app@example.com", "news@mail.example.org"])
def test_outbound_gets_signed_return_path(stack, sender):
    mail, rcpts = send_outbound(stack, sender, ["user@remote.example"])
    assert rcpts == ["user@remote.example"]
    local, _, domain = mail.partition("@")
    assert domain == RP and local.startswith("b.") and len(local) <= 64, mail
    r = decode(stack, mail)
    assert r.returncode == 0, r.stderr
    qid = milter_qid(stack, mail)
    assert f"ref={qid}" in r.stdout, (r.stdout, qid)
    # the reference is Postfix's own queue id for this message
    stack.pf.wait_log(re.escape(qid) + r": from=<" + re.escape(mail) + ">")


def test_per_domain_bounce_domain(stack):
    """example.net has its own bounce domain (SPF-aligned return paths);
    a token is bound to its domain, so it does not verify on another."""
    mail, _ = send_outbound(stack, "app@example.net", ["user@remote.example"])
    local, _, domain = mail.partition("@")
    assert domain == RP_NET, mail
    r = decode(stack, mail, RP_NET)
    assert r.returncode == 0, r.stderr
    before = len(stack.events_lines())
    raw = "To: " + mail + "\r\n" + TEXT_BOUNCES["gmail"][1].format(rcpt="user@remote.example")
    code, text = bounce_in(stack, mail, raw.encode())
    assert code == 250, text
    ev = new_events(stack, before, 1)
    assert [e["recipient"] for e in ev] == ["user@remote.example"]
    stack.sink.wait_for(1)
    with smtplib.SMTP("127.0.0.1", stack.pf.port, timeout=60) as s:
        s.ehlo("mx.remote.example")
        s.mail("<>")
        code, text = s.rcpt(local + "@" + RP)
    assert code == 550 and b"does not verify" in text, (code, text)


@pytest.mark.parametrize("sender,xclient", [
    ("app@other.example", {"LOGIN": "app@example.com"}),  # domain not in rewrite
    ("app@example.com", OUTSIDE),                          # not our client
    ("<>", {"LOGIN": "app@example.com"}),                  # null sender stays
])
def test_return_path_left_alone(stack, sender, xclient):
    code, text = stack.pf.smtp_send(message("a@example.com", "u@remote.example"), sender,
                                    ["u@remote.example"], xclient=xclient)
    assert code == 250, text
    mail, _ = sink_envelope(stack)
    assert mail == sender.strip("<>"), mail


# ---- bounces ----------------------------------------------------------------

def bounce_in(stack, rp_addr, raw):
    """Sends a bounce for rp_addr into Postfix as a remote MTA would."""
    code, text = stack.pf.smtp_send(raw, "<>", [rp_addr], xclient=OUTSIDE)
    return code, text


def new_events(stack, before, count, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ev = stack.events_lines()[before:]
        if len(ev) >= count:
            return ev
        time.sleep(0.1)
    return stack.events_lines()[before:]


def test_postfix_dsn_becomes_one_event(stack):
    """Postfix bounces the mail (the next hop refused the recipient) to the
    return path we gave it; that real RFC 3464 DSN, sent back in, gives one event."""
    sender = "app@example.com"
    code, text = stack.pf.smtp_send(message(sender, f"nobody@{GONE}"), sender,
                                    [f"nobody@{GONE}"], xclient={"LOGIN": sender})
    assert code == 250, text
    dump = stack.sink.wait_for(1)[0]
    mail, rcpts = ms.envelope_of(dump)["mail"], ms.envelope_of(dump)["rcpt"]
    rp_addr = rcpts[0].split(" ")[0].strip("<>")
    assert mail.split(" ")[0] in ("<>", ""), mail  # the bounce Postfix made
    assert rp_addr.endswith("@" + RP), rp_addr
    dsn = ms.message_of(dump)
    parsed = email.message_from_bytes(dsn)
    assert parsed.get_content_type() == "multipart/report"
    status = [p for p in parsed.walk() if p.get_content_type() == "message/delivery-status"]
    want_status = re.search(rb"Status: (\d\.\d+\.\d+)", status[0].as_bytes()).group(1).decode()
    ref = re.search(r"ref=(\S+)", decode(stack, rp_addr).stdout).group(1)

    before = len(stack.events_lines())
    code, text = bounce_in(stack, rp_addr, dsn)
    assert code == 250, text
    ev = new_events(stack, before, 1)
    assert len(ev) == 1, ev
    assert ev[0]["event"] == "bounce" and ev[0]["source"] == "rfc3464"
    assert ev[0]["ref"] == ref
    assert ev[0]["recipient"] == f"nobody@{GONE}"
    assert ev[0]["status"] == want_status and ev[0]["action"] == "failed"
    stack.sink.wait_for(1)  # delivered on as well (discard_bounces = no)
    time.sleep(1)
    assert len(stack.events_lines()) == before + 1


TEXT_BOUNCES = {
    "exim": ("exim", "From: Mail Delivery System <Mailer-Daemon@mx.remote.example>\r\n"
             "Subject: Mail delivery failed: returning message to sender\r\n\r\n"
             "This message was created automatically by mail delivery software.\r\n\r\n"
             "A message that you sent could not be delivered to one or more of its\r\n"
             "recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
             "  {rcpt}\r\n    host mx.remote.example [192.0.2.9]\r\n"
             "    SMTP error from remote mail server after RCPT TO:<{rcpt}>:\r\n"
             "    550 5.1.1 User unknown\r\n"),
    "gmail": ("gmail", "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
              "Subject: Delivery Status Notification (Failure)\r\n\r\n"
              "** Address not found **\r\n\r\n"
              "Your message wasn't delivered to {rcpt} because the address couldn't be "
              "found, or is unable to receive mail.\r\n\r\n"
              "The response from the remote server was:\r\n"
              "550 5.1.1 The email account that you tried to reach does not exist.\r\n"),
    "microsoft": ("microsoft", "From: postmaster@outlook.com\r\nSubject: Undeliverable: hello\r\n\r\n"
                  "Delivery has failed to these recipients or groups:\r\n\r\n"
                  "{rcpt} ({rcpt})\r\nThe email address you entered couldn't be found.\r\n\r\n"
                  "Diagnostic information for administrators:\r\n\r\n"
                  "Generating server: BN6PR.namprd.prod.outlook.com\r\n\r\n{rcpt}\r\n"
                  "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
                  "Recipient not found by SMTP address lookup'\r\n"),
}


@pytest.mark.parametrize("kind", sorted(TEXT_BOUNCES))
def test_text_bounces_become_events(stack, kind):
    mail, _ = send_outbound(stack, "app@example.com", [f"{kind}@remote.example"])
    source, text = TEXT_BOUNCES[kind]
    rcpt = f"{kind}@remote.example"  # a recipient the message had
    before = len(stack.events_lines())
    code, reply = bounce_in(stack, mail, ("To: " + mail + "\r\n" + text.format(rcpt=rcpt)).encode())
    assert code == 250, reply
    ev = new_events(stack, before, 1)
    assert len(ev) == 1, ev
    assert ev[0]["source"] == source and ev[0]["recipient"] == rcpt
    assert ev[0]["status"].startswith("5.1.1"), ev[0]
    assert ev[0]["ref"] == re.search(r"ref=(\S+)", decode(stack, mail).stdout).group(1)
    stack.sink.wait_for(1)


@pytest.mark.parametrize("what", ["tampered", "expired", "other-secret"])
def test_bad_bounce_refused_without_event(stack, what):
    mail, _ = send_outbound(stack, "app@example.com", ["x@remote.example"])
    local, _, dom = mail.partition("@")
    if what == "tampered":
        addr = local[:-1] + ("a" if local[-1] != "a" else "b") + "@" + dom
    else:
        ref = re.search(r"ref=(\S+)", decode(stack, mail).stdout).group(1)
        secret = stack.rp_secret if what == "expired" else \
            secret_file(os.path.join(stack.tmp, "other.secrets"), "not-ours")
        args = [CLI, "retpath", "encode", "--secret-file", secret, "--domain", RP, ref]
        if what == "expired":
            args[3:3] = ["--time", str(int(time.time()) - 8 * 86400)]
        addr = subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    before = len(stack.events_lines())
    with smtplib.SMTP("127.0.0.1", stack.pf.port, timeout=60) as s:
        s.ehlo("mx.remote.example")
        s.mail("<>")
        code, text = s.rcpt(addr)
    assert code == 550, (code, text)
    time.sleep(0.5)
    assert len(stack.events_lines()) == before


def test_discard_bounces(stack):
    mail, _ = send_outbound(stack, "app@example.com", ["d@remote.example"])
    stack.reload("yes")
    try:
        before = len(stack.events_lines())
        raw = ("To: " + mail + "\r\n" + TEXT_BOUNCES["gmail"][1].format(rcpt="d@remote.example"))
        code, text = bounce_in(stack, mail, raw.encode())
        assert code == 250, text
        assert len(new_events(stack, before, 1)) == 1
        stack.milter.wait_log(r"discarded qid=\S+ reason=bounce-recorded")
        with pytest.raises(TimeoutError):
            stack.sink.wait_for(1, timeout=3)
    finally:
        stack.reload("no")


def test_unwritable_events_file_defers_the_bounce(stack, tmp_path):
    """No event can be written: the bounce gets a 4xx, so the sending MTA
    keeps it and retries; nothing is lost. A reload naming a directory that
    does not exist is refused outright (the check start runs); one that
    goes away after the reload is met at the bounce."""
    mail, _ = send_outbound(stack, "app@example.com", ["w@remote.example"])
    stack.write_conf("no", "/nonexistent-postseal-dir/bounces.jsonl")
    mark = len(stack.milter.log())
    stack.milter.signal(signal.SIGHUP)
    stack.milter.wait_log(r"reload result=failed reason=\S+:\d+: events "
                          r"/nonexistent-postseal-dir/bounces.jsonl: directory", after=mark)
    gone = tmp_path / "gone"
    gone.mkdir()
    stack.reload(events=str(gone / "bounces.jsonl"))
    gone.rmdir()
    try:
        raw = ("To: " + mail + "\r\n" + TEXT_BOUNCES["gmail"][1].format(rcpt="w@remote.example"))
        code, text = bounce_in(stack, mail, raw.encode())
        assert 400 <= code < 500, (code, text)
        stack.milter.wait_log(r"error qid=\S+ stage=bounce reason=.*gone/(bounces.jsonl|sent)")
    finally:
        stack.reload()


# ---- SRS ----------------------------------------------------------------------

def forward(stack, sender, rcpts):
    code, text = stack.pf.smtp_send(message(sender, rcpts[0]), sender, rcpts, xclient=OUTSIDE)
    assert code == 250, text


def test_forwarded_mail_gets_srs(stack):
    forward(stack, "someone@remote.example", ["friend@elsewhere.example"])
    mail, _ = sink_envelope(stack)
    assert mail.startswith("SRS0=") and mail.endswith("@" + FWD), mail
    r = srs_reverse(stack, mail)
    assert (r.returncode, r.stdout.strip()) == (0, "someone@remote.example"), r.stderr
    # Mail::SRS, nobody here wrote it, agrees
    theirs = perl_srs("reverse", mail, t=int(time.time()), secret="tops3cr3t")
    assert theirs.stdout.strip() == "someone@remote.example", theirs.stderr


def test_srs1_for_srs_sender(stack):
    hop = perl_srs("forward", "orig@first.example", t=int(time.time()),
                   secret="other-forwarder", alias="hop1.example").stdout.strip()
    assert hop.startswith("SRS0="), hop
    forward(stack, hop, ["friend@elsewhere.example"])
    mail, _ = sink_envelope(stack)
    assert mail.startswith("SRS1=") and mail.endswith("@" + FWD), mail
    assert srs_reverse(stack, mail).stdout.strip() == hop


def test_local_only_mail_keeps_sender(stack):
    forward(stack, "someone@remote.example", [f"box@{HOSTED}"])
    path = os.path.join(stack.vmail, "new")
    end = time.monotonic() + 30
    while time.monotonic() < end and not (os.path.isdir(path) and os.listdir(path)):
        time.sleep(0.1)
    files = sorted(os.listdir(path), key=lambda f: os.path.getmtime(os.path.join(path, f)))
    head = open(os.path.join(path, files[-1]), "rb").read().split(b"\n", 1)[0]
    assert head == b"Return-Path: <someone@remote.example>", head


def test_mixed_recipients_rewritten(stack):
    forward(stack, "someone@remote.example", [f"box@{HOSTED}", "friend@elsewhere.example"])
    mail, rcpts = sink_envelope(stack)
    assert rcpts == ["friend@elsewhere.example"]
    assert mail.startswith("SRS0="), mail


@pytest.mark.parametrize("sender", ["news@example.com", "x@" + FWD])
def test_our_senders_not_srs(stack, sender):
    forward(stack, sender, ["friend@elsewhere.example"])
    mail, _ = sink_envelope(stack)
    assert mail == sender


def test_bounce_to_srs_goes_back(stack):
    forward(stack, "orig.sender@remote.example", ["friend@elsewhere.example"])
    srs_addr, _ = sink_envelope(stack)
    code, text = stack.pf.smtp_send(b"Subject: bounce\r\n\r\nno\r\n", "<>",
                                    [srs_addr, "also@elsewhere.example"], xclient=OUTSIDE)
    assert code == 250, text
    mail, rcpts = sink_envelope(stack)
    assert mail == ""
    assert rcpts == ["also@elsewhere.example", "orig.sender@remote.example"]


@pytest.mark.parametrize("what", ["tampered", "expired", "not-srs-hash"])
def test_bad_srs_refused(stack, what):
    good = subprocess.run([CLI, "srs", "forward", "--secret-file", stack.srs_secret, "--domain",
                           FWD, "a@remote.example"], capture_output=True, text=True,
                          check=True).stdout.strip()
    if what == "tampered":
        addr = good.replace("=a@", "=b@")
    elif what == "expired":
        addr = subprocess.run([CLI, "srs", "forward", "--secret-file", stack.srs_secret,
                               "--domain", FWD, "--time", str(int(time.time()) - 30 * 86400),
                               "a@remote.example"], capture_output=True, text=True,
                              check=True).stdout.strip()
    else:
        addr = "SRS0=zzzz=AA=remote.example=a@" + FWD
    with smtplib.SMTP("127.0.0.1", stack.pf.port, timeout=60) as s:
        s.ehlo("mx.remote.example")
        s.mail("<>")
        code, text = s.rcpt(addr)
        assert code == 550 and text.startswith(b"5.1.1"), (code, text)
        assert s.rcpt("ok@elsewhere.example")[0] == 250
