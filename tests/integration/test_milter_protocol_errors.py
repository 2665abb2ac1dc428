"""postseal-milter spoken to directly in the milter protocol, as a broken
or hostile client would: a step that arrives without the connection step
before it is refused with a temporary failure (at DATA, the first step
after it that is answered), and the log says why (not "out of memory")."""

import os
import socket
import struct
import tempfile

import pytest

import mailstack as ms

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK), reason="postseal-milter not built")


def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def read_packet(s):
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        assert chunk, "milter closed the connection"
        head += chunk
    (n,) = struct.unpack(">I", head)
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        assert chunk, "milter closed the connection"
        body += chunk
    return body[:1], body[1:]


def test_mail_without_connect_logs_the_reason():
    with tempfile.TemporaryDirectory() as tmp:
        key = ms.DkimKey(tmp, "s2026r", "rsa")
        port = ms.free_port()
        conf = os.path.join(tmp, "postseal.conf")
        ms.write_ini(conf, {
            "milter": {"socket": f"inet:{port}@127.0.0.1", "mode": "sign",
                       "internal_hosts": "127.0.0.0/8", "authserv_id": "mx.example.test"},
            "keys": {"ex-rsa": f"example.com s2026r {key.path}"},
            "signing": {"example.com": "ex-rsa"},
        })
        milter = ms.Daemon([MILTER, "-f", "-c", conf], port=port)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                # protocol 6, every action, SMFIP_HDR_LEADSPC among the steps offered
                s.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)))
                cmd, _ = read_packet(s)
                assert cmd == b"O"
                # MAIL FROM is not answered (SMFIP_NR_MAIL, offered above):
                # the message that could not start is refused at DATA.
                s.sendall(packet(b"M", b"<app@example.com>\0") + packet(b"T"))
                cmd, _ = read_packet(s)
                assert cmd == b"t"  # temporary failure
            log = milter.wait_log(r"event=error qid=- stage=mail reason=[^\n]*").group(0)
            assert "no connection context" in log and "out of memory" not in log, log
        finally:
            assert milter.finish() is None
