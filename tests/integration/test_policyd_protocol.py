"""postseal-policyd spoken to directly over the policy protocol: malformed
requests (no empty line, binary, CR LF, a 1 MB line of an attribute the
daemon decides on, 101 attributes, 32 KB) are logged and refused with the
over_quota answer, never DUNNO, and never touch other connections; long
values of attributes the daemon does not use are cut and the message still
charged; unknown attributes are ignored;
pipelined requests are answered in order; hundreds of idle connections;
overrides, CIDR networks, exemptions, warn_at once per window, the
END-OF-MESSAGE watchdog, REJECT/HOLD, SIGHUP reload, SIGTERM and -n."""

import os
import re
import signal
import socket
import subprocess
import time

import pytest

from policyd_harness import (PolicyClient, Policyd, concurrent_messages, needs_policyd,
                             policyd_bin, request_bytes)

pytestmark = needs_policyd

LIMITS = {
    "sasl_username": "messages 3/1h",
    "sasl_username:warn@x": "messages 10/1h",
    "sasl_username:big@x": "recipients 4/1d, bytes 1M/1d",
    "sender_domain:example.org": "messages 2/1h",
    "client_address:198.51.100.0/24": "messages 2/1h",
    "client_address:198.51.100.128/25": "messages 5/1h",
    "exempt": ["sasl_username:monitor@x", "client_address:203.0.113.9"],
}


@pytest.fixture
def pd(tmp_path):
    with Policyd(tmp_path, limits=LIMITS) as d:
        yield d


def eod(c, user, inst, **kw):
    return c.message(user, inst, state_rcpt=False, **kw)[0]


REFUSED = "DEFER_IF_PERMIT policy request refused: "


def test_malformed_requests_refused_and_harmless(pd):
    with PolicyClient(pd.port) as good, PolicyClient(pd.port) as bad:
        assert good.ask(protocol_state="RCPT", sasl_username="g@x", instance="1") == "DUNNO"
        bad.send(b"request=smtpd_access_policy\nsasl_username=who@x\n"
                 b"this line has no equals sign\n\n")
        assert bad.read_reply() == REFUSED + "line is not name=value"
        bad.send(b"request=smtpd_access_policy\nname=a\x00b\x01\xff\n\n")
        assert bad.read_reply() == REFUSED + "NUL byte in a line"
        bad.send(b"request=smtpd_access_policy\nsender=" + b"x" * (1 << 20) + b"\n\n")
        assert bad.read_reply() == REFUSED + "line longer than 4096 bytes"
        assert good.ask(protocol_state="RCPT", sasl_username="g@x", instance="1") == "DUNNO"
        bad.send(b"".join(b"a%d=1\n" % i for i in range(101)) + b"\n")
        assert bad.read_reply() == REFUSED + "more than 100 attributes"
        bad.send(request_bytes(protocol_state="RCPT", sasl_username="g@x",
                               frobnicate="yes", instance="2"))
        assert bad.read_reply() == "DUNNO"
        bad.send(b"request=something_else\n\n")
        assert bad.read_reply() == REFUSED + "not request=smtpd_access_policy"
        # the bad connection still works for a sound request
        assert eod(bad, "g2@x", "3") == "DUNNO"
    log = pd.log()
    for reason in ("line is not name=value", "NUL byte in a line",
                   "line longer than 4096 bytes", "more than 100 attributes",
                   "not request=smtpd_access_policy"):
        assert re.search(r'event=policy_malformed .*reason="' + reason +
                         r'".* answer=DEFER_IF_PERMIT', log), (reason, log)
    # whose request it was, when it says so
    assert re.search(r'event=policy_malformed .*reason="line is not name=value" '
                     r'.*line=3 sasl_username=who@x ', log), log
    assert re.search(r'event=policy_malformed .*reason="line longer than 4096 bytes" '
                     r'name=sender ', log), log
    assert re.search(r"event=policy_unknown_attribute .*name=frobnicate", log), log


def test_crlf_request_answered_with_a_refusal(pd):
    """Postfix never sends CR LF; a client that does gets an answer, not
    silence, and the refusal is logged."""
    with PolicyClient(pd.port, timeout=10) as c:
        c.send(b"request=smtpd_access_policy\r\nprotocol_state=RCPT\r\n"
               b"sasl_username=crlf@x\r\ninstance=1\r\n\r\n")
        assert c.read_reply() == REFUSED + "line ends in CR LF"
        assert eod(c, "crlf@x", "2") == "DUNNO"  # LF again: served
    assert re.search(r'event=policy_malformed .*reason="line ends in CR LF" .*line=1 '
                     r'sasl_username=crlf@x ', pd.log()), pd.log()


def test_overlong_unused_attributes_cut_and_still_charged(pd):
    """A client picks its HELO name (and its certificate): however long such
    a value, the message is charged, so a quota holds (issue 15)."""
    long_attrs = {"helo_name": "h" * 5000, "ccert_subject": "s" * 100000,
                  "client_name": "n" * 4090, "reverse_client_name": "r" * 4091}
    with PolicyClient(pd.port) as c:
        for i in range(3):
            assert c.ask(protocol_state="RCPT", sasl_username="long@x", instance=f"l{i}",
                         recipient="a@example.net", **long_attrs) == "DUNNO"
            assert c.ask(protocol_state="END-OF-MESSAGE", sasl_username="long@x",
                         instance=f"l{i}", recipient_count=1, size=10,
                         **long_attrs) == "DUNNO"
        r = c.ask(protocol_state="RCPT", sasl_username="long@x", instance="l3",
                  recipient="a@example.net", **long_attrs)
        assert r.startswith("DEFER_IF_PERMIT quota exceeded for sasl_username:long@x: "
                            "messages 3/1h"), r
    log = pd.log()
    assert len(re.findall(r"event=charged instance=l\d keys=sasl_username:long@x", log)) == 3
    assert "policy_malformed" not in log, log


@pytest.mark.parametrize("name", ["sasl_username", "sender", "client_address", "recipient",
                                  "instance", "size", "recipient_count", "protocol_state"])
def test_overlong_needed_attribute_refused(pd, name):
    """An attribute the daemon decides on is kept whole or the request is
    refused with the over_quota answer; never let through uncounted."""
    attrs = dict(protocol_state="END-OF-MESSAGE", sasl_username="need@x", instance="n1",
                 client_address="192.0.2.1", sender="a@example.com",
                 recipient="b@example.net", recipient_count=1, size=10)
    attrs[name] = "1" * 4097
    with PolicyClient(pd.port) as c:
        assert c.ask(**attrs) == REFUSED + "line longer than 4096 bytes"
        attrs[name] = "1" * (4096 - len(name) - 1)  # the longest line kept whole
        r = c.ask(**attrs)
        # kept whole: decided on (a credential this long is not counted,
        # and refused for that)
        assert r == "DUNNO" or r == REFUSED + "credential longer than 255 bytes", r
    assert re.search(r'event=policy_malformed .*name=' + name + ' ', pd.log()), pd.log()


def test_request_bounds_refused(pd):
    """101 attributes, or 32 KB of lines each within bounds: refused, not
    kept (memory stays bounded), the connection goes on."""
    with PolicyClient(pd.port) as c:
        many = {f"x{i}": "1" for i in range(100)}
        assert c.ask(protocol_state="RCPT", sasl_username="b@x", **many) == \
            REFUSED + "more than 100 attributes"
        big = {f"x{i}": "v" * 4000 for i in range(9)}
        assert c.ask(protocol_state="RCPT", sasl_username="b@x", **big) == \
            REFUSED + "request longer than 32768 bytes"
        assert eod(c, "b@x", "1") == "DUNNO"


def test_credential_too_long_to_count_refused(pd):
    """A sender domain over 255 bytes cannot be counted: with a
    sender_domain limit configured the request is refused, not let
    through uncounted."""
    with PolicyClient(pd.port) as c:
        r = eod(c, "", "1", sender="a@" + "d" * 300 + ".org")
        assert r == REFUSED + "credential longer than 255 bytes", r
    assert re.search(r'event=policy_malformed .*reason="credential longer than 255 '
                     r'bytes" name=sender_domain ', pd.log()), pd.log()


def test_no_empty_line_and_random_binary(pd):
    with PolicyClient(pd.port) as good:
        s = socket.create_connection(("127.0.0.1", pd.port))
        s.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\n")  # never ends
        b = socket.create_connection(("127.0.0.1", pd.port))
        b.sendall(os.urandom(200000))
        assert good.ask(protocol_state="RCPT", sasl_username="n@x", instance="1") == "DUNNO"
        s.close()
        b.close()
        pd.wait_log(r"event=policy_malformed .*reason=\"connection closed in the "
                    r"middle of a request\"")
        assert eod(good, "n@x", "1") == "DUNNO"


def test_pipelined_requests_answered_in_order(pd):
    with PolicyClient(pd.port) as c:
        batch = b""
        for i in range(6):  # p@x: 3 fit, 3 over; q@x always fits; malformed between
            batch += request_bytes(protocol_state="END-OF-MESSAGE", sasl_username="p@x",
                                   instance=f"p{i}", recipient_count=1, size=10)
            batch += b"garbage\n\n"
            batch += request_bytes(protocol_state="END-OF-MESSAGE", sasl_username=f"q{i}@x",
                                   instance=f"q{i}", recipient_count=1, size=10)
        c.send(batch)
        got = [c.read_reply() for _ in range(18)]
    for i in range(6):
        p, junk, q = got[3 * i: 3 * i + 3]
        assert (p == "DUNNO") == (i < 3), got
        assert junk == REFUSED + "line is not name=value" and q == "DUNNO", got
        if i >= 3:
            assert p.startswith("DEFER_IF_PERMIT quota exceeded for sasl_username:p@x: "
                                "messages 3/1h, frees in "), p


def test_two_daemons_one_lmdb_file_exact_limit(tmp_path):
    """Several daemons on one host share the LMDB file: one exact count."""
    limits = {"sasl_username": "messages 101/1h, recipients 1000/1h"}
    with Policyd(tmp_path, limits=limits, name="a") as a, \
            Policyd(tmp_path, limits=limits, name="b") as b:
        answers = concurrent_messages([a.port, b.port], "lmdb@example.com")
        assert len(answers) == 400
        assert sum(x == "DUNNO" for x in answers) == 101
        assert a.log().count("event=charged") + b.log().count("event=charged") == 101
        shown = a.admin("show", "sasl_username:lmdb@example.com")
        assert "lmdb@example.com: messages 101/1h, used 101, frees in " in shown.stdout, \
            shown.stdout
        assert "lmdb@example.com: recipients 1000/1h, used 202\n" in shown.stdout, shown.stdout


def test_hundreds_of_idle_connections(pd):
    idle = [PolicyClient(pd.port) for _ in range(300)]
    try:
        time.sleep(1)
        with PolicyClient(pd.port) as c:
            assert eod(c, "busy@x", "1") == "DUNNO"
        for i, c in enumerate(idle):
            c.send(request_bytes(protocol_state="RCPT", sasl_username=f"i{i}@x",
                                 instance="1"))
        assert all(c.read_reply() == "DUNNO" for c in idle)
    finally:
        for c in idle:
            c.close()


def test_overrides_networks_exemptions(pd):
    with PolicyClient(pd.port) as c:
        # sender_domain: 2/1h for example.org, whatever the login
        assert eod(c, "d1@x", "1", sender="a@Example.ORG") == "DUNNO"
        assert eod(c, "d2@x", "2", sender="b@example.org") == "DUNNO"
        r = eod(c, "d3@x", "3", sender="c@example.org")
        assert "quota exceeded for sender_domain:example.org: messages 2/1h" in r, r
        # the /24 shares one counter; the more specific /25 has its own
        assert eod(c, "", "4", client="198.51.100.1") == "DUNNO"
        assert eod(c, "", "5", client="198.51.100.2") == "DUNNO"
        r = eod(c, "", "6", client="198.51.100.3")
        assert "client_address:198.51.100.0/24: messages 2/1h" in r, r
        assert eod(c, "", "7", client="198.51.100.200") == "DUNNO"
        # exempt login and exempt client: never counted, never refused
        for i in range(5):
            assert eod(c, "monitor@x", f"m{i}") == "DUNNO"
            assert eod(c, "other@x", f"o{i}", client="203.0.113.9") == "DUNNO"
        # login case does not split a counter
        for i, user in enumerate(["Case@X", "case@x", "CASE@x"]):
            assert eod(c, user, f"c{i}") == "DUNNO"
        assert "sasl_username:case@x" in eod(c, "case@X", "c9")


def test_recipients_and_message_too_large(pd):
    with PolicyClient(pd.port) as c:
        assert c.message("big@x", "1", rcpts=3, size=1000) == ["DUNNO"] * 4
        # RCPT: the 2nd recipient of the next message would be the 5th
        got = c.message("big@x", "2", rcpts=2, size=1000)
        assert got[0] == "DUNNO" and got[1].startswith("DEFER_IF_PERMIT"), got
        # larger than the limit itself: never fits, so REJECT, not a defer
        r = eod(c, "big@x", "3", rcpts=1, size=2 * 1024 * 1024)
        assert r.startswith("REJECT message larger than the quota of "
                            "sasl_username:big@x: bytes 1M/1d"), r


def test_warn_once_per_window(pd):
    with PolicyClient(pd.port) as c:
        for i in range(10):
            assert eod(c, "warn@x", f"w{i}") == "DUNNO"
    log = pd.log()
    warns = re.findall(r"event=quota_warning key=sasl_username:warn@x "
                       r"limit=\"messages 10/1h\" used=(\d+) warn_at=80%", log)
    assert warns == ["8"], log


def test_no_end_of_message_warning(pd):
    with PolicyClient(pd.port) as c:
        for i in range(10):
            assert c.ask(protocol_state="RCPT", sasl_username="r@x", instance=f"n{i}") == "DUNNO"
    m = pd.wait_log(r"event=no_end_of_message .*main.cf=\"smtpd_end_of_data_restrictions = "
                    r"check_policy_service inet:127.0.0.1:\d+\"")
    assert m
    assert pd.log().count("event=no_end_of_message") == 1


def test_eod_repeated_for_one_instance_charged_once(pd):
    with PolicyClient(pd.port) as c:
        for _ in range(5):
            assert eod(c, "once@x", "same") == "DUNNO"
        assert eod(c, "once@x", "other1") == "DUNNO"
        assert eod(c, "once@x", "other2") == "DUNNO"
        assert eod(c, "once@x", "other3").startswith("DEFER_IF_PERMIT")


@pytest.mark.parametrize("action", ["REJECT", "HOLD", "DEFER"])
def test_over_quota_action_configurable(tmp_path, action):
    with Policyd(tmp_path, limits={"sasl_username": "messages 1/1h"},
                 policyd={"over_quota": action}) as d, PolicyClient(d.port) as c:
        assert eod(c, "a@x", "1") == "DUNNO"
        assert eod(c, "a@x", "2").startswith(action + " quota exceeded for sasl_username:a@x")


def test_sighup_reload_keeps_connections(pd):
    with PolicyClient(pd.port) as c:
        for i in range(3):
            assert eod(c, "hup@x", f"h{i}") == "DUNNO"
        assert eod(c, "hup@x", "h3").startswith("DEFER_IF_PERMIT")
        pd.write(dict(LIMITS, sasl_username="messages 5/1h"))
        mark = len(pd.log())
        pd.daemon.signal(signal.SIGHUP)
        pd.wait_log(r"event=reload result=ok", after=mark)
        assert eod(c, "hup@x", "h4") == "DUNNO"  # same connection, new limit
        with open(pd.conf, "a") as f:
            f.write("sasl_username:bad@x = messages 5/1x\n")
        mark = len(pd.log())
        pd.daemon.signal(signal.SIGHUP)
        m = pd.wait_log(r"event=reload result=failed reason=\"[^\"]*:\d+: ", after=mark)
        assert "period" in pd.log()[mark:], m
        assert eod(c, "hup@x", "h5") == "DUNNO"  # previous rules kept: 5/1h
        assert eod(c, "hup@x", "h6").startswith("DEFER_IF_PERMIT")


def test_sigterm_drains(pd):
    c = PolicyClient(pd.port)
    assert eod(c, "t@x", "1") == "DUNNO"
    t = time.monotonic()
    assert pd.stop() == 0
    assert time.monotonic() - t < 5
    assert c.sock.recv(10) == b""  # closed by the server, idle
    assert "event=stop reason=SIGTERM" in pd.log()


def test_check_mode(tmp_path):
    with open(tmp_path / "ok.conf", "w") as f:
        f.write(f"[policyd]\nlisten = inet:127.0.0.1:10099\nstore = lmdb:{tmp_path}/q\nuser = root\n"
                "[limits]\nsasl_username = messages 5/1h, bytes 1G/1d\n")
    r = subprocess.run([policyd_bin(), "-n", "-c", str(tmp_path / "ok.conf")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "smtpd_end_of_data_restrictions = check_policy_service inet:127.0.0.1:10099" \
        in r.stdout
    assert "bytes (size)" in r.stdout
    for bad, why in [("messages 5/1w", "period"), ("mesages 5/1h", "expected messages"),
                     ("messages 5K/1h", "K, M, G and T are for bytes"),
                     ("messages 5/1h, messages 6/1h", "second messages limit"),
                     ("messages 5/367d", "from 1s to 366d")]:
        with open(tmp_path / "bad.conf", "w") as f:
            f.write(f"[limits]\n# comment\nsasl_username = {bad}\n")
        r = subprocess.run([policyd_bin(), "-n", "-c", str(tmp_path / "bad.conf")],
                           capture_output=True, text=True)
        assert r.returncode == 1, (bad, r.stdout)
        assert re.search(r"bad\.conf:3: .*" + re.escape(why), r.stderr), (bad, r.stderr)
    with open(tmp_path / "store.conf", "w") as f:
        f.write("[policyd]\n\nstore = lmdb:/nonexistent/postseal/quota\n")
    r = subprocess.run([policyd_bin(), "-n", "-c", str(tmp_path / "store.conf")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and re.search(r"store\.conf:3: store lmdb:/nonexistent/postseal/"
                                           r"quota: directory /nonexistent/postseal: No such",
                                           r.stderr), r.stderr
    with open(tmp_path / "cidr.conf", "w") as f:
        f.write("[limits]\nclient_address:10.1.2.3/8 = messages 1/1h\n")
    r = subprocess.run([policyd_bin(), "-n", "-c", str(tmp_path / "cidr.conf")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "cidr.conf:2:" in r.stderr, r.stderr


def test_postseal_quota_cli(pd):
    """postseal quota show|reset runs postseal-policyd -Q beside it."""
    cli = os.path.join(os.path.dirname(policyd_bin()), "postseal")
    probe = subprocess.run([cli, "quota", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("postseal has no quota command in its table yet")
    with PolicyClient(pd.port) as c:
        for i in range(3):
            assert eod(c, "cli@x", f"c{i}") == "DUNNO"

    def run(*args):
        return subprocess.run([cli, "quota", *args, "-c", pd.conf],
                              capture_output=True, text=True)
    r = run("show", "sasl_username:CLI@x")
    assert r.returncode == 1, r.stdout + r.stderr
    # about 1h, less the time since the messages: a loaded host may take
    # many seconds, so anything from 50 minutes up will do
    assert re.search(r"^sasl_username:cli@x: messages 3/1h, used 3, "
                     r"frees in (1h|5\dm)", r.stdout, re.M), r.stdout
    r = run("show")
    assert r.returncode == 0 and "sasl_username:cli@x: messages 3/1h, used 3" in r.stdout, \
        r.stdout
    assert run("reset").returncode == 2
    assert run("show", "nokind").returncode == 2
    r = run("reset", "sasl_username:cli@x")
    assert r.returncode == 0 and "reset 1 window of sasl_username:cli@x" in r.stdout, r.stdout
    r = run("show", "sasl_username:cli@x")
    assert r.returncode == 0 and "no counters for sasl_username:cli@x" in r.stdout, r.stdout
