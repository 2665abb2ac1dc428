"""RCPT requests per second of postseal-policyd (LMDB store) with and
without a [suppression] section: one client, one connection, sequential
requests, seven rounds side by side; only the median ratio means anything on a
shared machine. Not part of `make bench`.

Run: /usr/bin/python3 tests/bench/bench-suppression.py [BUILD]
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../integration"))
import mailstack as ms  # noqa: E402
from policyd_harness import PolicyClient  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../build")
POLICYD = os.path.join(BUILD, "postseal-policyd")
def run(supp, n=20000):
    with tempfile.TemporaryDirectory() as tmp:
        port = ms.free_port()
        sect = {"policyd": {"listen": f"inet:127.0.0.1:{port}", "store": f"lmdb:{tmp}/q"},
                "limits": {"sasl_username": "messages 1000000/1h"}}
        if supp:
            sect["suppression"] = {}
        conf = ms.write_ini(os.path.join(tmp, "c.conf"), sect)
        with ms.Daemon([POLICYD, "-f", "-c", conf], port=port), PolicyClient(port) as c:
            t = time.perf_counter()
            for i in range(n):
                a = c.ask(protocol_state="RCPT", instance=f"i{i}", sasl_username="app@example.com",
                          sender="app@example.com", client_address="192.0.2.1",
                          recipient=f"r{i}@dest.test")
                assert a == "DUNNO", a
            return n / (time.perf_counter() - t)
ratios = []
for rnd in range(7):
    off, on = run(False, 10000), run(True, 10000)
    ratios.append(on / off)
    print(f"round {rnd}: RCPT req/s off {off:.0f}  on {on:.0f}  ratio on/off {on/off:.2f}")
print(f"median ratio on/off: {sorted(ratios)[len(ratios) // 2]:.2f}")
