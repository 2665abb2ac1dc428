#!/usr/bin/python3
"""The webhook sender's throughput and memory: a spool of N events, one
[endpoint] (format standard, the default concurrency, or CONC) POSTing to
a receiver on loopback that answers 200 at once (plain http, so the
figure is postseal's, not Python's TLS); one postseal-policyd delivers
them all from a cold start. Prints events/s and the daemon's peak RSS.
The receiver is Python's threading HTTP server: it may be the limit.

Run: /usr/bin/python3 tests/bench/bench-webhooks.py build [EVENTS] [CONC]
(part of make bench, at 10,000 events and concurrency 4)."""

import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import free_port, peak_rss_kb

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
CONC = int(sys.argv[3]) if len(sys.argv) > 3 else 4
POLICYD = os.path.join(BUILD, "postseal-policyd")

count = 0
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with lock:
            count += 1

    def log_message(self, *args):
        pass


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="postseal-bench-wh-") as tmp:
        ev = os.path.join(tmp, "ev")
        os.mkdir(ev)
        with open(os.path.join(ev, "spool"), "w") as f:
            for i in range(N):
                f.write(f"E {i:032x} 1796576837 sent Q{i} <m{i}@a.example> app@a.example app "
                        f"127.0.0.1 r{i}@dest.test 2.0.0 250%202.0.0%20ok m:0:{i}:0\n")
        secret = os.path.join(tmp, "s.whsec")
        with open(secret, "w") as f:
            f.write("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")
        os.chmod(secret, 0o600)
        conf = os.path.join(tmp, "postseal.conf")
        with open(conf, "w") as f:
            f.write(f"[policyd]\nuser = root\nlisten = inet:127.0.0.1:{free_port()}\n"
                    f"store = lmdb:{tmp}/quota\n[events]\ndir = {ev}\n"
                    f"[endpoint b]\nurl = http://127.0.0.1:{srv.server_address[1]}/\n"
                    f"for = all\nsecret = {secret}\nconcurrency = {CONC}\n"
                    "start = beginning\n")  # the spool is filled first
        t0 = time.monotonic()
        pd = subprocess.Popen([POLICYD, "-f", "-c", conf], stderr=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL)
        try:
            while count < N and time.monotonic() - t0 < 600:
                time.sleep(0.05)
            took = time.monotonic() - t0
            hwm = peak_rss_kb(pd.pid)
        finally:
            pd.terminate()
            pd.wait(10)
    srv.shutdown()
    print(f"webhooks: {count} of {N} events delivered in {took:.2f} s "
          f"({count / took:.0f} events/s, concurrency {CONC}); "
          f"postseal-policyd peak RSS {hwm // 1024} MB")


main()
