"""Faults: postseal-milter killed with SIGKILL, twice, while concurrent SMTP
clients send through a real Postfix (milter_default_action = tempfail).
Each client retries a refused message, as an MTA would. Nothing is lost
and nothing goes out unsigned: every attempt the clients saw accepted
(250 after DATA) reaches smtp-sink exactly once with a DKIM signature
dkimpy verifies; every attempt refused got a 4xx, never a 5xx; no attempt
refused reaches the sink.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest -s tests/integration/test_faults_milter.py
"""

import os
import re
import smtplib
import threading
import time

import dkim
import pytest

import mailstack as ms
from faults_harness import Tally, figures

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK), reason="postseal-milter not built")

MESSAGES = 100
CLIENTS = 8
KILL_AT = (25, 60)  # SIGKILL once this many messages were accepted
MAX_ATTEMPTS = 1000  # per message (a minute or more): far more than two outages cost


class Stack:
    def __init__(self, tmp):
        self.key = ms.DkimKey(tmp, "fault", "rsa")
        self.port = ms.free_port()
        self.conf = ms.write_ini(os.path.join(tmp, "postseal.conf"), {
            "milter": {"socket": f"inet:{self.port}@127.0.0.1", "mode": "sign",
                       "internal_hosts": "127.0.0.0/8"},
            "keys": {"fault": f"example.com fault {self.key.path}"},
            "signing": {"example.com": "fault"},
        })
        self.log_path = os.path.join(tmp, "milter.log")
        self.milter = None
        self.start_milter()
        self.sink = ms.SmtpSink()
        self.pf = ms.PostfixInstance(self.sink, milter=f"inet:127.0.0.1:{self.port}",
                                     main={"milter_default_action": "tempfail"})

    def start_milter(self):
        # the port may sit in TIME_WAIT for a moment after a kill
        for attempt in range(20):
            try:
                self.milter = ms.Daemon([MILTER, "-f", "-c", self.conf], port=self.port,
                                        log_path=self.log_path)
                return
            except RuntimeError:
                if attempt == 19:
                    raise
                time.sleep(0.5)

    def kill_milter(self):
        self.milter.proc.kill()
        self.milter.proc.wait()
        self.milter.stop()  # closes its log

    def close(self):
        """Stops everything; fails if the milter log (all its lives) holds a
        sanitizer report (make SANITIZE=1, POSTSEAL_BUILD=build-san)."""
        report = ms.shutdown(self.pf, self.sink, self.milter)
        assert report is None, report


@pytest.fixture
def stack(tmp_path):
    os.chmod(tmp_path, 0o755)
    s = Stack(str(tmp_path))
    yield s
    s.close()


def message(n, attempt):
    return (f"From: App <app@example.com>\r\nTo: bob@example.net\r\n"
            f"Subject: fault test {n}\r\nMessage-ID: <fault-{n}.{attempt}@example.com>\r\n"
            f"X-Fault-Id: {n}.{attempt}\r\n\r\n"
            f"message {n}, attempt {attempt}\r\n" + "body line\r\n" * 20).encode()


def send_once(pf, n, attempt):
    """One SMTP transaction: ("accepted", None) on 250 after DATA, else
    ("refused", code) with the SMTP code of the refusal (None: the server
    closed without one)."""
    try:
        with smtplib.SMTP("127.0.0.1", pf.port, local_hostname="client.example.test",
                          timeout=120) as s:
            s.sendmail("app@example.com", ["bob@example.net"], message(n, attempt))
        return "accepted", None
    except smtplib.SMTPRecipientsRefused as e:
        return "refused", next(iter(e.recipients.values()))[0]
    except smtplib.SMTPResponseException as e:
        return "refused", e.smtp_code
    except (smtplib.SMTPServerDisconnected, ConnectionError):
        return "refused", None


def client(pf, numbers, tally):
    for n in numbers:
        for attempt in range(MAX_ATTEMPTS):
            outcome, code = send_once(pf, n, attempt)
            if outcome == "accepted":
                tally.add("accepted", f"{n}.{attempt}")
                break
            tally.add("refused", (f"{n}.{attempt}", code))
            time.sleep(0.05)
        else:
            tally.add("gave_up", n)


def kill_twice(stack, tally, done):
    """SIGKILLs the milter when KILL_AT[i] messages are accepted; restarts
    it once a client was refused meanwhile (so the outage was seen)."""
    for at in KILL_AT:
        while tally["accepted"] < at and not done.is_set():
            time.sleep(0.01)
        if done.is_set():
            return
        refused = tally["refused"]
        stack.kill_milter()
        tally.add("kills")
        end = time.monotonic() + 60
        while tally["refused"] == refused and time.monotonic() < end and not done.is_set():
            time.sleep(0.01)
        stack.start_milter()


def dnsfunc(key):
    def lookup(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return key.record.encode() if name.rstrip(".") == key.dns_name else None
    return lookup


def queue_files(pf):
    """The messages still in the instance's queue (its main.cf names it)."""
    conf = open(os.path.join(pf.etc, "main.cf")).read()
    spool = re.search(r"^queue_directory\s*=\s*(\S+)", conf, re.M).group(1)
    assert os.path.isdir(os.path.join(spool, "active")), spool
    return [os.path.join(d, f) for q in ("maildrop", "incoming", "active", "deferred", "hold")
            for d, _, fs in os.walk(os.path.join(spool, q)) for f in fs]


def test_milter_sigkill_under_load_loses_nothing_signs_everything(stack):
    tally, done = Tally(), threading.Event()
    t0 = time.monotonic()
    killer = threading.Thread(target=kill_twice, args=(stack, tally, done))
    killer.start()
    threads = [threading.Thread(target=client,
                                args=(stack.pf, range(i, MESSAGES, CLIENTS), tally))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    done.set()
    killer.join(120)
    sent_s = time.monotonic() - t0

    accepted = tally.lists["accepted"]
    refused = tally.lists["refused"]
    assert tally["kills"] == len(KILL_AT)
    assert not tally.lists["gave_up"]
    assert len(accepted) == MESSAGES
    assert sorted(int(a.split(".")[0]) for a in accepted) == list(range(MESSAGES))
    codes = sorted({c for _, c in refused}, key=str)
    assert refused, "no client saw the outages"
    assert all(c is not None and 400 <= c < 500 for c in codes), codes

    dumps = stack.sink.wait_for(len(accepted), timeout=120)
    end = time.monotonic() + 60
    while queue_files(stack.pf) and time.monotonic() < end:
        time.sleep(0.2)
    assert not queue_files(stack.pf), "mail left in the Postfix queue"
    assert not [f for f in stack.sink.files() if f not in stack.sink._seen], \
        "more deliveries than accepted attempts"

    delivered, verified = [], 0
    for dump in dumps:
        msg = ms.message_of(dump)
        [fid] = ms.header_values(msg, "X-Fault-Id")
        delivered.append(fid.strip())
        sigs = ms.header_values(msg, "DKIM-Signature")
        assert len(sigs) == 1, (fid, msg[:800])
        assert dkim.verify(msg, dnsfunc=dnsfunc(stack.key)), (fid, msg[:800])
        verified += 1
    assert sorted(delivered) == sorted(accepted), "delivered != accepted"

    figures("milter_sigkill", messages=MESSAGES, clients=CLIENTS, kills=tally["kills"],
            accepted=len(accepted), refused_attempts=len(refused),
            refusal_codes=",".join(map(str, codes)), delivered=len(delivered),
            duplicates=len(delivered) - len(set(delivered)), verified=verified,
            unsigned=len(delivered) - verified, wall=f"{sent_s:.1f}s")
