"""The small SMTP server loop the test doubles share (a content filter, a
relay with chosen outcomes): one thread per connection on loopback; a
subclass answers RCPT and takes each message, everything else is the
same plain dialogue."""
import socketserver
import threading

from mailstack import free_port


class SmtpHandler(socketserver.StreamRequestHandler):
    """EHLO, MAIL, RCPT, DATA (dot-unstuffed), QUIT. Subclasses set NAME
    and may override rcpt() and message()."""

    NAME = "smtp.test"

    def _say(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def rcpt(self, arg):
        """The reply to RCPT TO:arg; a 250 adds the address."""
        return "250 2.1.5 ok"

    def message(self, sender, rcpts, data):
        """The reply to the end of DATA."""
        return "250 2.0.0 ok"

    def _data(self):
        data = []
        while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
            data.append(line[1:] if line.startswith(b".") else line)
        return b"".join(data)

    def _command(self, cmd, env):
        """Answers one command; False at QUIT."""
        verb = cmd[:4].upper()
        if verb in ("EHLO", "HELO"):
            self._say(f"250 {self.NAME}")
        elif verb == "MAIL":
            env[:] = [cmd[10:].split(" ")[0].strip("<>"), []]
            self._say("250 2.1.0 ok")
        elif verb == "RCPT":
            reply = self.rcpt(cmd[8:])
            if reply.startswith("250") and env:
                env[1].append(cmd[8:].split(" ")[0].strip("<>"))
            self._say(reply)
        elif verb == "DATA":
            if not env or not env[1]:
                self._say("554 5.5.1 no valid recipients")
                return True
            self._say("354 go ahead")
            self._say(self.message(env[0], env[1], self._data()))
        elif verb == "QUIT":
            self._say("221 2.0.0 bye")
            return False
        else:
            self._say("250 2.0.0 ok")
        return True

    def handle(self):
        self._say(f"220 {self.NAME} ESMTP")
        env = []
        while line := self.rfile.readline():
            if not self._command(line.decode(errors="replace").strip(), env):
                return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SmtpServer:
    """handler served on a free loopback port (port), in a thread;
    attributes given are set on the socketserver, where handlers read
    them as self.server.NAME."""

    def __init__(self, handler, **attrs):
        self.port = free_port()
        self.server = _Server(("127.0.0.1", self.port), handler)
        for k, v in attrs.items():
            setattr(self.server, k, v)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
