"""The steps postseal-milter asks the MTA to skip (issue 17, CPU per SMTP
session): every step libmilter receives costs it several system calls, so
a milter that only signs takes no HELO (only SPF, in verification, reads
it) and no recipients without return-path or SRS addresses; one that
verifies takes HELO. Checked on what the running milter negotiates, as
Postfix offers every flag; nothing here is timed."""

import os
import socket
import struct

import pytest

import mailstack as ms

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK), reason="postseal-milter not built")

SMFIP_NOHELO, SMFIP_NORCPT = 0x2, 0x8
SMFIP_NODATA, SMFIP_NR_DATA = 0x200, 0x10000
SMFIP_NR_HELO = 0x2000
# What Postfix 3.7 offers at protocol 6: every skip and no-reply flag.
OFFER_ACTIONS, OFFER_PROTO = 0x1FF, 0x1FFFFF


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    d = tmp_path_factory.mktemp("negotiate-key")
    os.chmod(d, 0o755)
    return ms.DkimKey(str(d), "ng2026", "rsa")


def negotiated_protocol(tmp_path, key, mode):
    """Starts the milter in MODE, negotiates as Postfix does, returns the
    protocol flags it chose."""
    port = ms.free_port()
    conf = ms.write_ini(str(tmp_path / "postseal.conf"), {
        "milter": {"socket": f"inet:{port}@127.0.0.1", "mode": mode,
                   "internal_hosts": "127.0.0.0/8", "resolver": "127.0.0.1"},
        "keys": {"ex": f"example.com {key.selector} {key.path}"},
        "signing": {"example.com": "ex"},
    })
    d = ms.Daemon([MILTER, "-f", "-c", conf], port=port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            body = b"O" + struct.pack(">III", 6, OFFER_ACTIONS, OFFER_PROTO)
            c.sendall(struct.pack(">I", len(body)) + body)
            head = c.recv(5, socket.MSG_WAITALL)
            (n,) = struct.unpack(">I", head[:4])
            assert head[4:5] == b"O" and n >= 13, head
            rest = c.recv(n - 1, socket.MSG_WAITALL)
            _, _, proto = struct.unpack(">III", rest[:12])
    finally:
        assert d.finish() is None
    return proto


def test_signing_only_skips_helo_and_recipients(key, tmp_path):
    proto = negotiated_protocol(tmp_path, key, "sign")
    assert proto & SMFIP_NOHELO, hex(proto)
    assert proto & SMFIP_NORCPT, hex(proto)
    # DATA keeps its answer (the TCP ACK it carries: test_milter_nodelay).
    assert not proto & (SMFIP_NODATA | SMFIP_NR_DATA), hex(proto)


def test_verifying_takes_helo_for_spf(key, tmp_path):
    proto = negotiated_protocol(tmp_path, key, "sign,verify")
    assert not proto & SMFIP_NOHELO, hex(proto)
    assert proto & SMFIP_NR_HELO, hex(proto)
