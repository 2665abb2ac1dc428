"""postseal-milter's envelope counters through a real Postfix (the stack
of test_milter_envelope.py, with [milter] metrics set): a return path
given, a bounce to it recorded, a forged one refused, SRS made for
forwarded mail and reversed for its bounce; each moves its counter by
exactly one, and promtool accepts the exposition."""

import smtplib

import pytest

import mailstack as ms
import metrics_scrape as mx
import test_milter_envelope as env

pytestmark = env.pytestmark


class Stack(env.Stack):
    def __init__(self, tmp):
        self.mport = ms.free_port()
        super().__init__(tmp)
        ms.wait_port(self.mport)

    def write_conf(self, discard="no", events=None):
        super().write_conf(discard, events)
        with open(self.conf) as f:
            text = f.read()
        with open(self.conf, "w") as f:
            f.write(text.replace("[milter]\n",
                                 f"[milter]\nmetrics = inet:127.0.0.1:{self.mport}\n", 1))


@pytest.fixture(scope="module")
def stack():
    with ms.running(Stack, "postseal-menv-") as s:
        yield s


def test_envelope_counters(stack):
    before = mx.scrape(stack.mport)
    rcpt = "exim@remote.example"
    mail, _ = env.send_outbound(stack, "app@example.com", [rcpt])
    assert mail.endswith("@" + env.RP), mail
    n = len(stack.events_lines())
    source, text = env.TEXT_BOUNCES["exim"]
    code, reply = env.bounce_in(stack, mail, ("To: " + mail + "\r\n"
                                              + text.format(rcpt=rcpt)).encode())
    assert code == 250, reply
    assert len(env.new_events(stack, n, 1)) == 1
    stack.sink.wait_for(1)
    local, _, dom = mail.partition("@")
    forged = local[:-1] + ("a" if local[-1] != "a" else "b") + "@" + dom
    with smtplib.SMTP("127.0.0.1", stack.pf.port, timeout=60) as s:
        s.ehlo("mx.remote.example")
        s.mail("<>")
        assert s.rcpt(forged)[0] == 550
    env.forward(stack, "someone@remote.example", ["friend@elsewhere.example"])
    srs_addr, _ = env.sink_envelope(stack)
    assert srs_addr.startswith("SRS0="), srs_addr
    code, reply = stack.pf.smtp_send(b"Subject: bounce\r\n\r\nno\r\n", "<>", [srs_addr],
                                     xclient=env.OUTSIDE)
    assert code == 250, reply
    mail2, rcpts = env.sink_envelope(stack)
    assert rcpts == ["someone@remote.example"]
    after = mx.scrape(stack.mport)
    d = lambda name, **lab: mx.delta(before, after, name, **lab)  # noqa: E731
    assert d("postseal_milter_return_paths_rewritten_total") == 1
    assert d("postseal_milter_bounces_total", outcome="recorded") == 1
    assert d("postseal_milter_bounces_total", outcome="refused") == 1
    assert d("postseal_milter_srs_total", direction="forward") == 1
    assert d("postseal_milter_srs_total", direction="reverse") == 1
    assert after.total("postseal_milter_tempfails_total") == 0
    assert "remote.example" not in after.text and "SRS0" not in after.text
