"""Step 5c of `make demo`: a bounce arriving at an application as a signed
webhook. Its own small stack (the one of steps 3-5 relays to smtp-sink,
which refuses nobody): a private Postfix signing through postseal-milter
and relaying to tests/integration/smtp_outcomes.py (550 to "refuse*"),
postseal-policyd following Postfix's log ([events]) and POSTing the failed
event to an [endpoint] on loopback, a small receiver that saves each
request as it got it; `postseal webhook verify` checks the saved one."""

import http.server
import json
import os
import subprocess
import threading
import time

import mailstack as ms
from demo_common import DemoFailed, say, show_cmd
from smtp_outcomes import OutcomeServer

PATH = "/hooks/mail"


class Receiver:
    """An HTTP server on 127.0.0.1 keeping every POST as raw bytes
    (request line, headers as sent, empty line, body); answers 200."""

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                head = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
                outer.requests.append(f"{self.requestline}\r\n{head}\r\n".encode() + body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, timeout=60):
        end = time.monotonic() + timeout
        while not self.requests and time.monotonic() < end:
            time.sleep(0.2)
        if not self.requests:
            raise DemoFailed("no webhook arrived at the receiver")
        return self.requests[0]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def write_whsec(work, name):
    """A Standard Webhooks secret (whsec_ + 24 random bytes, base64), mode 0600."""
    show_cmd(["sh", "-c", f"echo whsec_$(openssl rand -base64 24) > {name}; chmod 600 {name}"])
    raw = subprocess.run(["openssl", "rand", "-base64", "24"], capture_output=True,
                         text=True, check=True).stdout.strip()
    path = os.path.join(work, name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(f"whsec_{raw}\n")
    return path


def step_events(demo, step, indent, swaks, domain):
    """demo: the Demo of demo_mail.py (its daemon(), postfix(), ExitStack
    and work directory); the others are demo_mail's printing helpers."""
    step("5c. A bounce reaches the application as a signed webhook (postseal-policyd)")
    work, stack = demo.work, demo.stack
    remote = OutcomeServer()
    stack.callback(remote.close)
    rx = Receiver()
    stack.callback(rx.close)
    mport, pport = ms.free_port(), ms.free_port()
    pf = demo.postfix(remote.port, {}, f"inet:127.0.0.1:{mport}")
    say(f"A receiving server on 127.0.0.1:{remote.port} refusing refuse.* recipients (550),")
    say(f"a private Postfix on 127.0.0.1:{pf.port} relaying to it and logging to {pf.maillog},")
    say(f"and the application's webhook receiver on http://127.0.0.1:{rx.port}{PATH}.")
    say("The application's secret:")
    secret = write_whsec(work, "app.whsec")
    conf = os.path.join(work, "postseal-events.conf")
    ms.write_ini(conf, {
        "milter": {"socket": f"inet:{mport}@127.0.0.1", "mode": "sign",
                   "internal_hosts": "127.0.0.0/8"},
        "keys": {"ed": f"{domain} s2026e {work}/{domain}.s2026e.pem"},
        "signing": {domain: "ed"},
        "policyd": {"listen": f"inet:127.0.0.1:{pport}", "store": f"lmdb:{work}/events-store"},
        "events": {"dir": f"{work}/events", "maillog": pf.maillog},
    })
    os.mkdir(os.path.join(work, "events"))
    with open(conf, "a") as f:
        f.write(f"[endpoint app]\nurl = http://127.0.0.1:{rx.port}{PATH}\nfor = all\n"
                f"events = failed, bounced\nsecret = {secret}\n")
    say(f"{conf}: the milter records each message it signs in [events] dir; policyd")
    say("follows Postfix's log, joins each delivery line to that record and POSTs the")
    say("events [endpoint app] asks for (http only to this host; https elsewhere):")
    say(indent(open(conf).read().rstrip()))
    demo.daemon([demo.milter_bin, "-c", conf, "-f"], mport, "postseal-milter-events")
    demo.daemon([demo.policyd_bin, "-c", conf, "-f"], pport, "postseal-policyd-events")
    say()
    say("Send one message to a recipient the receiving server accepts and one it refuses:")
    rc, reply, text = swaks(pf.port, "--from", f"alice@{domain}", "--to",
                            "dave@example.net,refuse.erin@example.net",
                            "--header", "Subject: events demo")
    if rc != 0:
        raise DemoFailed(f"swaks failed ({rc}):\n{text}")
    say(f"  -> {reply}")
    try:
        pf.wait_log(r"to=<refuse\.erin@example\.net>.*status=bounced")
    except TimeoutError:
        raise DemoFailed("Postfix never bounced refuse.erin:\n" + pf.log()[-2000:])
    raw = rx.wait()
    saved = os.path.join(work, "webhook-request.txt")
    with open(saved, "wb") as f:
        f.write(raw)
    say()
    say(f"Postfix logged the 550; the receiver got this POST (saved as {saved}):")
    say(indent(raw.decode(errors="replace").replace("\r\n", "\n").rstrip()))
    say()
    say("The application checks the signature with the same secret (here postseal's")
    say("own verifier; any Standard Webhooks library does the same):")
    show_cmd([demo.postseal, "webhook", "verify", "--scheme", "standard",
              "--secret-file", secret, saved])
    r = subprocess.run([demo.postseal, "webhook", "verify", "--scheme", "standard",
                        "--secret-file", secret, saved], capture_output=True, text=True)
    say(indent((r.stdout + r.stderr).rstrip()) or "    (no output)")
    if r.returncode != 0:
        raise DemoFailed(f"the webhook did not verify (exit {r.returncode})")
    say("  -> exit 0: signature verified")
    event = json.loads(raw.partition(b"\r\n\r\n")[2])
    if event["event"] != "failed" or event["recipient"] != "refuse.erin@example.net":
        raise DemoFailed(f"expected the failed event for refuse.erin, got {event}")
    say("The sent event for dave is in the spool too, but [endpoint app] does not ask")
    say("for it: 'postseal events list -c FILE' shows every event, delivered or not.")
