#!/usr/bin/python3
"""Steps 3 to 5 of `make demo`: real mail through a private Postfix.

    /usr/bin/python3 tests/demo/demo_mail.py BUILD_DIR WORK_DIR

WORK_DIR holds what tests/demo/demo.sh made in steps 1-2: the two keys for
example.test (example.test.s2026r.pem, example.test.s2026e.pem) and the
output of `postseal dns` for each (dns.s2026r.txt, dns.s2026e.txt).

3. postseal-milter signs a message sent through a private Postfix (relaying
   to smtp-sink); dkimpy verifies both signatures against the exact TXT
   records postseal printed.
4. postseal-policyd holds a SASL login to 3 messages an hour: the 4th is
   deferred; `postseal quota show` prints the counter.
5. The milter gives outbound mail a signed return path; a bounce to it
   becomes one JSON event, a forged bounce address is refused at RCPT.
5b. What Prometheus scrapes from both daemons' metrics endpoints after
   that traffic (promtool checks each exposition).
5c. A bounce reaches an application as a signed webhook: postseal-policyd
   follows Postfix's log ([events]) and POSTs the failed event to an
   [endpoint] on loopback; `postseal webhook verify` checks the saved
   request (tests/demo/demo_events.py, its own small stack).

Everything runs on 127.0.0.1 with files in WORK_DIR (the private Postfix
lives in a slot of tests/integration/mailstack.py, removed at exit); every
process started is stopped at exit, on failure or interruption too. Exit
status 0 when every step did what it should, 1 otherwise. Step 4 is skipped
(exit 0) when postseal-policyd is not built.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import mailstack as ms  # noqa: E402
from demo_common import DemoFailed, say, show_cmd, stop_on_signals  # noqa: E402
from demo_events import step_events  # noqa: E402

DOMAIN = "example.test"
SELECTORS = ("s2026r", "s2026e")


def step(title):
    print(f"\n==== {title}", flush=True)


def run(argv, ok=(0,)):
    """Runs argv, printing the command and its output; the result."""
    show_cmd(argv)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    out = (r.stdout + r.stderr).rstrip("\n")
    if out:
        say(out)
    if r.returncode not in ok:
        raise DemoFailed(f"{os.path.basename(argv[0])} exited {r.returncode}")
    return r


def indent(text, pre="    "):
    return "\n".join(pre + line for line in text.splitlines())


def published_records(work):
    """{"s2026r._domainkey.example.test": "v=DKIM1; ..."} from the lines
    `postseal dns` printed in step 2, the quoted strings joined as a
    resolver joins a TXT record's character-strings."""
    records = {}
    for sel in SELECTORS:
        text = open(os.path.join(work, f"dns.{sel}.txt")).read()
        m = re.search(rf"^({sel}\._domainkey\.{re.escape(DOMAIN)})\.\s+\d+\s+IN\s+TXT\s+(.*)$",
                      text, re.M)
        if not m:
            raise DemoFailed(f"no DKIM TXT record for selector {sel} in the postseal dns output")
        parts = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2))
        records[m.group(1).lower()] = "".join(re.sub(r"\\(.)", r"\1", p) for p in parts)
    return records


def swaks(port, *args):
    """Runs swaks against the private Postfix; (exit status, the reply
    that decided the message: the one to the end of DATA, or the first
    error), printing the command an admin would type."""
    argv = ["swaks", "--server", "127.0.0.1", "--port", str(port), *args]
    show_cmd(argv)
    r = subprocess.run(argv + ["--timeout", "30"], capture_output=True, text=True,
                       timeout=90)
    text = r.stdout + r.stderr
    err = re.search(r"^<~?\*\* +(\d{3}[ -].*)$", text, re.M)
    if err:
        return r.returncode, err.group(1), text
    replies = re.findall(r"^<[-~] +(\d{3}[ -].*)$", text, re.M)
    data_end = [x for x in replies if x.startswith("250") and "queued" in x]
    return r.returncode, (data_end or replies or ["(no reply)"])[-1], text


class Demo:
    def __init__(self, build, work):
        self.build = os.path.abspath(build)
        self.work = os.path.abspath(work)
        self.postseal = os.path.join(self.build, "postseal")
        self.milter_bin = os.path.join(self.build, "postseal-milter")
        self.policyd_bin = os.path.join(self.build, "postseal-policyd")
        self.conf = os.path.join(self.work, "postseal.conf")
        self.stack = contextlib.ExitStack()
        self.daemons = []

    # ---- helpers -----------------------------------------------------------

    def daemon(self, argv, port, name):
        show_cmd(argv, background=True)
        log = os.path.join(self.work, f"{name}.log")
        try:
            d = ms.Daemon(argv, port=port, log_path=log)
        except Exception as e:
            raise DemoFailed(f"{name} did not start: {e}")
        self.stack.callback(d.stop)
        self.daemons.append((name, d))
        say(f"  ({name} listening on 127.0.0.1:{port}, pid {d.pid}, log {log})")
        return d

    def postfix(self, sink, main, milter):
        pf = ms.PostfixInstance(sink, milter=milter, non_smtpd_milter=milter, main=main,
                                hostname="mx.example.test", keep=False)
        self.stack.callback(pf.close)
        return pf

    def tail_logs(self):
        for name, d in self.daemons:
            with contextlib.suppress(Exception):
                text = d.log().strip()
                if text:
                    say(f"--- last lines of {name}'s log ---")
                    say("\n".join(text.splitlines()[-15:]))

    # ---- step 3: DKIM signing ----------------------------------------------

    def step3(self):
        if not os.access(self.milter_bin, os.X_OK):
            raise DemoFailed(f"{self.milter_bin} not built (run make)")
        import dkim  # python3-dkim (make deps); before anything is started
        records = published_records(self.work)
        milter_port = ms.free_port()
        self.metrics = {"postseal-milter": ms.free_port()}

        step("3. DKIM signing through a real Postfix (postseal-milter)")
        say("A postseal.conf for the milter: sign mail from example.test with both keys")
        say("in one pass, for authenticated clients and for the hosts in internal_hosts.")
        ms.write_ini(self.conf, {
            "milter": {"socket": f"inet:{milter_port}@127.0.0.1", "mode": "sign",
                       "internal_hosts": "127.0.0.0/8",
                       "metrics": f"inet:127.0.0.1:{self.metrics['postseal-milter']}"},
            "keys": {"rsa": f"{DOMAIN} s2026r {self.work}/{DOMAIN}.s2026r.pem",
                     "ed": f"{DOMAIN} s2026e {self.work}/{DOMAIN}.s2026e.pem"},
            "signing": {DOMAIN: "rsa, ed"},
        })
        say(indent(open(self.conf).read().rstrip()))
        say()
        say("Check it (every file it names, each key parsed) before starting anything:")
        run([self.postseal, "check", "-c", self.conf])
        run([self.milter_bin, "-n", "-c", self.conf])
        say()
        say("Start the milter (in production: its systemd unit, without -f):")
        self.daemon([self.milter_bin, "-c", self.conf, "-f"], milter_port, "postseal-milter")

        self.sink = ms.SmtpSink(dump_dir=self._sink_dir())
        self.stack.callback(self.sink.close)
        spec = f"inet:127.0.0.1:{milter_port}"
        main = {"local_header_rewrite_clients": ""}
        pf = self.postfix(self.sink, main, spec)
        say()
        say(f"A private Postfix (smtpd on 127.0.0.1:{pf.port}, relaying everything to an")
        say(f"smtp-sink on 127.0.0.1:{self.sink.port} that stands in for the receiving server),")
        say("with the lines an admin adds to main.cf:")
        say(f"    smtpd_milters = {spec}")
        say(f"    non_smtpd_milters = {spec}")
        say("    milter_default_action = tempfail   # milter down: defer, never send unsigned")
        say()
        say("Send one message from example.test:")
        rc, reply, text = swaks(pf.port, "--from", f"alice@{DOMAIN}", "--to", "bob@example.net",
                                "--header", "Subject: postseal demo",
                                "--body", "Signed by postseal-milter.")
        say(f"  -> {reply}")
        if rc != 0:
            raise DemoFailed(f"swaks failed ({rc}):\n{text}")

        try:
            [dump] = self.sink.wait_for(1)
        except TimeoutError:
            raise DemoFailed("the message never reached the sink:\n" + pf.log()[-2000:])
        msg = ms.message_of(dump)
        with open(os.path.join(self.work, "delivered.eml"), "wb") as f:
            f.write(msg)
        sigs = ms.header_values(msg, "DKIM-Signature")
        say()
        say(f"The message as the receiving server got it carries {len(sigs)} DKIM-Signature")
        say("fields (d= the signing domain, s= the selector whose TXT record holds the key,")
        say("a= the algorithm, bh= the body hash, b= the signature):")
        for v in sigs:
            say("DKIM-Signature:" + v.replace("\r", ""))
        if len(sigs) != 2:
            raise DemoFailed(f"expected 2 DKIM-Signature fields, got {len(sigs)}")

        say()
        say("Verify each one with dkimpy (what many receivers run), the key looked up in")
        say("the TXT records exactly as postseal dns printed them in step 2:")

        def dnsfunc(name, timeout=5):
            name = name.decode() if isinstance(name, bytes) else name
            rec = records.get(name.rstrip(".").lower())
            return rec.encode() if rec is not None else None

        results = []
        for i, v in enumerate(sigs):
            algo = re.search(r"(?:^|;)\s*a\s*=\s*([\w-]+)", v)
            algo = algo.group(1) if algo else "?"
            try:
                ok = dkim.DKIM(msg).verify(idx=i, dnsfunc=dnsfunc)
            except dkim.DKIMException as e:
                say(f"  {algo}: {e}")
                ok = False
            results.append((algo, ok))
        say("dkimpy: " + " / ".join(f"{a} {'pass' if ok else 'FAIL'}" for a, ok in results))
        if sorted(a for a, _ in results) != ["ed25519-sha256", "rsa-sha256"]:
            raise DemoFailed(f"expected an rsa-sha256 and an ed25519-sha256 signature, got "
                             f"{[a for a, _ in results]}")
        if not all(ok for _, ok in results):
            raise DemoFailed("a DKIM signature did not verify")
        say("Both pass: once the records are published, receivers that know only RSA")
        say("check the rsa-sha256 signature, the others either one (RFC 8463).")
        say(f"(The message is kept as {self.work}/delivered.eml until the demo ends;")
        say(" 'dkimverify < delivered.eml' checks it against the live DNS.)")
        self.pf3 = self.pf = pf

    def _sink_dir(self):
        d = os.path.join(self.work, "sink")
        os.makedirs(d, exist_ok=True)
        # smtp-sink runs as postfix: it must be able to reach its directory
        os.chmod(self.work, 0o711)
        return d

    # ---- step 4: quotas ----------------------------------------------------

    def step4(self):
        step("4. Per-login quotas through the same Postfix (postseal-policyd)")
        if not os.access(self.policyd_bin, os.X_OK):
            say(f"SKIPPED: {self.policyd_bin} is not built, so there is no quota step yet.")
            return
        pd_port = ms.free_port()
        self.metrics["postseal-policyd"] = mport = ms.free_port()
        say("Add the policy daemon's sections to the same postseal.conf: every SASL login")
        say("may send 3 messages in any hour; the counters live in an LMDB file.")
        with open(self.conf, "a") as f:
            f.write(f"[policyd]\nlisten = inet:127.0.0.1:{pd_port}\nuser = root\n"
                    f"metrics = inet:127.0.0.1:{mport}\n"
                    f"store = lmdb:{self.work}/quota\n\n"
                    "[limits]\nsasl_username = messages 3/1h\n")
        text = open(self.conf).read()
        say(indent(text[text.index("[policyd]"):].rstrip()))
        say()
        say("Check it; -n also prints the main.cf lines the limits need:")
        run([self.policyd_bin, "-n", "-c", self.conf])
        say()
        self.daemon([self.policyd_bin, "-c", self.conf, "-f"], pd_port, "postseal-policyd")

        svc = f"check_policy_service inet:127.0.0.1:{pd_port}"
        main = {"local_header_rewrite_clients": "",
                "smtpd_recipient_restrictions": svc,
                "smtpd_end_of_data_restrictions": svc,
                "smtpd_policy_service_default_action": "451 4.3.5 Policy service unavailable"}
        # a fresh private Postfix with these lines (and the milter, as before)
        self.pf3.close()
        pf = self.postfix(self.sink, main, f"inet:127.0.0.1:{self._milter_port()}")
        self.pf = pf
        say()
        say(f"Postfix (now on 127.0.0.1:{pf.port}) gets these main.cf lines:")
        say(f"    smtpd_recipient_restrictions = {svc}")
        say(f"    smtpd_end_of_data_restrictions = {svc}")
        say("    smtpd_policy_service_default_action = 451 4.3.5 Policy service unavailable")
        say()
        say("Send 4 messages as the SASL login app1@example.test (XCLIENT LOGIN= makes")
        say("Postfix treat the session as if the client had authenticated with AUTH):")
        accepted = 0
        for n in range(1, 5):
            say(f"message {n}:")
            rc, reply, text = swaks(pf.port, "--from", f"app1@{DOMAIN}", "--to",
                                    "bob@example.net", "--xclient", f"LOGIN=app1@{DOMAIN}",
                                    "--header", f"Subject: quota demo {n}")
            if n <= 3:
                if rc != 0 or not reply.startswith("250"):
                    raise DemoFailed(f"message {n} should have been accepted:\n{text}")
                accepted += 1
                say(f"  -> accepted: {reply}")
            else:
                if rc == 0 or not re.match(r"4\d\d", reply):
                    raise DemoFailed(f"message 4 should have been deferred (4xx), got: "
                                     f"{reply}\n{text}")
                say(f"  -> deferred: {reply}")
        try:
            self.sink.wait_for(accepted)
        except TimeoutError:
            raise DemoFailed("the accepted messages never reached the sink:\n"
                             + pf.log()[-2000:])
        say()
        say(f"The first {accepted} were delivered. The 4th got a 4xx: a temporary refusal,")
        say("so a real client keeps the message and retries; it goes through once the")
        say("window has room again (the text says when). Each login has its own counter.")
        say()
        say("What the counter holds now (read from the LMDB file, the daemon may run):")
        r = run([self.postseal, "quota", "show", "-c", self.conf], ok=(0, 1))
        if "app1@example.test" not in r.stdout:
            raise DemoFailed("postseal quota show does not list app1@example.test")
        say("'postseal quota reset sasl_username:app1@example.test -c FILE' lets the")
        say("login send again at once.")

    def _milter(self):
        for name, d in self.daemons:
            if name == "postseal-milter":
                return d
        raise DemoFailed("postseal-milter is not running")

    def _milter_port(self):
        return self._milter().port

    # ---- step 5: return paths and bounces ----------------------------------

    def step5(self):
        step("5. Signed return paths and bounces (postseal-milter)")
        secrets = os.path.join(self.work, "retpath.secrets")
        events = os.path.join(self.work, "bounces.jsonl")
        say("A secret for return-path tokens (one per line, the first signs; add a new")
        say("first line to rotate, keep the old one below until its bounces are in):")
        show_cmd(["openssl", "rand", "-base64", "32"])
        with open(os.open(secrets, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write("base64:" + subprocess.run(["openssl", "rand", "-base64", "32"],
                                               capture_output=True, text=True,
                                               check=True).stdout)
        rp = f"rp.{DOMAIN}"
        with open(self.conf, "a") as f:
            f.write(f"\n[return_path]\ndomain = {rp}\nsecret_file = {secrets}\n"
                    f"rewrite = {DOMAIN}\nevents = {events}\n")
        text = open(self.conf).read()
        say(indent(text[text.index("[return_path]"):].rstrip()))
        run([self.milter_bin, "-n", "-c", self.conf])
        say(f"Reload the milter (SIGHUP: open connections keep going):\n"
            f"$ kill -HUP {self._milter().pid}")
        milter = self._milter()
        mark = len(milter.log())
        milter.signal(signal.SIGHUP)
        milter.wait_log(r"reload result=ok", after=mark)
        say()
        say(f"Send a message from alice@{DOMAIN}:")
        rc, reply, text = swaks(self.pf.port, "--from", f"alice@{DOMAIN}", "--to",
                                "carol@example.net", "--header", "Subject: return path demo")
        if rc != 0:
            raise DemoFailed(f"swaks failed ({rc}):\n{text}")
        try:
            [dump] = self.sink.wait_for(1)
        except TimeoutError:
            raise DemoFailed("the message never reached the sink:\n" + self.pf.log()[-2000:])
        mail = ms.envelope_of(dump)["mail"].split(" ")[0].strip("<>")
        say(f"The receiving server saw MAIL FROM:<{mail}>")
        if not mail.endswith("@" + rp):
            raise DemoFailed(f"the return path was not rewritten: {mail}")
        run([self.postseal, "retpath", "decode", "--secret-file", secrets, "--domain", rp, mail])
        say()
        say("That server bounces it later; the bounce comes back to the return path:")
        bounce = (f"From: MAILER-DAEMON@example.net\r\nTo: {mail}\r\n"
                  "Subject: Undelivered Mail Returned to Sender\r\n\r\n"
                  "This is the mail system at host example.net.\r\n\r\n"
                  "                   The mail system\r\n\r\n"
                  "<carol@example.net>: host mx.example.net[192.0.2.7] said: 550 5.1.1\r\n"
                  "    <carol@example.net>: Recipient address rejected: User unknown\r\n")
        code, text = self.pf.smtp_send(bounce.encode(), "<>", [mail],
                                       xclient={"ADDR": "192.0.2.7"})
        if code != 250:
            raise DemoFailed(f"the bounce was not accepted: {code} {text}")
        self.sink.wait_for(1)
        say(f"One event per bounced recipient, appended to {events}:")
        lines = open(events).read().splitlines() if os.path.exists(events) else []
        say(indent("\n".join(lines)))
        if len(lines) != 1 or "carol@example.net" not in lines[0]:
            raise DemoFailed("expected one bounce event for carol@example.net")
        say()
        say("A bounce to a return path we never issued (backscatter) is refused:")
        forged = "b.AAAAAAAAAA.aaaa.aaaaaaaaaa@" + rp
        rc, reply, text = swaks(self.pf.port, "--from", "", "--to", forged)
        say(f"  -> {reply}")
        if not reply.startswith("550"):
            raise DemoFailed(f"the forged bounce address was not refused: {reply}")

    # ---- step 5b: metrics -------------------------------------------------

    def step_metrics(self):
        import metrics_scrape as mx
        step("5b. Metrics for Prometheus (metrics = in [milter] and [policyd])")
        say("Each daemon answers GET /metrics in Prometheus's text format; the")
        say("counters below moved with the mail of steps 3 to 5 (series still at 0,")
        say("histogram buckets and HELP/TYPE lines left out here):")
        for name, port in self.metrics.items():
            show_cmd(["curl", "-s", f"http://127.0.0.1:{port}/metrics"])
            status, _, text = mx.fetch(port)
            if status != 200:
                raise DemoFailed(f"{name}'s metrics endpoint answered {status}")
            mx.promtool_check(text)
            lines = [line for line in text.splitlines()
                     if line and not line.startswith("#") and "_bucket{" not in line
                     and not line.endswith(" 0")]
            say(indent("\n".join(lines[:14])))
            say(f"  ({len(text.splitlines())} lines in all; promtool check metrics: OK)")

    # ---- main --------------------------------------------------------------

    def main(self):
        with self.stack:
            try:
                self.step3()
                self.step4()
                self.step5()
                self.step_metrics()
                if os.access(self.policyd_bin, os.X_OK):
                    step_events(self, step, indent, swaks, DOMAIN)
            except Exception as e:  # DemoFailed, or the harness's RuntimeError/TimeoutError
                self.tail_logs()
                say(f"\ndemo FAILED: {e}")
                return 1
        return 0


def main(argv):
    if len(argv) != 3:
        print(f"usage: {argv[0]} BUILD_DIR WORK_DIR", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("demo: the mail steps start a private Postfix and need root", file=sys.stderr)
        return 1
    stop_on_signals()
    return Demo(argv[1], argv[2]).main()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
