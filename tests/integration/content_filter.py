"""A small content filter on loopback, as amavisd-new sits behind Postfix's
content_filter: it takes each message over SMTP and re-injects it,
unchanged, into a second smtpd of the same Postfix, then answers with the
re-injection's reply the way amavisd-new does ("250 2.0.0 from
MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as QID"). A message
with "X-Reinject: milter" goes to the listener `milter_port` (if given),
any other to `port`."""
import smtplib

from smtp_server import SmtpHandler, SmtpServer


class _Handler(SmtpHandler):
    NAME = "filter.test"

    def message(self, sender, rcpts, data):
        port = self.server.reinject
        if self.server.milter_port and b"\nX-Reinject: milter" in data:
            port = self.server.milter_port
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.ehlo("filter.test")
            s.mail(sender)
            for r in rcpts:
                code, text = s.rcpt(r)
                if code >= 300:
                    return f"{code} {text.decode()}"
            code, text = s.data(data)
        return f"250 2.0.0 from MTA(smtp:[127.0.0.1]:{port}): {code} {text.decode()}"


class ContentFilter(SmtpServer):
    """Listens on a free loopback port; re-injects into 127.0.0.1:reinject
    (and milter_port for messages marked X-Reinject: milter)."""

    def __init__(self, reinject, milter_port=None):
        super().__init__(_Handler, reinject=reinject, milter_port=milter_port)
