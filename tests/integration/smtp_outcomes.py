"""A small SMTP server on loopback whose answer to each RCPT depends on the
recipient's local part: one starting "defer" gets 450 (as does "later"
until release()), "refuse" gets 550,
any other 250; the messages it takes are kept (sender, recipients, data). Postfix relays to it to produce real sent, deferred and
bounced delivery lines in its log (tests/integration/test_events.py)."""
import time

from smtp_server import SmtpHandler, SmtpServer


class _Handler(SmtpHandler):
    NAME = "outcomes.test"

    def rcpt(self, arg):
        local = arg.partition("<")[2].partition("@")[0].lower()
        if local.startswith("defer") or (local.startswith("later") and
                                         not self.server.released):
            return "450 4.2.0 <%s> mailbox busy, try later" % local
        if local.startswith("refuse"):
            return "550 5.1.1 <%s> no such user here" % local
        return "250 2.1.5 ok"

    def message(self, sender, rcpts, data):
        self.server.messages.append((sender, list(rcpts), data))
        self.server.delivered += 1
        return "250 2.0.0 queued as OUT%d" % self.server.delivered


class OutcomeServer(SmtpServer):
    """Accepts, defers (450) or refuses (550) each recipient by its local
    part; port is where Postfix relays to."""

    def __init__(self):
        # released: "later..." deferred until release()
        super().__init__(_Handler, delivered=0, messages=[], released=False)

    def wait_for(self, rcpt_suffix, timeout=30.0):
        """The first message kept for a recipient ending in rcpt_suffix:
        (sender, recipients, data)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for m in list(self.server.messages):
                if any(r.endswith(rcpt_suffix) for r in m[1]):
                    return m
            time.sleep(0.1)
        raise TimeoutError(f"no message for *{rcpt_suffix}")

    def release(self):
        """From now on a "later..." recipient is accepted."""
        self.server.released = True
