#!/usr/bin/python3
"""CPU of the milter per message through a real Postfix, one message per SMTP
session (a transactional sender's shape, so one milter connection per
message): postseal-milter signing with RSA-2048 and with Ed25519, not
signing (a From without a signing rule), and opendkim signing with the same
keys, all on TCP loopback. CPU = utime+stime of the milter process (all its
threads) over N sessions, per message; beside it the machine's bare crypto
cost measured in the same run: tests/tools/crypto_bench (canonicalise, hash,
sign one 1 KB message: the floor the ratios use) and `openssl speed`, and
its bare kernel cost of the exchanges a session is made of
(tests/tools/wakeup_bench). A benchmark, not a test: it fails only when a
message comes out with the wrong number of DKIM-Signature fields.

    tests/bench/bench-postfix-cpu.py BUILD [--sessions N] [--client-delay MS]
                                           [--other LABEL=MILTER]...

N (default 1000, or $BENCH_POSTFIX_SESSIONS) sessions per row, rows taking
turns in rounds so a busy spell on the shared machine hits all alike.
--client-delay pauses before each SMTP command, as a client further away
than loopback does (Postfix passes each step on to the milter as it comes).
--other adds RSA and not-signing rows for another postseal-milter binary
(an older build, to see what a change did). Needs root (Postfix), postfix,
opendkim (tests/deps.sh); listens on 127.0.0.1 only. Work files:
BUILD/bench-postfix-cpu.
"""

import argparse
import importlib.util
import os
import re
import shutil
import smtplib
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import mailstack as ms  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_latency",
                                               os.path.join(HERE, "bench-latency.py"))
lat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lat)

ROUNDS = 5
MANY = 10  # messages per SMTP session in the "msgs/session" row
DELAY = 0.0  # --client-delay, in seconds
HZ = os.sysconf("SC_CLK_TCK")
BODY = "".join(f"{i:06d} The quick brown fox jumps over the lazy dog 0123456789 ab\r\n"
               for i in range(16))
MESSAGE = ("From: App <{sender}>\r\nTo: Bob <bob@example.net>\r\n"
           "Subject: cpu per session\r\nMessage-ID: <cpu-{n}@example.com>\r\n"
           "Date: Mon, 05 Jan 2026 10:00:00 +0000\r\n\r\n" + BODY)


class Row:
    """A milter, the private Postfix using it, and the CPU it spent."""

    def __init__(self, name, proc, spec, sender, want, per_session=1):
        self.name, self.proc, self.sender, self.want = name, proc, sender, want
        self.per_session = per_session
        self.sink = ms.SmtpSink()
        self.pf = ms.PostfixInstance(self.sink, milter=spec)
        self.ticks, self.sent, self.counted = 0, 0, 0

    def cpu_ticks(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime: all threads

    def sessions(self, n, count=True):
        """n messages, in SMTP sessions one after another of per_session
        messages each."""
        t0, sent0 = self.cpu_ticks(), self.sent
        for _ in range(max(1, n // self.per_session)):
            with smtplib.SMTP("127.0.0.1", self.pf.port, local_hostname="app.example.com",
                              timeout=60) as s:
                for _ in range(self.per_session):
                    msg = MESSAGE.format(sender=self.sender, n=self.sent).encode()
                    if DELAY:
                        self.paced(s, msg)
                    else:
                        s.sendmail(self.sender, ["bob@example.net"], msg)
                    self.sent += 1
        if count:
            self.ticks += self.cpu_ticks() - t0
            self.counted += self.sent - sent0

    def paced(self, s, msg):
        """One command at a time, DELAY seconds apart: a client further
        away than loopback (Postfix passes each step on as it comes)."""
        for step in (s.ehlo, lambda: s.mail(self.sender), lambda: s.rcpt("bob@example.net"),
                     lambda: s.data(msg)):
            time.sleep(DELAY)
            code = step()[0]
            if code >= 400:
                sys.exit(f"bench-postfix-cpu: {self.name}: answer {code}")

    def check(self):
        for dump in self.sink.wait_for(self.sent, timeout=300):
            n = len(ms.header_values(ms.message_of(dump), "DKIM-Signature"))
            if n != self.want:
                sys.exit(f"bench-postfix-cpu: {self.name}: a message with {n} signatures")

    def close(self):
        ms.shutdown(self.pf, self.sink)


def floor_us(build, key, work):
    """crypto_bench's CPU per 1 KB message with key: the bare crypto."""
    msg = os.path.join(work, "m1k.eml")
    with open(msg, "w", newline="") as f:
        f.write(MESSAGE.format(sender="app@example.com", n=0))
    out = subprocess.run([os.path.join(build, "tests", "tools", "crypto_bench"), key.path,
                          "--message", msg, "--messages", "2000"],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"cpu_us_per_msg=([0-9.]+)", out).group(1))


def kernel_us(build):
    """tests/tools/wakeup_bench: the server CPU this machine's kernel
    charges for a request answered after an idle gap, and for a connection
    accepted, answered once and closed (by the accepting thread, and handed
    to a worker thread as libmilter does), with no milter code."""
    out = subprocess.run([os.path.join(build, "tests", "tools", "wakeup_bench"),
                          "--rounds", "3000", "--gap-us", "300"],
                         capture_output=True, text=True, check=True).stdout
    return {k: float(v) for k, v in re.findall(r"(\w+)_us=([0-9.]+)", out)}


def openssl_us(alg):
    """Microseconds per signature, `openssl speed` (rsa2048 or ed25519)."""
    out = subprocess.run(["openssl", "speed", "-seconds", "1", alg],
                         capture_output=True, text=True).stdout
    line = r"^rsa 2048 bits" if alg == "rsa2048" else r"^\s*253 bits EdDSA \(Ed25519\)"
    m = re.search(line + r"\s+\S+s\s+\S+s\s+([0-9.]+)", out, re.M)  # sign/s
    return 1e6 / float(m.group(1)) if m else float("nan")


def start_rows(w, build, keys, others, procs, rows):
    """The milters and a Postfix for each row, appended as they start."""
    def add(name, proc, port=None, sender="app@example.com", want=1, per_session=1,
            path=None):
        procs.append(proc)
        if path:
            lat.wait_unix(path, proc)
        else:
            ms.wait_port(port)
        spec = f"unix:{path}" if path else f"inet:127.0.0.1:{port}"
        rows.append(Row(name, proc, spec, sender, want, per_session))

    binaries = [("postseal-milter", os.path.join(build, "postseal-milter"))] + \
        [o.split("=", 1) for o in others]
    for label, exe in binaries:
        for kind in ("rsa", "ed25519") if exe == binaries[0][1] else ("rsa",):
            port = ms.free_port()
            add(f"{label} {kind}", lat.start_postseal(
                w, keys[kind], exe, f"inet:{port}@127.0.0.1", f"ps-{kind}-{len(procs)}"), port)
        port = ms.free_port()
        add(f"{label} not signing", lat.start_postseal(
            w, keys["rsa"], exe, f"inet:{port}@127.0.0.1", f"ps-none-{len(procs)}"), port,
            sender="app@example.org", want=0)
    # What an admin can choose (see postseal-milter(8), CPU per session):
    # a unix socket, and more messages per SMTP session.
    exe = binaries[0][1]
    path = os.path.join(w, "ps-unix.sock")
    add("postseal-milter rsa, unix socket",
        lat.start_postseal(w, keys["rsa"], exe, f"unix:{path}", "ps-unix"), path=path)
    port = ms.free_port()
    add(f"postseal-milter rsa, {MANY} msgs/session", lat.start_postseal(
        w, keys["rsa"], exe, f"inet:{port}@127.0.0.1", "ps-many"), port, per_session=MANY)
    for kind in ("rsa", "ed25519"):
        port = ms.free_port()
        wk = os.path.join(w, f"od-{kind}")
        os.makedirs(wk)
        add(f"opendkim {kind}", lat.start_opendkim(wk, keys[kind], f"inet:{port}@127.0.0.1",
                                                   f"od-{kind}"), port)


def report(rows, n, floors, speed, kern):
    pace = f", {DELAY * 1000:g} ms pause before each SMTP command" if DELAY else ""
    out = [f"\nCPU of the milter per message through Postfix {lat.ms_version()}, one message"
           f" per SMTP session (smtplib{pace}), {n} sessions per row in {ROUNDS} rounds, TCP"
           f" loopback; {os.cpu_count()} CPUs, {HZ} ticks/s",
           f"bare crypto on this machine, this run: RSA-2048 {floors['rsa']:.0f} us,"
           f" Ed25519 {floors['ed25519']:.0f} us per 1 KB message (crypto_bench);"
           f" openssl speed: rsa2048 sign {speed['rsa']:.0f} us, ed25519 sign"
           f" {speed['ed25519']:.0f} us",
           f"bare kernel cost on this machine, this run (wakeup_bench, no milter code): a"
           f" request answered after an idle gap {kern['request_reply']:.0f} us; a connection"
           f" accepted,\n  answered once and closed {kern['connection']:.0f} us, or"
           f" {kern['connection_handoff']:.0f} us when one thread accepts and another answers"
           f" (libmilter's listener and pool);\n  so a single-message session's exchanges"
           f" (connection and negotiation, DATA, end of message) cost at least"
           f" {kern['connection_handoff'] + 2 * kern['request_reply']:.0f} us before any"
           f" milter work\n",
           f"  {'milter':38} {'us/msg':>7} {'floor us':>8}  vs floor   target"]
    for r in rows:
        us = r.ticks / HZ * 1e6 / r.counted
        kind = "rsa" if " rsa" in r.name else "ed25519" if "ed25519" in r.name else None
        if kind is None:
            vs, goal, ok = "-", "<= 100 us", us <= 100
        elif kind == "rsa":
            vs, goal, ok = f"{us / floors[kind]:.2f}x", "<= 1.3x", us / floors[kind] <= 1.3
        else:
            vs, goal, ok = f"+{us - floors[kind]:.0f} us", "<= +100 us", us - floors[kind] <= 100
        fl = f"{floors[kind]:8.0f}" if kind else f"{'-':>8}"
        mark = "" if r.name.startswith("opendkim") or "," in r.name else \
            ("met" if ok else "MISSED")
        out.append(f"  {r.name:38} {us:7.0f} {fl}  {vs:>8}   {goal if mark else '':10} {mark}")
    out.append("\n  (targets apply to postseal-milter's single-message TCP rows; the rows"
               " after a comma are an admin's\n  options, per message; opendkim is the peer;"
               " the CPU is the milter's only, not Postfix's)")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--sessions", type=int,
                    default=int(os.environ.get("BENCH_POSTFIX_SESSIONS", 1000)))
    ap.add_argument("--other", action="append", default=[], metavar="LABEL=MILTER")
    ap.add_argument("--client-delay", type=float, default=0.0, metavar="MS",
                    help="pause before each SMTP command, as a client further away")
    a = ap.parse_args()
    global DELAY
    DELAY = a.client_delay / 1000
    build = os.path.abspath(a.build)
    w = os.path.join(build, "bench-postfix-cpu")
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    os.chmod(w, 0o755)
    keys = {"rsa": ms.DkimKey(w, "cpur", "rsa"), "ed25519": ms.DkimKey(w, "cpue", "ed25519")}
    procs, rows = [], []
    try:
        start_rows(w, build, keys, a.other, procs, rows)
        for r in rows:
            r.sessions(20, count=False)  # warm-up: Postfix's processes, keys loaded
        per = max(1, a.sessions // ROUNDS)
        for i in range(ROUNDS):
            for r in rows if i % 2 == 0 else reversed(rows):
                r.sessions(per)
        for r in rows:
            r.check()
        floors = {k: floor_us(build, keys[k], w) for k in keys}
        speed = {"rsa": openssl_us("rsa2048"), "ed25519": openssl_us("ed25519")}
        kern = kernel_us(build)
        text = "\n".join(report(rows, per * ROUNDS, floors, speed, kern)) + "\n"
        sys.stdout.write(text)
        with open(os.path.join(w, "results.txt"), "w") as f:
            f.write(text)
    finally:
        for r in rows:
            r.close()
        for p in procs:
            ms._terminate(p)


if __name__ == "__main__":
    main()
