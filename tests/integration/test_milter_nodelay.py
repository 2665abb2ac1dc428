"""No 40 ms stalls between Postfix and postseal-milter over TCP (issue 17).

Two causes, one per direction, each a small write held by Nagle's
algorithm until the peer's delayed ACK (~40 ms on Linux):
- ours: libmilter answers end of message with two small writes (the
  inserted DKIM-Signature, then the verdict). The milter sets TCP_NODELAY
  on libmilter's listener, which accepted sockets inherit.
- Postfix's: it sends the DATA step's macros as a lone write and the first
  header after it. The milter answers DATA (no SMFIP_NODATA), and the
  answer carries the ACK.
These tests check the causes on the running milter: the option on its real
sockets (read with pidfd_getfd, sockprobe.py) and what it negotiates, never
a time. The latency itself is measured by tests/bench/bench-latency.py."""

import os
import smtplib
import socket
import struct
import subprocess
import sys
import time

import dkim
import pytest

import mailstack as ms
import sockprobe

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK), reason="postseal-milter not built")

MESSAGE = (b"From: App <app@example.com>\r\nTo: Bob <bob@example.net>\r\n"
           b"Subject: nodelay\r\nMessage-ID: <nodelay@example.com>\r\n\r\nHello.\r\n")


def probe(pid):
    try:
        return sockprobe.tcp_sockets(pid)
    except sockprobe.Unsupported as e:
        pytest.skip(str(e))


def wait_accepted(pid, port, count=1, timeout=60.0):
    """The connections pid accepted on port, once there are count of them."""
    # generous: it returns as soon as the connections are there, and a
    # loaded machine may take seconds to let the listener accept
    end = time.monotonic() + timeout
    while True:
        got = [s for s in probe(pid) if not s.listening and s.local[1] == port]
        if len(got) >= count or time.monotonic() > end:
            return got
        time.sleep(0.05)


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    d = tmp_path_factory.mktemp("nodelay-key")
    os.chmod(d, 0o755)
    return ms.DkimKey(str(d), "nd2026", "rsa")


def write_conf(path, sock, key):
    return ms.write_ini(path, {
        "milter": {"socket": sock, "mode": "sign", "internal_hosts": "127.0.0.0/8"},
        "keys": {"ex": f"example.com {key.selector} {key.path}"},
        "signing": {"example.com": "ex"},
    })


@pytest.fixture
def milter(key, tmp_path):
    port = ms.free_port()
    conf = write_conf(str(tmp_path / "postseal.conf"), f"inet:{port}@127.0.0.1", key)
    d = ms.Daemon([MILTER, "-f", "-c", conf], port=port)
    yield d
    assert d.finish() is None


def test_accepted_connection_has_nagle_off(milter):
    with socket.create_connection(("127.0.0.1", milter.port)) as c:
        mine = c.getsockname()
        got = [s for s in wait_accepted(milter.pid, milter.port) if s.peer == mine]
        assert len(got) == 1, probe(milter.pid)
        assert got[0].nodelay, got[0]
    [listener] = [s for s in probe(milter.pid) if s.listening]
    assert listener.local == ("127.0.0.1", milter.port) and listener.nodelay
    assert "event=tcp_nodelay result=on" in milter.log()
    assert "result=failed" not in milter.log()


SMFIP_NODATA, SMFIP_NR_DATA = 0x200, 0x10000


def test_milter_answers_data(milter):
    """Offered every skip and no-reply flag (as Postfix offers them), the
    milter still takes the DATA step with an answer."""
    with socket.create_connection(("127.0.0.1", milter.port), timeout=10) as c:
        body = b"O" + struct.pack(">III", 6, 0x1FF, 0x1FFFFF)
        c.sendall(struct.pack(">I", len(body)) + body)
        head = c.recv(5, socket.MSG_WAITALL)
        (n,) = struct.unpack(">I", head[:4])
        # version, actions, protocol; then the macro lists it asks for
        assert head[4:5] == b"O" and n >= 13, head
        rest = c.recv(n - 1, socket.MSG_WAITALL)
        _, _, proto = struct.unpack(">III", rest[:12])
    assert not proto & (SMFIP_NODATA | SMFIP_NR_DATA), hex(proto)


def test_probe_sees_nagle_on_elsewhere():
    """The control: the same probe reads Nagle on where nobody turned it
    off (a plain listener in another process), so the test above can fail."""
    server = subprocess.Popen([sys.executable, "-c", (
        "import socket, sys\n"
        "l = socket.create_server(('127.0.0.1', 0))\n"
        "print(l.getsockname()[1], flush=True)\n"
        "a, _ = l.accept()\n"
        "sys.stdin.read()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        with socket.create_connection(("127.0.0.1", port)):
            [got] = wait_accepted(server.pid, port)
            assert not got.nodelay
    finally:
        server.stdin.close()
        server.wait(10)


def test_inherited_listener_left_alone(key, tmp_path):
    """Only libmilter's listener is changed: one the milter inherited from
    whoever started it (not close-on-exec) keeps its options."""
    port = ms.free_port()
    conf = write_conf(str(tmp_path / "postseal.conf"), f"inet:{port}@127.0.0.1", key)
    with socket.create_server(("127.0.0.1", 0)) as foreign:
        foreign.set_inheritable(True)
        log = open(tmp_path / "milter.log", "wb")
        proc = subprocess.Popen([MILTER, "-f", "-c", conf], stdout=log, stderr=log,
                                pass_fds=(foreign.fileno(),))
        try:
            ms.wait_port(port)
            listeners = {s.local[1]: s.nodelay for s in probe(proc.pid) if s.listening}
            assert listeners == {port: True, foreign.getsockname()[1]: False}
        finally:
            ms._terminate(proc)
            log.close()


def test_postfix_session_nagle_off_and_signed(milter, key):
    """Through a real Postfix: the milter connection smtpd opens for the
    session has Nagle off on the milter's side, and the message is signed."""
    dns = {key.dns_name: key.record.encode()}
    sink = ms.SmtpSink()
    pf = None
    try:
        pf = ms.PostfixInstance(sink, milter=f"inet:127.0.0.1:{milter.port}")
        with smtplib.SMTP("127.0.0.1", pf.port, local_hostname="app.example.com",
                          timeout=60) as s:
            # smtpd connects to its milters before it greets the client.
            conns = wait_accepted(milter.pid, milter.port)
            assert len(conns) == 1 and conns[0].nodelay, conns
            s.ehlo()
            s.sendmail("app@example.com", ["bob@example.net"], MESSAGE)
        [dump] = sink.wait_for(1)
        msg = ms.message_of(dump)
        assert len(ms.header_values(msg, "DKIM-Signature")) == 1, msg[:800]
        assert dkim.verify(msg, dnsfunc=lambda name, timeout=5: dns.get(
            (name.decode() if isinstance(name, bytes) else name).rstrip(".")))
    finally:
        ms.shutdown(pf, sink)
