"""A small content filter on loopback, as amavisd-new sits behind Postfix's
content_filter: it takes each message over SMTP and re-injects it,
unchanged, into a second smtpd of the same Postfix, then answers with the
re-injection's reply the way amavisd-new does ("250 2.0.0 from
MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as QID"). A message
with "X-Reinject: milter" goes to the listener `milter_port` (if given),
any other to `port`."""
import smtplib
import socketserver
import threading

from mailstack import free_port


class _Handler(socketserver.StreamRequestHandler):
    def _say(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def _relay(self, sender, rcpts, data):
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

    def handle(self):
        self._say("220 filter.test ESMTP")
        sender, rcpts = "", []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").strip()
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO"):
                self._say("250 filter.test")
            elif verb == "MAIL":
                sender, rcpts = cmd[10:].split(" ")[0].strip("<>"), []
                self._say("250 2.1.0 ok")
            elif verb == "RCPT":
                rcpts.append(cmd[8:].split(" ")[0].strip("<>"))
                self._say("250 2.1.5 ok")
            elif verb == "DATA":
                self._say("354 go ahead")
                data = []
                while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    data.append(line[1:] if line.startswith(b".") else line)
                self._say(self._relay(sender, rcpts, b"".join(data)))
            elif verb == "QUIT":
                self._say("221 2.0.0 bye")
                return
            else:
                self._say("250 2.0.0 ok")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ContentFilter:
    """Listens on a free loopback port; re-injects into 127.0.0.1:reinject
    (and milter_port for messages marked X-Reinject: milter)."""

    def __init__(self, reinject, milter_port=None):
        self.port = free_port()
        self.server = _Server(("127.0.0.1", self.port), _Handler)
        self.server.reinject = reinject
        self.server.milter_port = milter_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
