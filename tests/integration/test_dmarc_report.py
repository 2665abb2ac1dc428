"""DMARC aggregate reports end to end: messages through a real Postfix and
postseal-milter (verify mode, DMARC enforced, [milter] dmarc_history),
policies published by a dnsmasq on loopback; then `postseal dmarc report
--send` hands each report to a sendmail stand-in that stores what it is
given (the MTA boundary). Each stored message is read by an independent
receiver, Mail::DMARC::Report::Receive (MIME, gunzip, XPath), and its XML
validated by xmllint against RFC 7489 appendix C's schema. The counts,
dispositions, override reasons and per-source results must be what was
sent; an external rua= without its _report._dmarc authorisation record,
and one whose !size limit the report exceeds, get nothing; a domain
without rua= gets no report. A history directory the milter cannot
write loses the record, never the message."""

import collections
import email
import glob
import gzip
import json
import os
import re
import smtplib
import subprocess

import dkim
import pytest

import mailstack as ms

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(HERE, "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")
CLI = os.path.join(BUILD, "postseal")
XSD = os.path.join(HERE, "../vectors/dmarc/rfc7489-appendix-c.xsd")
ORACLE = os.path.join(HERE, "dmarc_report_receive.pl")
AUTHSERV = "mx.example.test"
GOOD = {"ADDR": "192.0.2.7", "NAME": "mail.ext.example"}
SPOOFER = {"ADDR": "198.51.100.9", "NAME": "spoofer.example"}
FORWARDER = {"ADDR": "203.0.113.5", "NAME": "list.example"}
NULLSENDER = {"ADDR": "198.51.100.20", "NAME": "helo.example"}

pytestmark = pytest.mark.skipif(
    not (os.access(MILTER, os.X_OK) and os.access(CLI, os.X_OK)),
    reason="postseal-milter or postseal not built")

FAKE_SENDMAIL = """#!/bin/sh
# The MTA boundary: keeps each message and its arguments.
d={out}
n=$(ls "$d" | wc -l)
printf '%s\\n' "$@" > "$d/$n.args"
cat > "$d/$n.eml"
"""


class QuotedDnsmasq(ms.Dnsmasq):
    """ms.Dnsmasq, its TXT records given in a configuration file as quoted
    strings: on the command line dnsmasq splits text at every comma, and
    rua= lists are comma-separated."""

    def __init__(self, tmp, txt):
        self.port = ms.free_port()
        conf = os.path.join(tmp, "dnsmasq.conf")
        with open(conf, "w") as f:
            for name, value in txt.items():
                parts = [value[i:i + 255] for i in range(0, len(value), 255)]
                f.write(f"txt-record={name}," + ",".join(f'"{p}"' for p in parts) + "\n")
        self.proc = subprocess.Popen(
            [ms.DNSMASQ, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
             "--bind-interfaces", "--listen-address=127.0.0.1", f"--port={self.port}",
             "--log-facility=-", "--user=root", "--pid-file=", f"--conf-file={conf}",
             "--local=/#/"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ms.wait_port(self.port)


class Stack:
    def __init__(self, tmp, history):
        self.tmp = tmp
        self.history = history
        self.rsa = ms.DkimKey(tmp, "sel", "rsa", domain="ext.example")
        self.dns = QuotedDnsmasq(tmp, {
            self.rsa.dns_name: self.rsa.record,
            "ext.example": "v=spf1 ip4:192.0.2.0/24 -all",
            "mail.ext.example": "v=spf1 ip4:192.0.2.0/24 -all",
            "_dmarc.ext.example": "v=DMARC1; p=reject; rua=mailto:agg@ext.example,"
                                  "mailto:agg@thirdparty.example,mailto:agg@ok3rd.example",
            "ext.example._report._dmarc.ok3rd.example": "v=DMARC1",
            "_dmarc.q.example": "v=DMARC1; p=quarantine; sp=none; adkim=s; fo=d:s; "
                                "rua=mailto:small@q.example!200,mailto:big@q.example!1m",
            "_dmarc.norua.example": "v=DMARC1; p=reject",
        })
        self.port = ms.free_port()
        milter = {
            "socket": f"inet:{self.port}@127.0.0.1",
            "mode": "verify",
            "authserv_id": AUTHSERV,
            "resolver": self.dns.resolver,
            "dmarc_trusted_forwarders": "203.0.113.0/24",
            "dmarc_enforce": "yes",
            "dmarc_history": history,
        }
        self.conf = ms.write_ini(os.path.join(tmp, "postseal.conf"), {
            "milter": milter,
            "dmarc_report": {"org_name": "Test Receiver", "email": "dmarc-reports@rx.example"},
        })
        self.milter = ms.Daemon([MILTER, "-f", "-c", self.conf], port=self.port)
        self.sink = ms.SmtpSink()
        self.pf = ms.PostfixInstance(self.sink, milter=f"inet:127.0.0.1:{self.port}",
                                     hostname=AUTHSERV,
                                     main={"local_header_rewrite_clients": ""})

    def close(self):
        report = ms.shutdown(self.pf, self.sink, self.milter, self.dns)
        assert report is None, report


def message(frm, subject):
    return (b"From: " + frm.encode() + b"\r\nTo: bob@example.com\r\nSubject: " +
            subject.encode() + b"\r\nMessage-ID: <" + subject.replace(" ", ".").encode() +
            b"@test>\r\n\r\nHello.\r\n")


def signed(stack, msg):
    key = stack.rsa
    return dkim.sign(msg, key.selector.encode(), key.domain.encode(), key.dkimpy_private) + msg


def send(stack, msg, sender, client):
    try:
        code, _ = stack.pf.smtp_send(msg, sender, ["bob@example.com"], xclient=client,
                                     helo=client["NAME"])
    except smtplib.SMTPDataError as e:
        code = e.smtp_code
    return code


# What the test sends: (name, client, From, MAIL FROM, DKIM-signed, count,
# the SMTP answer the milter's enforcement gives).
TRAFFIC = [
    ("aligned", GOOD, "news@ext.example", "bounces@ext.example", True, 3, 250),
    ("spoof", SPOOFER, "ceo@ext.example", "x@attacker.example", False, 2, 550),
    ("forwarded", FORWARDER, "ceo@ext.example", "list-bounces@list.example", False, 1, 250),
    ("null sender spoof", NULLSENDER, "ceo@ext.example", "", False, 1, 550),
    ("quarantined", SPOOFER, "a@q.example", "x@attacker.example", False, 2, 250),
    ("no rua", SPOOFER, "a@norua.example", "x@attacker.example", False, 1, 550),
]


@pytest.fixture(scope="module")
def stack():
    def make(tmp):
        return Stack(tmp, os.path.join(tmp, "dmarc-history"))
    with ms.running(make, "postseal-dmrep-") as s:
        for name, client, frm, sender, sign, count, want in TRAFFIC:
            for i in range(count):
                msg = message(frm, f"{name} {i}")
                if sign:
                    msg = signed(s, msg)
                assert send(s, msg, sender, client) == want, name
        s.milter.wait_log(r"a@norua\.example|domain=norua\.example")
        yield s


def run_report(stack, *args):
    return subprocess.run([CLI, "dmarc", "report", "-c", stack.conf, *args],
                          capture_output=True, text=True, timeout=120)


def days(stack):
    """The days the history holds (normally one; two if the run crossed
    midnight UTC): every report is asked for each of them."""
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(stack.history, "*")))


@pytest.fixture(scope="module")
def sent(stack):
    out = os.path.join(stack.tmp, "outbox")
    os.mkdir(out)
    fake = os.path.join(stack.tmp, "fake-sendmail")
    with open(fake, "w") as f:
        f.write(FAKE_SENDMAIL.format(out=out))
    os.chmod(fake, 0o755)
    results = []
    for day in days(stack):
        r = run_report(stack, "--send", "--day", day, "--sendmail", fake)
        assert r.returncode == 0, r.stderr
        results.append(r)
    mails = []
    for path in sorted(glob.glob(os.path.join(out, "*.eml"))):
        args = open(path[:-4] + ".args").read().split()
        mails.append((path, args, open(path, "rb").read()))
    return results, mails


def recipient(raw):
    return email.message_from_bytes(raw)["To"].strip("<>")


def attachment(raw):
    msg = email.message_from_bytes(raw)
    [part] = [p for p in msg.walk() if p.get_content_type() == "application/gzip"]
    return part.get_filename(), gzip.decompress(part.get_payload(decode=True))


def oracle(path):
    r = subprocess.run(["perl", ORACLE, path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_history_has_one_record_per_evaluated_message(stack):
    lines = []
    for day in days(stack):
        lines += open(os.path.join(stack.history, day)).read().splitlines()
    assert len(lines) == sum(t[5] for t in TRAFFIC)
    assert all(line.startswith("D1 ") for line in lines)
    assert oct(os.stat(stack.history).st_mode & 0o777) == "0o750"


def test_reports_go_to_authorised_addresses_within_their_limit(sent):
    results, mails = sent
    to = collections.Counter(recipient(raw) for _, _, raw in mails)
    ndays = len(results)
    # ext.example: its own address and the authorised third party; q.example:
    # only the address whose !size limit the report fits.
    assert set(to) == {"agg@ext.example", "agg@ok3rd.example", "big@q.example"}, to
    assert all(n <= ndays for n in to.values()), to
    assert all(args == ["-t", "-oi"] for _, args, _ in mails)
    stderr = "".join(r.stderr for r in results)
    assert re.search(r"ext\.example: not sent to agg@thirdparty\.example: another "
                     r"organization's address without the _report._dmarc record", stderr), stderr
    assert re.search(r"q\.example: not sent to small@q\.example: \d+ bytes, over its "
                     r"limit of 200", stderr), stderr
    assert "norua" not in "".join(r.stdout for r in results) + "".join(
        raw.decode() for _, _, raw in mails)


def test_file_name_and_subject_follow_rfc7489(sent):
    _, mails = sent
    for _, _, raw in mails:
        msg = email.message_from_bytes(raw)
        name, _ = attachment(raw)
        m = re.fullmatch(r"rx\.example!(ext|q)\.example!(\d+)!(\d+)\.xml\.gz", name)
        assert m, name
        assert int(m.group(3)) - int(m.group(2)) == 86399
        assert re.fullmatch(r"Report Domain: (ext|q)\.example Submitter: rx\.example "
                            r"Report-ID: <\S+>", msg["Subject"]), msg["Subject"]
        assert msg["From"] == '"Test Receiver" <dmarc-reports@rx.example>'


def test_xml_validates_against_the_rfc7489_schema(stack, sent):
    _, mails = sent
    schema = open(XSD).read()
    for attr in ("xmlns", "targetNamespace", "elementFormDefault"):
        schema = re.sub(r'\s+%s="[^"]*"' % attr, "", schema)  # see vectors/dmarc/README.md
    xsd = os.path.join(stack.tmp, "rua-nonamespace.xsd")
    with open(xsd, "w") as f:
        f.write(schema)
    for i, (_, _, raw) in enumerate(mails):
        _, xml = attachment(raw)
        path = os.path.join(stack.tmp, f"report{i}.xml")
        with open(path, "wb") as f:
            f.write(xml)
        r = subprocess.run(["xmllint", "--noout", "--schema", xsd, path],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    # a document missing a required element is refused: the check can fail
    bad = os.path.join(stack.tmp, "bad.xml")
    with open(bad, "wb") as f:
        f.write(re.sub(rb"<fo>[^<]*</fo>", b"", xml))
    r = subprocess.run(["xmllint", "--noout", "--schema", xsd, bad], capture_output=True)
    assert r.returncode != 0


def rows(reports, domain):
    """(source, disposition, dkim, spf, reasons, envelope_from, spf
    auth result, dkim auth results) -> count, summed over the reports."""
    got = collections.Counter()
    for rep in reports:
        if rep["domain"] != domain:
            continue
        for r in rep["records"]:
            assert r["header_from"] == domain
            key = (r["source_ip"], r["disposition"], r["dkim"], r["spf"],
                   tuple(r["reasons"]), r["envelope_from"],
                   tuple((a["domain"], a["scope"], a["result"]) for a in r["auth_spf"]),
                   tuple((a["domain"], a["selector"], a["result"]) for a in r["auth_dkim"]))
            got[key] += r["count"]
    return got


def test_mail_dmarc_reads_what_was_sent(sent):
    _, mails = sent
    reports = {}
    for path, _, raw in mails:
        rep = oracle(path)
        assert rep["type"] == "aggregate"
        reports.setdefault(recipient(raw), []).append(rep)
    ext = reports["agg@ext.example"]
    assert reports["agg@ok3rd.example"] == ext
    for rep in ext:
        assert (rep["org_name"], rep["email"]) == ("Test Receiver", "dmarc-reports@rx.example")
        assert (rep["p"], rep["sp"], rep["pct"], rep["adkim"], rep["aspf"]) == \
            ("reject", "reject", 100, "r", "r")
        assert rep["end"] - rep["begin"] == 86399
    assert rows(ext, "ext.example") == {
        ("192.0.2.7", "none", "pass", "pass", (), "ext.example",
         (("ext.example", "mfrom", "pass"),), (("ext.example", "sel", "pass"),)): 3,
        ("198.51.100.9", "reject", "fail", "fail", (), "attacker.example",
         (("attacker.example", "mfrom", "none"),), ()): 2,
        ("203.0.113.5", "none", "fail", "fail", ("trusted_forwarder",), "list.example",
         (("list.example", "mfrom", "none"),), ()): 1,
        ("198.51.100.20", "reject", "fail", "fail", (), "",
         (("helo.example", "helo", "none"),), ()): 1,
    }
    q = reports["big@q.example"]
    for _, _, raw in mails:  # Mail::DMARC does not read fo
        xml = attachment(raw)[1].decode()
        assert ("<fo>d:s</fo>" if "<domain>q.example" in xml else "<fo>0</fo>") in xml
    assert all((r["p"], r["sp"], r["adkim"]) == ("quarantine", "none", "s") for r in q)
    assert rows(q, "q.example") == {
        ("198.51.100.9", "quarantine", "fail", "fail", (), "attacker.example",
         (("attacker.example", "mfrom", "none"),), ()): 2,
    }


def test_print_writes_the_same_reports(stack, sent):
    _, mails = sent
    printed = "".join(run_report(stack, "--print", "--day", d).stdout for d in days(stack))
    docs = ["<?xml" + d for d in printed.split("<?xml")[1:]]
    sent_docs = {attachment(raw)[1].decode() for _, _, raw in mails}
    assert set(docs) == sent_docs
    assert len(docs) == 2 * len(days(stack))


def test_bad_history_line_named_by_file_and_line(stack, tmp_path):
    day = days(stack)[0]
    hist = tmp_path / "hist"
    hist.mkdir()
    good = open(os.path.join(stack.history, day)).read().splitlines()[0]
    (hist / day).write_text(good + "\nD1 not a record\n")
    conf = tmp_path / "p.conf"
    conf.write_text(f"[milter]\ndmarc_history = {hist}\n[dmarc_report]\norg_name = T\n"
                    "email = r@rx.example\n")
    r = subprocess.run([CLI, "dmarc", "report", "-c", str(conf), "--day", day],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{hist}/{day}:2: " in r.stderr, r.stderr
    assert "<count>1</count>" in r.stdout
    r = subprocess.run([CLI, "dmarc", "report", "-c", str(conf), "--day", "2026-13-01"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--day '2026-13-01'" in r.stderr, r.stderr
    r = subprocess.run([CLI, "dmarc", "report", "-c", str(conf), "--resolver", "300.1.1.1"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--resolver '300.1.1.1'" in r.stderr, r.stderr
    r = subprocess.run([CLI, "dmarc", "report", "-c", str(conf), "--day", "2001-01-01"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "no DMARC records for that day" in r.stderr, r.stderr
    r = subprocess.run([CLI, "dmarc", "report", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--send" in r.stdout


@pytest.fixture
def unwritable():
    def make(tmp):
        return Stack(tmp, os.path.join(tmp, "dmarc-history"))
    with ms.running(make, "postseal-dmrep-ro-") as s:
        yield s


def test_unwritable_history_loses_the_record_not_the_message(unwritable):
    # start refuses a history it could not write (test_conf_agree's corpus);
    # here a file takes the place the running milter would make it in, as
    # a full, remounted or misowned disk would stop it.
    with open(unwritable.history, "w") as f:
        f.write("not a directory")
    msg = signed(unwritable, message("news@ext.example", "history down"))
    assert send(unwritable, msg, "bounces@ext.example", GOOD) == 250
    assert len(unwritable.sink.wait_for(1)) == 1
    unwritable.milter.wait_log(r"event=dmarc-history-failed qid=\w+ error=\S*dmarc-history/"
                               r"\d{4}-\d\d-\d\d: Not a directory")
