#!/usr/bin/python3
"""Per-message latency through a real Postfix, one message per SMTP session
(a transactional sender's shape): no milter, postseal-milter and opendkim
signing with the same RSA-2048 key, each over TCP (inet) and a unix socket.
A benchmark, not a test: it prints medians and p90 and fails only when a
message comes out with other than one DKIM-Signature (none without a milter).

    tests/bench/bench-latency.py BUILD [--sessions N] [--other LABEL=MILTER]...

--other adds a row for another postseal-milter binary on TCP (e.g. an
older build, to see what a change did). Needs root (Postfix), postfix, opendkim
(tests/deps.sh); listens on 127.0.0.1 only. Work files: BUILD/bench-latency.
"""

import argparse
import os
import re
import shutil
import smtplib
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import mailstack as ms  # noqa: E402
import sockprobe  # noqa: E402

ROUNDS = 10  # cases alternate in rounds, so a slow spell hits all alike
BODY = "".join(f"{i:06d} The quick brown fox jumps over the lazy dog 0123456789 ab\r\n"
               for i in range(16))
MESSAGE = ("From: App <app@example.com>\r\nTo: Bob <bob@example.net>\r\n"
           "Subject: latency\r\nMessage-ID: <lat-{n}@example.com>\r\n"
           "Date: Mon, 05 Jan 2026 10:00:00 +0000\r\n\r\n" + BODY)


class Case:
    """One row: a milter (or none) and the private Postfix using it."""

    def __init__(self, name, milter_spec=None, proc=None, port=None):
        self.name, self.spec, self.proc, self.port = name, milter_spec, proc, port
        self.sink = ms.SmtpSink()
        self.pf = ms.PostfixInstance(self.sink, milter=milter_spec)
        self.times, self.nodelay, self.sent = [], "-", 0

    def session(self):
        """One SMTP session carrying one message; its wall time in ms."""
        msg = MESSAGE.format(n=self.sent).encode()
        t0 = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", self.pf.port, local_hostname="app.example.com",
                          timeout=60) as s:
            s.sendmail("app@example.com", ["bob@example.net"], msg)
        self.sent += 1
        return (time.perf_counter() - t0) * 1000

    def probe_nodelay(self):
        """TCP_NODELAY on the milter's side of the connection smtpd opens
        for a session (smtpd connects before its greeting)."""
        if self.port is None:
            return
        with smtplib.SMTP("127.0.0.1", self.pf.port, local_hostname="app.example.com",
                          timeout=60):
            for _ in range(100):
                conns = sockprobe.accepted(self.proc.pid, self.port)
                if conns:
                    self.nodelay = "on" if all(c.nodelay for c in conns) else "off"
                    return
                time.sleep(0.05)

    def check_signed(self, want):
        """Every message delivered, each with want DKIM-Signature fields."""
        for dump in self.sink.wait_for(self.sent, timeout=120):
            n = len(ms.header_values(ms.message_of(dump), "DKIM-Signature"))
            if n != want:
                sys.exit(f"bench-latency: {self.name}: a message with {n} signatures")

    def close(self):
        ms.shutdown(self.pf, self.sink)


def start_postseal(w, key, binary, sock, log):
    milter = {"socket": sock, "mode": "sign", "internal_hosts": "127.0.0.0/8"}
    if sock.startswith("unix:"):
        # smtpd runs as postfix and must be able to write the socket.
        milter.update(socket_group="postfix", socket_mode="0660")
    conf = ms.write_ini(os.path.join(w, f"{log}.conf"), {
        "milter": milter,
        "keys": {"bench": f"example.com {key.selector} {key.path}"},
        "signing": {"example.com": "bench"},
    })
    return subprocess.Popen([binary, "-f", "-c", conf],
                            stderr=open(os.path.join(w, f"{log}.log"), "wb"))


def start_opendkim(w, key, sock, log):
    alg = "ed25519-sha256" if key.kind == "ed25519" else "rsa-sha256"
    with open(os.path.join(w, "KeyTable"), "w") as f:
        f.write(f"bench example.com:{key.selector}:{key.path}\n")
    with open(os.path.join(w, "SigningTable"), "w") as f:
        f.write("*@example.com bench\n")
    conf = os.path.join(w, f"{log}.conf")
    with open(conf, "w") as f:
        f.write(f"Syslog no\nBackground no\nMode s\nCanonicalization relaxed/relaxed\n"
                f"Socket {sock}\nUMask 0111\nInternalHosts 127.0.0.1\n"
                f"KeyTable refile:{w}/KeyTable\nSigningTable refile:{w}/SigningTable\n"
                f"SignatureAlgorithm {alg}\n")
    return subprocess.Popen(["opendkim", "-f", "-x", conf],
                            stderr=open(os.path.join(w, f"{log}.log"), "wb"))


def wait_unix(path, proc, timeout=15.0):
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > end:
            sys.exit(f"bench-latency: nothing listens on {path}")
        time.sleep(0.05)


def rsa_sign_ms():
    """The machine's bare RSA-2048 signature (openssl speed), in ms."""
    out = subprocess.run(["openssl", "speed", "-seconds", "1", "rsa2048"],
                         capture_output=True, text=True).stdout
    m = re.search(r"^rsa 2048 bits\s+([0-9.]+)s", out, re.M)
    return float(m.group(1)) * 1000 if m else float("nan")


def start_cases(w, key, binary, others, procs, cases):
    """Starts the milters and a Postfix for each row, appending to procs
    and cases as it goes (so the caller can stop whatever started)."""
    cases.append(Case("no milter"))

    def milter(name, proc, spec, port=None, path=None):
        procs.append(proc)
        if port:
            ms.wait_port(port)
        else:
            wait_unix(path, proc)
        cases.append(Case(name, spec, proc, port))

    runs = [("postseal-milter", binary)] + [o.split("=", 1) for o in others]
    for label, exe in runs:
        port = ms.free_port()
        milter(f"{label} inet", start_postseal(w, key, exe, f"inet:{port}@127.0.0.1",
                                               f"ps-inet-{len(procs)}"),
               f"inet:127.0.0.1:{port}", port=port)
    path = os.path.join(w, "ps.sock")
    milter("postseal-milter unix", start_postseal(w, key, binary, f"unix:{path}", "ps-unix"),
           f"unix:{path}", path=path)
    port = ms.free_port()
    milter("opendkim inet", start_opendkim(w, key, f"inet:{port}@127.0.0.1", "od-inet"),
           f"inet:127.0.0.1:{port}", port=port)
    path = os.path.join(w, "od.sock")
    milter("opendkim unix", start_opendkim(w, key, f"local:{path}", "od-unix"),
           f"unix:{path}", path=path)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def report(cases, sessions, sign_ms):
    """The table, as lines."""
    out = []
    base = statistics.median(cases[0].times)
    out.append(f"\nPostfix {ms_version()} on loopback, one message per SMTP session (smtplib:"
               f" connect, EHLO, MAIL, RCPT, DATA, QUIT), {sessions} sequential sessions per row,"
               f" rows alternating in {ROUNDS} rounds; {os.cpu_count()} CPUs\n")
    out.append(f"  {'case':30} {'median ms':>9} {'p90 ms':>7} {'+ms vs none':>11}  nodelay")
    for c in cases:
        med = statistics.median(c.times)
        out.append(f"  {c.name:30} {med:9.1f} {pct(c.times, 90):7.1f} {med - base:11.1f}"
                   f"  {c.nodelay}")
    out.append(f"\n  bare RSA-2048 signature on this machine (openssl speed): {sign_ms:.2f} ms")
    for c in cases[1:]:
        if c.name in ("postseal-milter inet", "postseal-milter unix"):
            extra = statistics.median(c.times) - base
            out.append(f"  {c.name}: +{extra:.1f} ms over no milter (target <= 2 ms):"
                       f" {'met' if extra <= 2 else 'MISSED'}")
    out.append("  nodelay: TCP_NODELAY on the milter's side of smtpd's connection (read with"
               " pidfd_getfd); a unix socket has no Nagle.")
    return out


def ms_version():
    r = subprocess.run(["postconf", "-d", "-h", "mail_version"], capture_output=True, text=True)
    return r.stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--sessions", type=int, default=int(os.environ.get("BENCH_SESSIONS", 100)))
    ap.add_argument("--other", action="append", default=[], metavar="LABEL=MILTER",
                    help="another postseal-milter binary, on TCP")
    a = ap.parse_args()
    w = os.path.join(os.path.abspath(a.build), "bench-latency")
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    os.chmod(w, 0o755)  # smtpd (user postfix) reaches the unix sockets here
    key = ms.DkimKey(w, "latr", "rsa")
    procs, cases = [], []
    try:
        start_cases(w, key, os.path.join(a.build, "postseal-milter"), a.other, procs, cases)
        for c in cases:
            c.probe_nodelay()
            c.session()  # warm-up: Postfix's processes started, keys loaded
        per = max(1, a.sessions // ROUNDS)
        for r in range(ROUNDS):
            for c in cases if r % 2 == 0 else reversed(cases):
                c.times += [c.session() for _ in range(per)]
        for c in cases:
            c.check_signed(0 if c.spec is None else 1)
        text = "\n".join(report(cases, per * ROUNDS, rsa_sign_ms())) + "\n"
        sys.stdout.write(text)
        with open(os.path.join(w, "results.txt"), "w") as f:
            f.write(text)
    finally:
        for c in cases:
            c.close()
        for p in procs:
            ms._terminate(p)


if __name__ == "__main__":
    main()
