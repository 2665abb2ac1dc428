"""A small SMTP server on loopback whose answer to each RCPT depends on the
recipient's local part: one starting "defer" gets 450 (as does "later"
until release()), "refuse" gets 550,
any other 250; the messages it takes are kept (sender, recipients, data). Postfix relays to it to produce real sent, deferred and
bounced delivery lines in its log (tests/integration/test_events.py)."""
import socket
import socketserver
import threading
import time

from mailstack import free_port


class _Handler(socketserver.StreamRequestHandler):
    def _say(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def _rcpt(self, arg):
        local = arg.partition("<")[2].partition("@")[0].lower()
        if local.startswith("defer") or (local.startswith("later") and
                                         not self.server.released):
            return "450 4.2.0 <%s> mailbox busy, try later" % local
        if local.startswith("refuse"):
            return "550 5.1.1 <%s> no such user here" % local
        self.accepted += 1
        return "250 2.1.5 ok"

    def handle(self):
        self.accepted = 0
        self._say("220 outcomes.test ESMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").strip()
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO"):
                self._say("250 outcomes.test")
            elif verb == "MAIL":
                self.accepted = 0
                self.envelope = (cmd[10:].split(" ")[0].strip("<>"), [])
                self._say("250 2.1.0 ok")
            elif verb == "RCPT":
                reply = self._rcpt(cmd[8:])
                if reply.startswith("250"):
                    self.envelope[1].append(cmd[8:].split(" ")[0].strip("<>"))
                self._say(reply)
            elif verb == "DATA":
                if not self.accepted:
                    self._say("554 5.5.1 no valid recipients")
                    continue
                self._say("354 go ahead")
                data = []
                while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    data.append(line[1:] if line.startswith(b".") else line)
                self.server.messages.append((*self.envelope, b"".join(data)))
                self.server.delivered += 1
                self._say("250 2.0.0 queued as OUT%d" % self.server.delivered)
            elif verb == "QUIT":
                self._say("221 2.0.0 bye")
                return
            else:
                self._say("250 2.0.0 ok")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class OutcomeServer:
    """Accepts, defers (450) or refuses (550) each recipient by its local
    part; port is where Postfix relays to."""

    def __init__(self):
        self.port = free_port()
        self.server = _Server(("127.0.0.1", self.port), _Handler)
        self.server.delivered = 0
        self.server.messages = []
        self.server.released = False  # "later..." deferred until release()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

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

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
