"""postseal-policyd's [policyd] metrics endpoint after real traffic
through a real Postfix: every counter moves by exactly what was sent,
promtool accepts each exposition, a reload counts, and hostile clients on
the metrics port (other methods and paths, a huge request, slow clients
holding connections) cost the daemon nothing: it keeps answering Postfix
and the next scrape."""

import signal
import socket
import subprocess

import pytest

import mailstack as ms
import metrics_scrape as mx
from policyd_harness import Policyd, needs_policyd, policyd_bin

pytestmark = needs_policyd

LOGIN = "metrics@example.com"


class Stack:
    def __init__(self, tmp):
        self.mport = ms.free_port()
        self.pd = Policyd(tmp, limits={"sasl_username": "messages 5/1h",
                                       f"sasl_username:{LOGIN}": "messages 3/1h"},
                          policyd={"metrics": f"inet:127.0.0.1:{self.mport}"})
        ms.wait_port(self.mport)
        self.sink = ms.SmtpSink()
        svc = f"check_policy_service inet:127.0.0.1:{self.pd.port}"
        self.pf = ms.PostfixInstance(self.sink, main={
            "smtpd_recipient_restrictions": svc,
            "smtpd_end_of_data_restrictions": svc,
        })

    def send(self, login):
        return self.pf.swaks("--to", "bob@example.net", "--from", "app@example.com",
                             "--xclient", f"LOGIN={login}", "--timeout", "30", check=False)

    def close(self):
        ms.shutdown(self.pf, self.sink)
        self.pd.stop()
        report = self.pd.daemon.sanitizer_report()
        assert report is None, report


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("metrics-policyd"))
    yield s
    s.close()


def test_counters_move_by_what_postfix_sent(stack):
    before = mx.scrape(stack.mport)
    for i in range(3):
        r = stack.send(LOGIN)
        assert r.returncode == 0, r.stdout + r.stderr
    stack.sink.wait_for(3)
    r = stack.send(LOGIN)  # the 4th of 3/1h: deferred at RCPT
    assert r.returncode != 0 and "quota exceeded" in r.stdout + r.stderr
    stack.pd.wait_log(r"event=over_quota .*stage=RCPT")
    after = mx.scrape(stack.mport)
    d = lambda name, **lab: mx.delta(before, after, name, **lab)  # noqa: E731
    assert d("postseal_policyd_requests_total", state="RCPT") == 4
    assert d("postseal_policyd_requests_total", state="END-OF-MESSAGE") == 3
    assert d("postseal_policyd_requests_total", state="malformed") == 0
    assert d("postseal_policyd_charged_total") == 3
    assert d("postseal_policyd_over_quota_total", kind="sasl_username") == 1
    assert d("postseal_policyd_answers_total", action="DEFER_IF_PERMIT",
             kind="sasl_username") == 1
    assert d("postseal_policyd_answers_total", action="DUNNO", kind="none") == 6
    assert d("postseal_policyd_store_operations_total", op="eval", result="ok") == 7
    assert d("postseal_policyd_store_duration_seconds_count") == 7
    assert d("postseal_policyd_store_down_answers_total") == 0
    # 80% of 3 is passed by the third message's charge, once
    assert d("postseal_policyd_warnings_total", kind="sasl_username") == 1
    assert after.get_value("postseal_policyd_store_duration_seconds_bucket",
                           le="+Inf") == after.get_value(
                               "postseal_policyd_store_duration_seconds_count")
    # no label carries a login or an address
    assert LOGIN not in after.text and "example" not in after.text


def test_reload_counted(stack):
    before = mx.scrape(stack.mport)
    n = stack.pd.log().count("event=reload result=ok")
    stack.pd.daemon.signal(signal.SIGHUP)
    stack.pd.wait_log(r"(event=reload result=ok.*){%d}" % (n + 1))
    after = mx.scrape(stack.mport)
    assert mx.delta(before, after, "postseal_policyd_reloads_total", result="ok") == 1
    assert mx.delta(before, after, "postseal_policyd_reloads_total", result="failed") == 0


def test_methods_and_paths(stack):
    status, headers, _ = mx.fetch(stack.mport, method="POST")
    assert status == 405 and headers.get("Allow") == "GET"
    assert mx.fetch(stack.mport, method="DELETE")[0] == 405
    assert mx.fetch(stack.mport, path="/")[0] == 404
    assert mx.fetch(stack.mport, path="/metrics/../etc/passwd")[0] == 404


def raw(port, data, timeout=10):
    """Sends data, returns what the server says before it closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def test_hostile_requests_bounded(stack):
    # a 1 MB header: refused (evhttp's header limit), the daemon unharmed
    huge = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
    reply = raw(stack.mport, huge)
    assert not reply.startswith(b"HTTP/1.1 200"), reply[:200]
    # a body on a GET larger than the body limit
    body = b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"b" * 100000
    reply = raw(stack.mport, body)
    assert not reply.startswith(b"HTTP/1.1 200"), reply[:200]
    # garbage
    assert not raw(stack.mport, b"\x00\xff garbage\r\n\r\n").startswith(b"HTTP/1.1 200")
    # slow clients: 200 connections that send half a request line and wait
    slow = [socket.create_connection(("127.0.0.1", stack.mport)) for _ in range(200)]
    for s in slow:
        s.sendall(b"GET /met")
    try:
        # the event loop serves the policy protocol and a scrape meanwhile
        r = stack.send("other@example.com")
        assert r.returncode == 0, r.stdout + r.stderr
        stack.sink.wait_for(1)
        assert "postseal_policyd_charged_total" in mx.scrape(stack.mport).text
    finally:
        for s in slow:
            s.close()
    assert stack.pd.daemon.proc.poll() is None


def test_trickling_clients_capped_and_cut(stack):
    def during():
        r = stack.send("trickle@example.com")
        assert r.returncode == 0, r.stdout + r.stderr
        stack.sink.wait_for(1)
        assert "postseal_policyd_charged_total" in mx.scrape(stack.mport).text
    mx.hold_tricklers(stack.mport, stack.pd.daemon.proc.pid, during)
    assert "postseal_policyd_charged_total" in mx.scrape(stack.mport).text
    assert stack.pd.daemon.proc.poll() is None


def test_check_refuses_bad_metrics(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[policyd]\nuser = root\nmetrics = tcp:127.0.0.1:9461\n")
    r = subprocess.run([policyd_bin(), "-n", "-c", str(conf)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0
    assert f"{conf}:3:" in r.stderr and "metrics" in r.stderr, r.stderr
