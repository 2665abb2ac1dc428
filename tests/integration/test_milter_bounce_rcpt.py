"""Bounces are recorded only for recipients the message was sent to.

A return path is visible to everyone who received the message; with it
anyone could send, for max_age days, a DSN naming any address and have it
recorded as a failed recipient. The milter keeps, per message reference,
keyed hashes of the message's recipients (DIR/sent/DAY/REF beside the
events file) and records only bounced recipients among them. Proof
through a real Postfix: a DSN Postfix itself made, forged to name a
recipient the message never had, gives no event (logged as
recipient-not-sent); the genuine one still gives its event."""

import email
import os
import re

import pytest

import mailstack as ms
from test_milter_envelope import GONE, MILTER, RP, Stack, bounce_in, message, new_events

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK), reason="postseal-milter not built")

FORGED = "ceo@partner.example"


@pytest.fixture(scope="module")
def stack():
    with ms.running(Stack, "postseal-bounce-rcpt-") as s:
        yield s


def postfix_dsn(stack, rcpt):
    """Sends rcpt a message (its next hop refuses it); the DSN Postfix
    makes for the return path, and that return path."""
    sender = "app@example.com"
    code, text = stack.pf.smtp_send(message(sender, rcpt), sender, [rcpt],
                                    xclient={"LOGIN": sender})
    assert code == 250, text
    dump = stack.sink.wait_for(1)[0]
    rp_addr = ms.envelope_of(dump)["rcpt"][0].split(" ")[0].strip("<>")
    assert rp_addr.endswith("@" + RP), rp_addr
    dsn = ms.message_of(dump)
    assert email.message_from_bytes(dsn).get_content_type() == "multipart/report"
    assert rcpt.encode() in dsn
    return rp_addr, dsn


def test_records_beside_events_hold_no_address(stack):
    postfix_dsn(stack, f"hashed@{GONE}")
    sent = os.path.join(os.path.dirname(stack.events), "sent")
    files = [os.path.join(d, f) for d, _, fs in os.walk(sent) for f in fs]
    assert files, "no recipient record written"
    text = b"".join(open(f, "rb").read() for f in files)
    assert b"hashed" not in text and GONE.encode() not in text
    assert all(re.fullmatch(rb"[0-9a-f]{32}", line) for line in text.split(b"\n") if line)


def test_forged_recipient_gives_no_event_genuine_one_does(stack):
    real = f"nobody@{GONE}"
    rp_addr, dsn = postfix_dsn(stack, real)
    forged = dsn.replace(real.encode(), FORGED.encode())
    assert real.encode() not in forged

    before = len(stack.events_lines())
    mark = len(stack.milter.log())
    code, text = bounce_in(stack, rp_addr, forged)
    assert code == 250, text  # delivered as it is, so a person can look
    stack.milter.wait_log(r"bounce qid=\S+ ref=\S+ recipient=" + re.escape(FORGED) +
                          r" verdict=recipient-not-sent", after=mark)
    stack.sink.wait_for(1)
    assert len(stack.events_lines()) == before

    code, text = bounce_in(stack, rp_addr, dsn)
    assert code == 250, text
    ev = new_events(stack, before, 1)
    assert [e["recipient"] for e in ev] == [real], ev
    stack.sink.wait_for(1)


def test_dsn_naming_both_records_only_the_real_one(stack):
    real = f"both@{GONE}"
    rp_addr, dsn = postfix_dsn(stack, real)
    # A second per-recipient group naming the forged address.
    doubled = re.sub(rb"(Final-Recipient: rfc822; )" + re.escape(real.encode()) +
                     rb"(.*?\r\n\r\n)",
                     lambda m: m.group(0) + m.group(0).replace(real.encode(), FORGED.encode()),
                     dsn, count=1, flags=re.S)
    assert FORGED.encode() in doubled
    before = len(stack.events_lines())
    code, text = bounce_in(stack, rp_addr, doubled)
    assert code == 250, text
    ev = new_events(stack, before, 1)
    stack.sink.wait_for(1)
    stack.milter.wait_log(r"recipient=" + re.escape(FORGED) + r" verdict=recipient-not-sent")
    assert [e["recipient"] for e in stack.events_lines()[before:]] == [real], ev
