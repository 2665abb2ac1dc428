"""postseal-milter's [milter] metrics endpoint after real mail through a
real Postfix: signed (by key and algorithm), verified (DKIM and SPF
results from keys and records a dnsmasq publishes), forged
Authentication-Results removed, and every counter moved by exactly what
was sent; promtool accepts each exposition; a reload and the keys' ages
show; hostile HTTP on the metrics port leaves the milter signing; a unix
socket serves too; -n refuses a bad value with its file and line."""

import os
import re
import signal
import socket
import subprocess
import time

import dkim
import pytest

import mailstack as ms
import metrics_scrape as mx
from verify_harness import AUTHSERV, MILTER, OUTSIDE, VerifyStack, needs_milter

pytestmark = needs_milter


class Stack(VerifyStack):
    def __init__(self, tmp):
        self.tmp = tmp
        self.ext = ms.DkimKey(tmp, "sel", "rsa", domain="ext.example")
        self.ext_ed = ms.DkimKey(tmp, "edsel", "ed25519", domain="ext.example")
        self.own = ms.DkimKey(tmp, "own", "rsa", domain="example.com")
        self.own_ed = ms.DkimKey(tmp, "owned", "ed25519", domain="example.com")
        self.dns = ms.Dnsmasq(txt={
            self.ext.dns_name: self.ext.record,
            self.ext_ed.dns_name: self.ext_ed.record,
            "ext.example": "v=spf1 ip4:192.0.2.0/24 -all",
        })
        self.mport = ms.free_port()
        self.start(tmp, {"metrics": f"inet:127.0.0.1:{self.mport}", "mode": "sign,verify",
                         "internal_hosts": "127.0.0.0/8"},
                   sections={"keys": {"own": f"example.com own {self.own.path}",
                                      "own-ed": f"example.com owned {self.own_ed.path}"},
                             "signing": {"example.com": "own, own-ed"}})
        ms.wait_port(self.mport)

    def deliver(self, msg, sender, client=None, helo="mail.ext.example"):
        code, text = self.pf.smtp_send(msg, sender, ["bob@example.com"], xclient=client,
                                       helo=helo)
        assert code == 250, text
        [dump] = self.sink.wait_for(1)
        return ms.message_of(dump)



@pytest.fixture(scope="module")
def stack():
    with ms.running(Stack, "postseal-metrics-") as s:
        yield s


def message(subject, sender=b"sender@ext.example", extra=b""):
    return (b"From: <" + sender + b">\r\nTo: bob@example.com\r\nSubject: " + subject.encode()
            + b"\r\nDate: Mon, 23 Nov 2026 08:00:00 +0000\r\nMessage-ID: <"
            + subject.encode().replace(b" ", b".") + b"@metrics.test>\r\n" + extra
            + b"\r\nHello.\r\n")


def sign(msg, key):
    alg = b"ed25519-sha256" if key.kind == "ed25519" else b"rsa-sha256"
    return dkim.sign(msg, key.selector.encode(), key.domain.encode(), key.dkimpy_private,
                     signature_algorithm=alg) + msg


def test_counters_move_by_what_postfix_sent(stack):
    before = mx.scrape(stack.mport)
    # two outbound messages from a loopback (internal) client: signed twice each
    for i in range(2):
        out = stack.deliver(message(f"out {i}", b"app@example.com"), "app@example.com",
                            helo="localhost")
        assert len(ms.header_values(out, "DKIM-Signature")) == 2
    # inbound, signed by ext.example with RSA and Ed25519: two dkim=pass, spf=pass
    stack.deliver(sign(sign(message("in signed"), stack.ext), stack.ext_ed),
                  "sender@ext.example", client=OUTSIDE)
    # inbound unsigned from outside ext.example's SPF, with a forged
    # Authentication-Results claiming our authserv-id
    forged = b"Authentication-Results: " + AUTHSERV.encode() + b"; dkim=pass\r\n"
    stack.deliver(message("in forged", extra=forged), "sender@ext.example",
                  client={"ADDR": "198.51.100.9", "NAME": "elsewhere.example"})
    reason = stack.milter.wait_log(r"event=decision qid=\w+ sign=no reason=(\S+)").group(1)
    after = mx.scrape(stack.mport)
    d = lambda name, **lab: mx.delta(before, after, name, **lab)  # noqa: E731
    assert d("postseal_milter_messages_total", mode="sign") == 2
    assert d("postseal_milter_messages_total", mode="verify") == 2
    assert d("postseal_milter_messages_total", mode="none") == 0
    assert d("postseal_milter_signed_total", key="own", algorithm="rsa-sha256") == 2
    assert d("postseal_milter_signed_total", key="own-ed", algorithm="ed25519-sha256") == 2
    assert d("postseal_milter_unsigned_total", reason=reason) == 2
    assert after.total("postseal_milter_unsigned_total") - \
        before.total("postseal_milter_unsigned_total") == 2
    assert d("postseal_milter_dkim_results_total", result="pass") == 2
    assert d("postseal_milter_dkim_results_total", result="none") == 1
    assert after.total("postseal_milter_dkim_results_total") - \
        before.total("postseal_milter_dkim_results_total") == 3
    assert d("postseal_milter_spf_results_total", result="pass") == 1
    assert d("postseal_milter_spf_results_total", result="fail") == 1
    assert d("postseal_milter_authres_removed_total") == 1
    assert d("postseal_milter_message_duration_seconds_count") == 4
    assert after.total("postseal_milter_tempfails_total") == 0
    assert d("postseal_milter_return_paths_rewritten_total") == 0
    # no address, message id or queue id in any label
    assert "@" not in after.text and "metrics.test" not in after.text


def test_connections_close_and_key_ages(stack):
    end = time.monotonic() + 60  # Postfix's smtpd lets go when its session ends
    while True:
        s = mx.scrape(stack.mport)
        if s.get_value("postseal_milter_connections_open") == 0 or time.monotonic() > end:
            break
        time.sleep(0.2)
    assert s.get_value("postseal_milter_connections_open") == 0
    for key, path in (("own", stack.own.path), ("own-ed", stack.own_ed.path)):
        age = s.get_value("postseal_milter_key_age_seconds", key=key)
        assert 0 <= age <= time.time() - os.stat(path).st_mtime + 5, (key, age)


def test_reload_counted(stack):
    before = mx.scrape(stack.mport)
    n = stack.milter.log().count("event=reload result=ok")
    stack.milter.signal(signal.SIGHUP)
    stack.milter.wait_log(r"(event=reload result=ok.*){%d}" % (n + 1))
    after = mx.scrape(stack.mport)
    assert mx.delta(before, after, "postseal_milter_reloads_total", result="ok") == 1
    assert mx.delta(before, after, "postseal_milter_reloads_total", result="failed") == 0
    assert after.get_value("postseal_milter_last_reload_timestamp_seconds") >= \
        before.get_value("postseal_milter_last_reload_timestamp_seconds")


def test_hostile_http_leaves_the_milter_signing(stack):
    assert mx.fetch(stack.mport, method="POST")[0] == 405
    assert mx.fetch(stack.mport, path="/nope")[0] == 404
    big = socket.create_connection(("127.0.0.1", stack.mport), timeout=10)
    try:
        big.sendall(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * (256 << 10) + b"\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    slow = [socket.create_connection(("127.0.0.1", stack.mport)) for _ in range(100)]
    for s in slow:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
    try:
        out = stack.deliver(message("during", b"app@example.com"), "app@example.com",
                            helo="localhost")
        assert len(ms.header_values(out, "DKIM-Signature")) == 2
        assert "postseal_milter_messages_total" in mx.scrape(stack.mport).text
    finally:
        big.close()
        for s in slow:
            s.close()
    assert stack.milter.proc.poll() is None


def test_trickling_clients_capped_and_cut(stack):
    def during():
        out = stack.deliver(message("trickled", b"app@example.com"), "app@example.com",
                            helo="localhost")
        assert len(ms.header_values(out, "DKIM-Signature")) == 2
        assert "postseal_milter_messages_total" in mx.scrape(stack.mport).text
    mx.hold_tricklers(stack.mport, stack.milter.proc.pid, during)
    assert "postseal_milter_messages_total" in mx.scrape(stack.mport).text
    assert stack.milter.proc.poll() is None


def unix_get(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    return out.decode()


def unix_metrics(sock):
    reply = unix_get(sock)
    assert reply.startswith("HTTP/1.1 200") or reply.startswith("HTTP/1.0 200"), reply[:200]
    body = reply.split("\r\n\r\n", 1)[1]
    mx.promtool_check(body)
    return body


def test_unix_socket_and_dropped_key(tmp_path):
    """Served on a unix socket; a key a reload drops shows NaN (no age
    alert fires for it), the kept one its age."""
    keys = [ms.DkimKey(str(tmp_path), n, "ed25519", domain="example.com") for n in "uv"]
    port, sock = ms.free_port(), str(tmp_path / "metrics.sock")
    path = str(tmp_path / "u.conf")

    def write(names):
        ms.write_ini(path, {
            "milter": {"socket": f"inet:{port}@127.0.0.1", "metrics": f"unix:{sock}"},
            "keys": {k.selector: f"example.com {k.selector} {k.path}" for k in keys
                     if k.selector in names},
            "signing": {"example.com": ", ".join(names)},
        })
    write(["u", "v"])
    with ms.Daemon([MILTER, "-f", "-c", path], port=port) as d:
        end = time.monotonic() + 30
        while not os.path.exists(sock) and time.monotonic() < end:
            time.sleep(0.05)
        body = unix_metrics(sock)
        assert re.search(r'^postseal_milter_key_age_seconds\{key="v"\} \d', body, re.M), body
        write(["u"])
        d.signal(signal.SIGHUP)
        d.wait_log(r"event=reload result=ok")
        body = unix_metrics(sock)
        assert 'postseal_milter_key_age_seconds{key="v"} NaN' in body, body
        assert re.search(r'^postseal_milter_key_age_seconds\{key="u"\} \d', body, re.M), body
        assert d.stop() == 0
        assert d.sanitizer_report() is None


def test_check_refuses_bad_metrics(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[milter]\nuser = root\n\nmetrics = inet:127.0.0.1:99999\n")
    r = subprocess.run([MILTER, "-n", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0
    assert f"{conf}:4:" in r.stderr and "metrics" in r.stderr, r.stderr
    assert re.search(r"port must be", r.stderr), r.stderr
