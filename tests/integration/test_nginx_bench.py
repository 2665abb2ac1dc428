"""Throughput of ngx_http_webhook_verify_module side by side, in one run:
plain nginx proxying the same POST (the ceiling), nginx verifying a
Standard Webhooks signature, and an application-level verifier (Node's
standardwebhooks package) behind the same plain nginx, and alone. Ratios only: the
machines are shared.

Skipped unless POSTSEAL_BENCH=1; the Node verifier needs
POSTSEAL_NODE_MODULES=DIR (a node_modules with standardwebhooks). Bounded:
wrk -t1 -c8 for BENCH_SECONDS (default 5) per case.

Run: POSTSEAL_BENCH=1 POSTSEAL_NODE_MODULES=/tmp/node_modules \\
     /usr/bin/python3 -m pytest -s tests/integration/test_nginx_bench.py
"""

import os
import re
import shutil
import subprocess
import time

import pytest

from nginx_harness import (Nginx, free_port, location, needs_module,
                           sign_standard, wait_port)

pytestmark = [needs_module, pytest.mark.skipif(
    os.environ.get("POSTSEAL_BENCH") != "1" or not shutil.which("wrk"),
    reason="POSTSEAL_BENCH=1 and wrk needed")]

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))

NODE_APP = """
const http = require('http');
const { Webhook } = require(process.argv[2] + '/standardwebhooks');
const wh = new Webhook(process.argv[3]);
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', c => chunks.push(c));
  req.on('end', () => {
    try { wh.verify(Buffer.concat(chunks).toString(), req.headers); res.writeHead(200); }
    catch (e) { res.writeHead(401); }
    res.end('ok');
  });
}).listen(Number(process.argv[4]), '127.0.0.1');
"""


def wrk(port, path, body_file, headers, tmp):
    lua = tmp / "post.lua"
    hdrs = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    lua.write_text(f'wrk.method = "POST"\nlocal f = io.open("{body_file}", "rb")\n'
                   f'wrk.body = f:read("*a")\nf:close()\n{hdrs}')
    out = subprocess.run(["wrk", "-t1", "-c8", f"-d{SECONDS}s", "-s", str(lua),
                          f"http://127.0.0.1:{port}{path}"], capture_output=True,
                         text=True, timeout=SECONDS + 30).stdout
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def test_throughput_ratios(tmp_path):
    up, node_port = free_port(), free_port()
    server = "\n".join([
        location("/plain", "off", upstream=f"127.0.0.1:{up}"),
        location("/verify", "standard", [SECRET], upstream=f"127.0.0.1:{up}"),
        location("/node", "off", upstream=f"127.0.0.1:{node_port}"),
    ])
    http = f"server {{ listen 127.0.0.1:{up}; location / {{ return 200 'ok'; }} }}"
    node = None
    results = {}
    with Nginx(tmp_path, server, http=http) as ng:
        modules = os.environ.get("POSTSEAL_NODE_MODULES")
        if modules and shutil.which("node"):
            (tmp_path / "app.js").write_text(NODE_APP)
            node = subprocess.Popen(["node", str(tmp_path / "app.js"), modules, SECRET,
                                     str(node_port)])
            assert wait_port(node_port, node)
        try:
            for size in (1024, 65536):
                # JSON: the Node verifier parses what it verified
                body = b'{"data":"' + os.urandom((size - 11) // 2).hex().encode() + b'"}'

                bf = tmp_path / f"body{size}"
                bf.write_bytes(body)
                hdrs = sign_standard(SECRET, "msg_bench", int(time.time()), body)
                results[(size, "nginx plain proxy")] = wrk(ng.port, "/plain", bf, {}, tmp_path)
                results[(size, "nginx + webhook_verify")] = wrk(ng.port, "/verify", bf, hdrs,
                                                                tmp_path)
                if node:
                    results[(size, "nginx -> node verifier")] = wrk(ng.port, "/node", bf, hdrs,
                                                                    tmp_path)
                    results[(size, "node verifier alone")] = wrk(node_port, "/", bf, hdrs,
                                                                 tmp_path)
        finally:
            if node:
                node.terminate()
                node.wait()
    for size in (1024, 65536):
        ceiling = results[(size, "nginx plain proxy")]
        print(f"\nbody {size} bytes, wrk -t1 -c8 -d{SECONDS}s, one nginx worker:")
        for (s, name), rps in results.items():
            if s == size:
                print(f"  {name:26s} {rps:10.0f} req/s  {rps / ceiling:5.2f} of plain nginx")
    assert results[(1024, "nginx + webhook_verify")] > 0.3 * results[(1024, "nginx plain proxy")]
