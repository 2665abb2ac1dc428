"""postseal's own delivery events, verified by postseal's nginx module
(issue 14: "the core's webhook code signs, so the nginx module verifies
what postseal sends"): test_events.py's stack (a real Postfix signing
through postseal-milter, relaying to a server that refuses one recipient,
postseal-policyd following its log) with one Standard Webhooks
`[endpoint app]` for failed and bounced events only, over http to
loopback, at nginx with `webhook_verify standard`, the same whsec_ file
and a replay zone, proxying to an upstream that records every request.
After a real bounce (the refusal, then the DSN brought back to the
signed return path) the upstream must get exactly the failed and bounced
events, verified, with $webhook_id the spooled event's id; the same POST
again is refused 409.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_webhooks_nginx.py
"""

import json
import os

import pytest

import mailstack as ms
from nginx_harness import Nginx, Upstream, location, needs_module
from test_events import MILTER, OUTSIDE, POLICYD, RP, Stack
from test_webhooks import wait_for
from webhook_receiver import make_whsec

pytestmark = [needs_module, pytest.mark.skipif(
    not (os.access(MILTER, os.X_OK) and os.access(POLICYD, os.X_OK)),
    reason="daemons not built")]

PATH = "/hooks/postseal"


class NginxStack(Stack):
    """test_events' stack whose postseal.conf, before policyd first
    starts, sends failed and bounced events to nginx in front of an
    upstream that records them."""

    def start_policyd(self):
        if not hasattr(self, "ng"):
            self.add_nginx()
        super().start_policyd()

    def add_nginx(self):
        self.secret, self.secret_file = make_whsec(self.tmp)
        self.up = Upstream()
        self.ng = Nginx(self.tmp, location(
            PATH, "standard", [f"file={self.secret_file}"],
            extra="webhook_verify_replay zone=wh;"),
            http="webhook_verify_replay_zone wh:1m;", upstream=self.up).start()
        with open(self.conf, "a") as f:
            f.write(f"\n[endpoint app]\nurl = http://127.0.0.1:{self.ng.port}{PATH}\n"
                    f"for = all\nevents = failed, bounced\nsecret = {self.secret_file}\n"
                    "retry_first = 1\n")

    def close(self):
        try:
            super().close()
        finally:
            self.ng.stop()
            self.up.stop()


@pytest.fixture(scope="module")
def stack():
    with ms.running(NginxStack, "postseal-whnginx-") as s:
        yield s


def test_bounce_verified_by_nginx_and_replay_refused(stack):
    q = stack.send("hi", "n1@example.com", ["ok1@dest.test", "refuse1@dest.test"],
                   xclient={"LOGIN": "app1@example.com"})
    stack.pf.wait_log(rf"{q}: to=<ok1@dest.test>.*status=sent")
    stack.pf.wait_log(rf"{q}: to=<refuse1@dest.test>.*status=bounced")
    # the DSN Postfix sent to the signed return path comes back from outside
    _, rp_rcpts, dsn = stack.remote.wait_for("@" + RP)
    code, text = stack.pf.smtp_send(dsn, "<>", rp_rcpts, xclient=OUTSIDE)
    assert code == 250, text
    stack.milter.wait_log(r"event=bounce .*recipient=refuse1@dest.test")
    stack.wait_caught_up()

    spool = {e["id"]: e for e in stack.spool() if e["qid"] == q}
    want = {i for i, e in spool.items() if e["event"] in ("failed", "bounced")}
    assert {spool[i]["event"] for i in want} == {"failed", "bounced"}, spool
    assert "sent" in {e["event"] for e in spool.values()}  # there, but not wanted
    wait_for(lambda: {r.headers["x-webhook-id"] for r in stack.up.requests} >= want,
             "upstream did not get the failed and bounced events", stack)
    # each acknowledged: its 200 seen by policyd, so nothing more is coming
    wait_for(lambda: all(f"id={i} result=delivered status=200" in stack.pd.log() for i in want),
             "delivery not logged", stack)

    got = list(stack.up.requests)
    assert len(got) == len(want), [r.headers["x-webhook-id"] for r in got]  # nothing else
    for r in got:
        assert r.method == "POST" and r.path == PATH
        assert r.headers["x-webhook-verified"] == "1"
        assert r.headers["x-webhook-scheme"] == "standard"
        ev = json.loads(r.body)
        assert r.headers["x-webhook-id"] == r.headers["webhook-id"] == ev["id"]
        assert ev == spool[ev["id"]]
        assert ev["recipient"] == "refuse1@dest.test"
        assert ev["credential"] == "app1@example.com"

    # the same POST again: nginx's replay zone refuses it, upstream untouched
    r = got[0]
    hdrs = {k: r.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    hdrs["Content-Type"] = "application/json"
    assert stack.ng.request(PATH, r.body, hdrs)[0] == 409
    assert len(stack.up.requests) == len(want)
    # and an altered body is refused before the upstream too
    assert stack.ng.request(PATH, r.body.replace(b"refuse1", b"refuse2"), hdrs)[0] == 401
    assert len(stack.up.requests) == len(want)
