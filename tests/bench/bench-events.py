#!/usr/bin/python3
"""The event follower's throughput and memory: N messages' accepted
records (the milter's format) and, per message, Postfix 3.7.11's delivery
lines (sent, deferred, bounced: the lines test_events.py sees, with the
queue id and recipient changed) plus as many lines of mail not signed; one
postseal-policyd reads them all from a cold start. Prints log lines/s,
events/s and the daemon's peak RSS.

Run: /usr/bin/python3 tests/bench/bench-events.py build [MESSAGES]
(part of make bench, at 100,000 messages)."""

import os
import subprocess
import sys
import tempfile
import time

from benchlib import free_port, peak_rss_kb

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
POLICYD = os.path.join(BUILD, "postseal-policyd")

SENT = ("Dec 06 17:07:17 mx postfix/smtp[5707]: {q}: to=<{r}>, relay=127.0.0.1[127.0.0.1]:48833, "
        "delay=0.05, delays=0.02/0.01/0/0.02, dsn=2.0.0, status=sent (250 2.0.0 queued as OUT1)")
DEFER = ("Dec 06 17:07:17 mx postfix/smtp[5707]: {q}: to=<{r}>, relay=127.0.0.1[127.0.0.1]:48833, "
         "delay=0.04, delays=0.02/0.01/0/0.01, dsn=4.2.0, status=deferred (host 127.0.0.1[127.0.0.1] "
         "said: 450 4.2.0 <defer1> mailbox busy, try later (in reply to RCPT TO command))")
QMGR = "Dec 06 17:07:17 mx postfix/qmgr[5691]: {q}: from=<a@example.com>, size=274, nrcpt=3 (queue active)"


def main():
    with tempfile.TemporaryDirectory(prefix="postseal-bench-events-") as tmp:
        events = os.path.join(tmp, "events")
        day = int(time.time()) // 86400
        os.makedirs(os.path.join(events, "accepted", str(day)))
        maillog = os.path.join(tmp, "maillog")
        lines = 0
        with open(os.path.join(events, "accepted", str(day), "messages"), "w") as rec, \
                open(maillog, "w") as log:
            for i in range(N):
                q, other = f"Q{i:010X}", f"N{i:010X}"
                r1, r2 = f"ok{i}@dest.test", f"defer{i}@dest.test"
                rec.write(f"A {int(time.time())} {q} <m{i}@example.com> app@example.com "
                          f"app1@example.com 127.0.0.1 {r1} {r2}\n")
                log.write("\n".join([QMGR.format(q=q), SENT.format(q=q, r=r1),
                                     DEFER.format(q=q, r=r2), QMGR.format(q=other),
                                     SENT.format(q=other, r=r1)]) + "\n")
                lines += 5
        port = free_port()
        conf = os.path.join(tmp, "postseal.conf")
        with open(conf, "w") as f:
            f.write(f"[policyd]\nlisten = inet:127.0.0.1:{port}\nstore = lmdb:{tmp}/quota\nuser = root\n"
                    f"[events]\ndir = {events}\nmaillog = {maillog}\n")
        size = os.path.getsize(maillog)
        t0 = time.monotonic()
        errlog = open(os.path.join(tmp, "policyd.log"), "w+")
        p = subprocess.Popen([POLICYD, "-f", "-c", conf], stdout=errlog, stderr=errlog)
        state = os.path.join(events, "follow.state")
        try:
            while True:
                try:
                    with open(state) as f:
                        if int(f.read().split()[3]) == size:
                            break
                except (FileNotFoundError, IndexError):
                    pass
                if p.poll() is not None:
                    errlog.seek(0)
                    sys.exit("policyd exited: " + errlog.read()[-2000:])
                time.sleep(0.05)
            dt = time.monotonic() - t0
            hwm = peak_rss_kb(p.pid)
        finally:
            p.terminate()
            p.wait()
        spooled = sum(1 for _ in open(os.path.join(events, "spool")))
        assert spooled == 2 * N, spooled
        print(f"events follower: {N} messages, {lines} log lines ({size >> 20} MB), "
              f"{spooled} events in {dt:.2f}s: {lines / dt:,.0f} lines/s, "
              f"{spooled / dt:,.0f} events/s, peak RSS {hwm // 1024} MB")


if __name__ == "__main__":
    main()
