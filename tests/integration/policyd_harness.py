"""Helpers for the postseal-policyd integration tests: a policyd under test
with its own postseal.conf, a policy-protocol client, and a private
redis-server on a loopback port.

    with Policyd(tmp, limits={"sasl_username": "messages 5/1h"}) as pd:
        with PolicyClient(pd.port) as c:
            assert c.ask(protocol_state="RCPT", sasl_username="a@x") == "DUNNO"
"""

import contextlib
import os
import pathlib
import socket
import subprocess
import time

import pytest

from mailstack import Daemon, _terminate, free_port, wait_port, write_ini

ROOT = pathlib.Path(__file__).resolve().parents[2]


def build_dir():
    return pathlib.Path(os.environ.get("POSTSEAL_BUILD", ROOT / "build"))


def policyd_bin():
    return str(build_dir() / "postseal-policyd")


needs_policyd = pytest.mark.skipif(not os.access(policyd_bin(), os.X_OK),
                                   reason="postseal-policyd not built")


class Policyd:
    """postseal-policyd -f on a free port; limits and policyd are the
    [limits] and [policyd] sections (dicts; a list value repeats a key)."""

    def __init__(self, tmp, limits=None, policyd=None, store=None, port=None,
                 name="pd", wrapper=()):
        self.tmp = pathlib.Path(tmp)
        self.port = port or free_port()
        self.store = store or f"lmdb:{self.tmp}/quota"
        self.conf = str(self.tmp / f"{name}.conf")
        self.log_path = str(self.tmp / f"{name}.log")
        self.write(limits or {}, policyd or {})
        self.daemon = None
        self.wrapper = list(wrapper)  # e.g. ["prlimit", "--nofile=64:64", "--"]
        self.start()

    def write(self, limits, policyd=None):
        sect = {"listen": f"inet:127.0.0.1:{self.port}", "store": self.store}
        sect.update(policyd or getattr(self, "_policyd", {}) or {})
        self._policyd = policyd or getattr(self, "_policyd", {})
        write_ini(self.conf, {"policyd": sect, "limits": limits})

    def start(self):
        # POSTSEAL_WRAPPER="valgrind -q --leak-check=full" runs the daemon under it
        wrapper = self.wrapper + os.environ.get("POSTSEAL_WRAPPER", "").split()
        self.daemon = Daemon(wrapper + [policyd_bin(), "-c", self.conf, "-f"],
                             port=self.port, log_path=self.log_path,
                             wait=60 if wrapper else 10)

    def stop(self):
        return self.daemon.stop() if self.daemon else None

    def restart(self):
        self.stop()
        self.start()

    def log(self):
        return self.daemon.log()

    def wait_log(self, pattern, timeout=15.0, after=0):
        return self.daemon.wait_log(pattern, timeout, after)

    def admin(self, *args):
        return subprocess.run([policyd_bin(), "-c", self.conf, "-Q", *args],
                              capture_output=True, text=True, timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def request_bytes(**attrs):
    """One request: request=smtpd_access_policy first, then attrs."""
    attrs.setdefault("request", "smtpd_access_policy")
    lines = [f"request={attrs.pop('request')}"] + [f"{k}={v}" for k, v in attrs.items()]
    return ("\n".join(lines) + "\n\n").encode()


class PolicyClient:
    """A persistent connection speaking the policy protocol."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def read_reply(self):
        """The next reply's action line, without "action=" (text after the
        action included); None if the server closed."""
        while b"\n\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        reply, self.buf = self.buf.split(b"\n\n", 1)
        line = reply.decode()
        assert line.startswith("action="), line
        return line[len("action="):]

    def ask(self, **attrs):
        self.send(request_bytes(**attrs))
        return self.read_reply()

    def message(self, user, instance, rcpts=1, size=1000, client="192.0.2.10",
                sender="app@example.com", state_rcpt=True):
        """RCPT requests (one per recipient) then END-OF-MESSAGE, as Postfix
        sends them; returns the list of answers."""
        common = dict(sasl_username=user, instance=instance, client_address=client,
                      sender=sender)
        out = []
        if state_rcpt:
            for i in range(rcpts):
                out.append(self.ask(protocol_state="RCPT", recipient=f"r{i}@example.net",
                                    **common))
        out.append(self.ask(protocol_state="END-OF-MESSAGE", recipient_count=rcpts,
                            size=size, **common))
        return out

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RedisServer:
    """redis-server on a loopback port, no persistence; stop() and start()
    keep the port, so a daemon can watch it go away and come back."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.proc = None
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        if self.proc:
            _terminate(self.proc, 10)

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args],
                              capture_output=True, text=True, timeout=10).stdout

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class RedisConf:
    """redis-server, or redis-sentinel, run from its own config file in
    its own directory under tmp (as production runs them): lines are
    extra config lines. port=0 listens on no TCP port (a unix socket
    only, through lines). cli() speaks to it as redis-cli would, with
    password/user when the server wants AUTH."""

    def __init__(self, tmp, name, lines=(), port=None, sentinel=False,
                 password=None, user=None):
        self.dir = pathlib.Path(tmp) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port() if port is None else port
        self.sentinel = sentinel
        self.password, self.user = password, user
        self.conf = self.dir / ("sentinel.conf" if sentinel else "redis.conf")
        self.socket = None
        base = [f"port {self.port}", "bind 127.0.0.1", "daemonize no",
                f"dir {self.dir}", f"logfile {self.dir}/redis.log"]
        if not sentinel:
            base += ['save ""', "appendonly no"]
        for line in lines:
            if line.startswith("unixsocket "):
                self.socket = line.split(None, 1)[1]
        self.conf.write_text("\n".join(base + list(lines)) + "\n")
        self.proc = None
        self.start()

    def start(self):
        prog = "redis-sentinel" if self.sentinel else "redis-server"
        self.proc = subprocess.Popen([prog, str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if self.port:
            wait_port(self.port)
        else:
            assert wait_for(lambda: os.path.exists(self.socket)), self.log()

    def log(self):
        path = self.dir / "redis.log"
        return path.read_text() if path.exists() else ""

    def kill(self):
        """SIGKILL: a crash, not a shutdown (nothing is saved or handed over)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc:
            _terminate(self.proc, 10)

    def cli(self, *args, db=None):
        where = ["-p", str(self.port)] if self.port else ["-s", self.socket]
        auth = []
        if self.user:
            auth += ["--user", self.user]
        if self.password:
            auth += ["--pass", self.password, "--no-auth-warning"]
        if db is not None:
            where += ["-n", str(db)]
        return subprocess.run(["redis-cli", *where, *auth, *args], capture_output=True,
                              text=True, timeout=10).stdout

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def concurrent_messages(ports, user, senders=50, per_sender=8, rcpts=2):
    """senders threads, each on its own connection to one of ports in
    turn, all starting together, each sending per_sender messages (RCPT
    requests, then END-OF-MESSAGE); the END-OF-MESSAGE answers."""
    import threading
    answers, lock = [], threading.Lock()
    go = threading.Barrier(senders)

    def sender(n):
        with PolicyClient(ports[n % len(ports)]) as c:
            go.wait()
            for i in range(per_sender):
                got = c.message(user, f"s{n}-{i}", rcpts=rcpts, size=500)
                with lock:
                    answers.append(got[-1])

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return answers


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return False
