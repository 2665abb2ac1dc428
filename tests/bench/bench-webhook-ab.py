#!/usr/bin/python3
"""Two builds of ngx_http_webhook_verify_module side by side, in one run:
what a change to the module costs per request (for instance the status
counters: a build from before them against the current one). Each build
runs in its own front nginx (one worker, same configuration: a Standard
Webhooks location verifying 4 KB bodies, proxied to a `return 200`
upstream nginx over keepalive); wrk runs alternate between them in short
rounds, every other round reversed, pinned as in `make bench`
(tests/integration/test_nginx_bench.py, whose helpers this uses).
Reported: requests/s of each, and B/A as the median of the rounds' own
ratios with their range. Timing is reported, never asserted.

On a loaded machine wall-clock rounds scatter; --callgrind N counts
instead the instructions each build's nginx (one process, master_process
off, under valgrind's callgrind, counters zeroed after a warm-up and
dumped after the requests) spends on N valid requests, which barely moves
from run to run.

Usage: tests/bench/bench-webhook-ab.py [--callgrind N] A.so B.so
       (BENCH_ROUNDS, default 16; BENCH_SECONDS, default 2;
       BENCH_CONNECTIONS, default 8)
"""

import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "integration"))

from nginx_harness import NGINX, Nginx, sign_standard, spawn, stop_process  # noqa: E402
from test_nginx_bench import (CLIENT_CPU, PROXY, ROUNDS, SECRET, SERVER_CPU, body_of,  # noqa: E402
                              pin, post, spread, worker_pid, wrk)


def setup():
    """A temp dir, the body, its headers, the upstream nginx (not started),
    and the front's server block and http block."""
    os.environ.setdefault("NGX_LOG_LEVEL", "error")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-ab-"))
    os.chmod(tmp, 0o755)
    body = body_of(4096)
    (tmp / "body.json").write_bytes(body)
    hdrs = sign_standard(SECRET, "msg_bench", int(time.time()), body)
    upstream = Nginx(tmp, "access_log off;\nlocation / { return 200 'ok'; }")
    up_http = f"upstream bench_upstream {{ server 127.0.0.1:{upstream.port}; keepalive 64; }}"
    server = f"""
    access_log off;
    location = /verify {{
        webhook_verify standard;
        webhook_verify_secret "{SECRET}";
        {PROXY}
    }}"""
    return tmp, body, hdrs, upstream, server, up_http


def instructions(front, body, hdrs, n):
    """Instructions nginx (one process under callgrind) spends on n
    requests, after a warm-up that is not counted."""
    out = front.dir / "callgrind.out"
    proc = spawn(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", NGINX, "-p", str(front.dir),
                  "-c", str(front.dir / "nginx.conf"), "-g", "daemon off; master_process off;"],
                 front.dir / "valgrind.log", front.port, timeout=120)
    assert proc is not None, (front.dir / "valgrind.log").read_text()
    try:
        for _ in range(20):
            assert post(front.port, "/verify", body, hdrs) == 200
        # counters zeroed after the warm-up, dumped after the n requests
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True,
                       capture_output=True)
        for _ in range(n):
            assert post(front.port, "/verify", body, hdrs) == 200
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True,
                       capture_output=True)
    finally:
        stop_process(proc, 120)
    for dump in sorted(front.dir.glob("callgrind.out*")):
        text = dump.read_text()
        if "Trigger: dump" in text:
            return int(re.search(r"^(?:summary|totals): (\d+)", text, re.M).group(1))
    raise AssertionError("no callgrind dump")


def callgrind(a, b, n):
    tmp, body, hdrs, upstream, server, up_http = setup()
    with upstream:
        ir = [instructions(Nginx(tmp, server, http=up_http, module=m), body, hdrs, n)
              for m in (a, b)]
    print(f"valid Standard Webhooks, 4 KB bodies, {n} requests, one nginx process "
          f"under callgrind")
    for name, m, i in (("A", a, ir[0]), ("B", b, ir[1])):
        print(f"  {name} {m}: {i / n:.0f} instructions/request")
    print(f"  B - A: {(ir[1] - ir[0]) / n:+.0f} instructions/request "
          f"({(ir[1] - ir[0]) / ir[0] * 100:+.3f}%)")


def main(a, b):
    tmp, body, hdrs, upstream, server, up_http = setup()
    body_file = tmp / "body.json"
    fronts = [Nginx(tmp, server, http=up_http, module=m) for m in (a, b)]
    rounds = {0: [], 1: []}
    with upstream, fronts[0], fronts[1]:
        pin(worker_pid(upstream.proc.pid), CLIENT_CPU)
        for f in fronts:
            pin(worker_pid(f.proc.pid), SERVER_CPU)
            assert post(f.port, "/verify", body, hdrs) == 200
        for i in range(ROUNDS):
            for k in ((0, 1) if i % 2 == 0 else (1, 0)):
                n, secs, bad = wrk(fronts[k].port, "/verify", body_file, hdrs, tmp)
                assert bad == 0, f"{bad} of {n} not 2xx"
                rounds[k].append(n / secs)
    med_a, _ = spread(rounds[0])
    med_b, _ = spread(rounds[1])
    r, sp = spread([y / x for x, y in zip(rounds[0], rounds[1])])
    print(f"valid Standard Webhooks, 4 KB bodies, {ROUNDS} rounds, one front worker "
          f"(CPU {SERVER_CPU}), upstream and wrk on CPU {CLIENT_CPU}")
    print(f"  A {a}: {med_a:.0f} req/s")
    print(f"  B {b}: {med_b:.0f} req/s")
    print(f"  B/A {r:.3f} (rounds {sp[0]:.3f}-{sp[1]:.3f}, middle half {sp[2]:.3f}-{sp[3]:.3f})")


if __name__ == "__main__":
    args = sys.argv[1:]
    count = None
    if args[:1] == ["--callgrind"] and len(args) == 4:
        count, args = int(args[1]), args[2:]
    if len(args) != 2:
        sys.exit("usage: bench-webhook-ab.py [--callgrind N] A.so B.so")
    a, b = [str(pathlib.Path(p).resolve()) for p in args]
    if count:
        callgrind(a, b, count)
    else:
        main(a, b)
