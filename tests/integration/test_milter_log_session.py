"""Milter log lines an admin can join: the RCPT-stage lines (bounce-rcpt)
come before Postfix has a queue id for the first recipient, so every line
of a connection carries session=, a per-connection id; the queue id is
logged at RCPT as soon as Postfix gives it ("i" in milter_rcpt_macros).
Proof through a real Postfix: a bounce's RCPT lines and its end-of-message
line share the session, the second RCPT line the end-of-message qid, and
two connections get two sessions."""

import os
import re

import pytest

import mailstack as ms
from test_milter_bounce_rcpt import postfix_dsn
from test_milter_envelope import GONE, MILTER, Stack, bounce_in

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK), reason="postseal-milter not built")


@pytest.fixture(scope="module")
def stack():
    with ms.running(Stack, "postseal-log-session-") as s:
        yield s


def fields(line):
    return dict(re.findall(r"(\w+)=(\S+)", line))


def lines_after(stack, mark, event):
    return [fields(l) for l in stack.milter.log()[mark:].splitlines()
            if f"event={event} " in l]


def test_rcpt_and_eom_lines_share_session_and_qid(stack):
    rp_addr, dsn = postfix_dsn(stack, f"session@{GONE}")
    mark = len(stack.milter.log())
    code, text = stack.pf.smtp_send(dsn, "<>", [rp_addr, rp_addr], xclient={
        "ADDR": "203.0.113.9", "NAME": "[UNAVAILABLE]"})
    assert code == 250, text
    stack.sink.wait_for(1)
    eom = fields(stack.milter.wait_log(r"event=bounce qid=\w+ [^\n]*recipient=session@[^\n]*",
                                       after=mark).group(0))
    rcpts = lines_after(stack, mark, "bounce-rcpt")
    assert len(rcpts) == 2, rcpts
    assert all(r["session"] == eom["session"] for r in rcpts), (rcpts, eom)
    assert all(r["client"] == "203.0.113.9" for r in rcpts), rcpts
    # Postfix makes the queue file after the first recipient is accepted:
    # from the second one on, the milter has the queue id at RCPT.
    assert rcpts[1]["qid"] == eom["qid"], (rcpts, eom)
    decision = lines_after(stack, mark, "decision")
    assert [d["session"] for d in decision] == [eom["session"]], decision


def test_connections_get_different_sessions(stack):
    sessions = []
    for n in range(2):
        rp_addr, dsn = postfix_dsn(stack, f"other{n}@{GONE}")
        mark = len(stack.milter.log())
        code, text = bounce_in(stack, rp_addr, dsn)
        assert code == 250, text
        stack.sink.wait_for(1)
        line = stack.milter.wait_log(r"event=bounce-rcpt [^\n]*", after=mark).group(0)
        sessions.append(fields(line)["session"])
    assert sessions[0] != sessions[1], sessions
