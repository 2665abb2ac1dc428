"""`postseal quota show` and `postseal suppression list` against a Redis
whose connection drops in the middle of the walk: a loopback proxy in
front of a real redis-server passes the handshake and the SCAN through,
then closes both sides when the first per-key command (HGETALL, GET)
comes. Each command must fail (non-zero, the server named on stderr),
never print a partial walk as a success. The quota walk used to go on to
the next SCAN batch after such a failure, and when the failure was in the
last batch it exited 0 having shown nothing.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_redis_admin_drop.py
"""

import os
import socket
import subprocess
import threading

import pytest

from mailstack import free_port, write_ini
from policyd_harness import RedisServer, needs_policyd, policyd_bin

pytestmark = needs_policyd
CLI = os.path.join(os.path.dirname(policyd_bin()), "postseal")


class DroppingProxy:
    """127.0.0.1:port -> redis; a client chunk holding one of the commands
    in drop_on closes both connections instead of being passed on."""

    def __init__(self, redis_port, drop_on):
        self.redis_port, self.drop_on = redis_port, drop_on
        self.dropped = threading.Event()
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.lsock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.redis_port))
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()

    def _pipe(self, src, dst, from_client):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_client and any(b"\r\n" + c + b"\r\n" in data for c in self.drop_on):
                    self.dropped.set()
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        # shutdown wakes the thread blocked in accept(); close alone does not
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()


@pytest.fixture
def redis():
    with RedisServer() as r:
        yield r


def through(redis, tmp_path, drop_on, argv):
    """argv(conf) run with its store behind a DroppingProxy(drop_on): the
    finished process and whether the proxy dropped the link."""
    proxy = DroppingProxy(redis.port, drop_on)
    conf = write_ini(str(tmp_path / "postseal.conf"), {"policyd": {
        "listen": f"inet:127.0.0.1:{free_port()}",
        "store": f"redis://127.0.0.1:{proxy.port}/0"}})
    try:
        r = subprocess.run(argv(conf), capture_output=True, text=True, timeout=30)
    finally:
        proxy.close()
    return r, proxy


def quota_show(conf):
    return [policyd_bin(), "-c", conf, "-Q", "show"]


def failed_naming_the_server(r, proxy):
    assert proxy.dropped.is_set()
    assert r.returncode != 0, (r.returncode, r.stdout, r.stderr)
    assert f"redis 127.0.0.1:{proxy.port}: " in r.stderr, r.stderr


def test_quota_show_fails_when_the_link_drops_mid_walk(redis, tmp_path):
    key = "ps:{sasl_username:app@example.com}#messages/3600"
    redis.cli("HSET", key, "1796576837000", "3")
    assert redis.cli("--scan", "--pattern", "ps:*").split() == [key]  # one SCAN batch
    failed_naming_the_server(*through(redis, tmp_path, [b"HGETALL"], quota_show))
    # through a proxy that drops nothing, the same window shows
    r, _ = through(redis, tmp_path, [], quota_show)
    assert r.returncode == 0 and "app@example.com" in r.stdout, (r.stdout, r.stderr)


def test_suppression_list_fails_when_the_link_drops_mid_walk(redis, tmp_path):
    subprocess.run([CLI, "suppression", "add", "gone@dest.test", "example.com", "-c",
                    write_ini(str(tmp_path / "direct.conf"), {"policyd": {
                        "listen": f"inet:127.0.0.1:{free_port()}", "store": redis.url}})],
                   check=True, capture_output=True, timeout=30)
    assert len(redis.cli("--scan", "--pattern", "ps:sup:*").split()) == 1
    r, proxy = through(redis, tmp_path, [b"GET"],
                       lambda conf: [CLI, "suppression", "list", "-c", conf])
    failed_naming_the_server(r, proxy)
    assert "gone@dest.test" not in r.stdout
