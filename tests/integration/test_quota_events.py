"""Quota events (issue 14, point 1): postseal-policyd appends
limit_approaching when a window passes [policyd] warn_at and
limit_exceeded when a request is refused over a limit, to the [events]
spool that `postseal events list` reads, with the counter's key (the
credential and the kind of limit) and the window; the warning once per
window, the refusal once per period however often it repeats.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_quota_events.py
"""

import json
import os
import subprocess

import pytest

import mailstack as ms
from policyd_harness import PolicyClient

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
POLICYD = os.path.join(BUILD, "postseal-policyd")
CLI = os.path.join(BUILD, "postseal")

pytestmark = pytest.mark.skipif(not os.access(POLICYD, os.X_OK), reason="daemon not built")


def spool(conf):
    r = subprocess.run([CLI, "events", "list", "--json", "-c", conf],
                       capture_output=True, text=True, check=True)
    assert r.stderr == "", r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_limit_events_in_the_spool(tmp_path):
    events = tmp_path / "events"
    events.mkdir()
    port = ms.free_port()
    conf = ms.write_ini(str(tmp_path / "postseal.conf"), {
        "policyd": {"listen": f"inet:127.0.0.1:{port}", "store": f"lmdb:{tmp_path}/quota",
                    "warn_at": "50%", "over_quota": "REJECT"},
        "limits": {"sasl_username": "messages 4/1h"},
        "events": {"dir": str(events)},
    })
    with ms.Daemon([POLICYD, "-f", "-c", conf], port=port) as pd, PolicyClient(port) as c:
        answers = [c.message("app1@example.com", f"i{k}", state_rcpt=False)[-1]
                   for k in range(7)]
        assert answers[:4] == ["DUNNO"] * 4, answers
        assert all(a.startswith("REJECT quota exceeded") for a in answers[4:]), answers
        # another credential under its limit: nothing
        assert c.message("app2@example.com", "j1", state_rcpt=False)[-1] == "DUNNO"
        got = spool(conf)
        pd.wait_log(r"event=event .*event=limit_exceeded")
    kinds = [(e["event"], e["credential"]) for e in got]
    assert kinds == [("limit_approaching", "sasl_username:app1@example.com"),
                     ("limit_exceeded", "sasl_username:app1@example.com")], got
    for e in got:
        assert e["reply"].startswith("messages 4/1h, used "), e
        assert len(e["id"]) == 32, e
    assert got[0]["id"] != got[1]["id"]
