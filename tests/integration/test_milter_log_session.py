"""Milter log lines an admin can join: the RCPT-stage lines (bounce-rcpt)
come before Postfix has a queue id for the first recipient, so every line
of a connection carries session=, a per-connection id; the queue id is
logged at RCPT as soon as Postfix gives it ("i" in milter_rcpt_macros).
Proof through a real Postfix: a bounce's RCPT lines and its end-of-message
line share the session, the second RCPT line the end-of-message qid, and
two connections get two sessions. The milter asks for "i" at RCPT itself
(smfi_setsymlist), so an admin's milter_rcpt_macros without it changes
nothing."""

import os
import re
import subprocess

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


def check_rcpt_lines_join(stack, rcpt):
    rp_addr, dsn = postfix_dsn(stack, rcpt)
    mark = len(stack.milter.log())
    code, text = stack.pf.smtp_send(dsn, "<>", [rp_addr, rp_addr], xclient={
        "ADDR": "203.0.113.9", "NAME": "[UNAVAILABLE]"})
    assert code == 250, text
    stack.sink.wait_for(1)
    pattern = r"event=bounce qid=\w+ [^\n]*recipient=" + re.escape(rcpt) + r"[^\n]*"
    eom = fields(stack.milter.wait_log(pattern, after=mark).group(0))
    rcpts = lines_after(stack, mark, "bounce-rcpt")
    assert len(rcpts) == 2, rcpts
    assert all(r["session"] == eom["session"] for r in rcpts), (rcpts, eom)
    assert all(r["client"] == "203.0.113.9" for r in rcpts), rcpts
    # Postfix makes the queue file after the first recipient is accepted:
    # from the second one on, the milter has the queue id at RCPT.
    assert rcpts[1]["qid"] == eom["qid"], (rcpts, eom)
    decision = lines_after(stack, mark, "decision")
    assert [d["session"] for d in decision] == [eom["session"]], decision


def test_rcpt_and_eom_lines_share_session_and_qid(stack):
    check_rcpt_lines_join(stack, f"session@{GONE}")


def postconf(stack, setting):
    subprocess.run(["postconf", "-c", stack.pf.etc, "-e", setting], check=True)


def test_qid_at_rcpt_without_i_in_milter_rcpt_macros(stack):
    # stopped and started, not reloaded: no smtpd of the old setting left
    stack.pf.stop()
    postconf(stack, "milter_rcpt_macros={rcpt_mailer}")
    stack.pf.start()
    try:
        check_rcpt_lines_join(stack, f"nomacro@{GONE}")
    finally:
        stack.pf.stop()
        subprocess.run(["postconf", "-c", stack.pf.etc, "-X", "milter_rcpt_macros"],
                       check=True)
        stack.pf.start()


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
