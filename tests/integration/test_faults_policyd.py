"""Faults: postseal-policyd under a SIGHUP storm, SIGKILLed and restarted
on its LMDB store, and on a Redis that stops or hangs (SIGSTOP), each
while clients speak the policy protocol as Postfix does (RCPT, then
END-OF-MESSAGE; a request whose connection drops is sent once more on a
new connection, as smtpd_policy_service_try_limit = 2 does).

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest -s tests/integration/test_faults_policyd.py
"""

import os
import re
import signal
import subprocess
import threading
import time

import pytest

from faults_harness import Tally, figures, latency_summary
from mailstack import write_ini
from policyd_harness import (PolicyClient, Policyd, RedisServer, build_dir, needs_policyd,
                             wait_for)

pytestmark = needs_policyd

LIMIT = 50
USER = "app@example.com"
KEY = f"sasl_username:{USER}"
STORE_TIMEOUT_S = 0.100  # the documented store answer timeout (100 ms)
LATENCY_BOUND_S = 10 * STORE_TIMEOUT_S  # generous: the machine may be loaded
DOWN_ANSWER = "DEFER_IF_PERMIT quota service temporarily unavailable"


class PostfixLikeClient:
    """One connection at a time to the daemon; a request that gets no
    answer (connection refused, reset or closed) is sent once more on a
    new connection. ask() returns the answer, or None when both tries
    failed (Postfix would then tempfail the message)."""

    def __init__(self, port, tally):
        self.port, self.tally, self.c = port, tally, None

    def _try(self, attrs):
        try:
            if self.c is None:
                self.c = PolicyClient(self.port, timeout=30)
            got = self.c.ask(**attrs)
        except OSError:
            got = None
        if got is None and self.c is not None:
            self.c.close()
            self.c = None
        return got

    def ask(self, **attrs):
        for attempt in range(2):
            got = self._try(attrs)
            if got is not None:
                return got
            self.tally.add("unanswered_" + attrs["protocol_state"])
        return None

    def message(self, user, instance):
        """RCPT then, if it passed, END-OF-MESSAGE: "accepted", "refused"
        (an answer other than DUNNO) or "unanswered"."""
        common = dict(sasl_username=user, instance=instance, client_address="192.0.2.10",
                      sender="app@example.com")
        for state, extra in (("RCPT", {"recipient": "bob@example.net"}),
                             ("END-OF-MESSAGE", {"recipient_count": 1, "size": 1000})):
            got = self.ask(protocol_state=state, **common, **extra)
            if got is None:
                return "unanswered"
            if got != "DUNNO":
                return "refused"
        return "accepted"

    def close(self):
        if self.c is not None:
            self.c.close()


def quota_used(conf, key=KEY):
    """messages used of key, from `postseal quota show`."""
    r = subprocess.run([str(build_dir() / "postseal"), "quota", "show", key, "-c", conf],
                       capture_output=True, text=True, timeout=30)
    m = re.search(r": messages \d+/\w+, used (\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    return int(m.group(1))


def run_clients(port, tally, n_clients, keep_going, min_each, prefix, pause=0.002):
    """n_clients threads each sending messages for USER while keep_going()
    or until each sent min_each, pause seconds apart; outcomes go to
    tally."""
    def one(i):
        c = PostfixLikeClient(port(), tally)
        k = 0
        while k < min_each or keep_going():
            outcome = c.message(USER, f"{prefix}{i}-{k}")
            tally.add(outcome)
            if outcome == "unanswered":
                c.port = port()
                time.sleep(0.05)
            k += 1
            time.sleep(pause)
        c.close()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    return threads


# ---- SIGHUP storm ---------------------------------------------------------

def test_sighup_storm_drops_nothing_counts_exactly(tmp_path):
    limits_a = {"sasl_username": f"messages {LIMIT}/1h"}
    limits_b = dict(limits_a, **{"sasl_username:other@example.com": "messages 7/1h"})
    with Policyd(tmp_path, limits=limits_a, policyd={"warn_at": "80%"}) as pd:
        confs = []
        for name, limits, warn in (("a", limits_a, "80%"), ("b", limits_b, "90%")):
            confs.append(write_ini(str(tmp_path / f"{name}.conf"), {
                "policyd": {"listen": f"inet:127.0.0.1:{pd.port}", "store": pd.store,
                            "warn_at": warn},
                "limits": limits}))
        tally, storming = Tally(), threading.Event()
        storming.set()
        threads = run_clients(lambda: pd.port, tally, 4, storming.is_set, 20, "hup")
        hups = 0
        for i in range(300):  # each SIGHUP reloads one of two configurations
            tmp = pd.conf + ".new"
            with open(confs[i % 2]) as src, open(tmp, "w") as dst:
                dst.write(src.read())
            os.replace(tmp, pd.conf)
            pd.daemon.signal(signal.SIGHUP)
            hups += 1
            time.sleep(0.003)
        storming.clear()
        for t in threads:
            t.join(120)
        assert pd.daemon.proc.poll() is None, pd.log()[-2000:]
        log = pd.log()
        reloads = len(re.findall(r"event=reload result=ok", log))
        used = quota_used(pd.conf)
        messages = tally["accepted"] + tally["refused"] + tally["unanswered"]
        figures("policyd_sighup_storm", sighups=hups, reloads_logged=reloads, messages=messages,
                accepted=tally["accepted"], refused=tally["refused"],
                unanswered=tally["unanswered"], dropped_requests=tally["unanswered_RCPT"]
                + tally["unanswered_END-OF-MESSAGE"], quota_used=used, limit=LIMIT)
        assert messages > LIMIT
        assert tally["unanswered_RCPT"] == tally["unanswered_END-OF-MESSAGE"] == 0
        assert tally["accepted"] == LIMIT
        assert used == LIMIT
        assert "event=reload result=ok limits=1" in log  # both configurations loaded
        assert "event=reload result=ok limits=2" in log
        assert "result=failed" not in log


# ---- SIGKILL and restart on LMDB -----------------------------------------

def test_sigkill_restart_lmdb_counts_survive_never_over(tmp_path):
    limit = 6 * LIMIT  # room for both kills to land while messages are charged
    with Policyd(tmp_path, limits={"sasl_username": f"messages {limit}/1h"}) as pd:
        tally, sending = Tally(), threading.Event()
        sending.set()
        threads = run_clients(lambda: pd.port, tally, 4, sending.is_set, 10, "kill")
        kills, survived, at_kill = 0, [], []
        for at in (limit // 3, 2 * limit // 3):
            assert wait_for(lambda: tally["accepted"] >= at, timeout=60, step=0.001)
            pd.daemon.proc.kill()
            pd.daemon.proc.wait()
            pd.daemon.stop()  # closes its log
            kills += 1
            accepted_when_killed = tally["accepted"]
            at_kill.append(accepted_when_killed)
            pd.start()
            survived.append(quota_used(pd.conf))
            # every answer a client read was charged first, and the charge outlived the kill
            assert survived[-1] >= accepted_when_killed, (survived, accepted_when_killed)
        assert wait_for(lambda: tally["refused"] >= 20, timeout=60)
        sending.clear()
        for t in threads:
            t.join(120)
        used = quota_used(pd.conf)
        lost_eom = tally["unanswered_END-OF-MESSAGE"]
        figures("policyd_sigkill_lmdb", kills=kills, accepted=tally["accepted"],
                refused=tally["refused"], unanswered_messages=tally["unanswered"],
                eom_without_answer=lost_eom, accepted_at_kills="/".join(map(str, at_kill)),
                used_after_restarts="/".join(map(str, survived)),
                quota_used=used, limit=limit)
        assert used == limit
        # An END-OF-MESSAGE the kill cut off may have been charged without
        # its answer reaching the client: never more than the limit
        # accepted, fewer only by such requests.
        assert limit - lost_eom <= tally["accepted"] <= limit


# ---- Redis stopped and hung -----------------------------------------------

def timed_eom(c, inst):
    t = time.monotonic()
    got = c.ask(protocol_state="END-OF-MESSAGE", sasl_username=USER, instance=inst,
                client_address="192.0.2.10", sender="app@example.com", recipient_count=1,
                size=1000)
    return got, time.monotonic() - t


def until_dunno(c, tally, prefix):
    """Sends END-OF-MESSAGE requests until one is accepted (the store is
    back); each accepted one is counted in tally."""
    k = [0]

    def probe():
        k[0] += 1
        got, _ = timed_eom(c, f"{prefix}{k[0]}")
        if got == "DUNNO":
            tally.add("accepted")
        return got == "DUNNO"
    assert wait_for(probe, timeout=60, step=0.1)


def test_redis_hung_and_stopped_answers_store_down_in_time_then_counts_exactly(tmp_path):
    with RedisServer() as redis, Policyd(tmp_path, store=redis.url,
                                         limits={"sasl_username": f"messages {LIMIT}/1h"},
                                         policyd={"store_down": "DEFER_IF_PERMIT"}) as pd:
        pd.wait_log(r"event=store_up store=redis")
        tally, lat = Tally(), {"hung": [], "stopped": []}
        with PolicyClient(pd.port) as c:
            for i in range(5):
                assert timed_eom(c, f"pre{i}")[0] == "DUNNO"
                tally.add("accepted")
            # hung: the connection stays open, nothing answers
            os.kill(redis.proc.pid, signal.SIGSTOP)
            try:
                for i in range(10):  # spaced, so the daemon reconnects between them
                    got, took = timed_eom(c, f"hung{i}")
                    lat["hung"].append(took)
                    assert got == DOWN_ANSWER, got
                    time.sleep(0.3)
            finally:
                os.kill(redis.proc.pid, signal.SIGCONT)
            until_dunno(c, tally, "afterhang")
            used_after_hang = quota_used(pd.conf)
            # stopped: connections refused; a fresh (empty) Redis comes back
            redis.stop()
            for i in range(10):
                got, took = timed_eom(c, f"down{i}")
                lat["stopped"].append(took)
                assert got == DOWN_ANSWER, got
            redis.start()
            fresh = Tally()
            until_dunno(c, fresh, "back")
            for i in range(2 * LIMIT):
                got, _ = timed_eom(c, f"fill{i}")
                if got == "DUNNO":
                    fresh.add("accepted")
                else:
                    assert got.startswith("DEFER_IF_PERMIT quota exceeded for " + KEY), got
            used_after_restart = quota_used(pd.conf)
        figures("policyd_redis_faults", timeout=f"{STORE_TIMEOUT_S * 1000:.0f}ms",
                hung_answers=len(lat["hung"]), hung_latency=latency_summary(lat["hung"]),
                stopped_answers=len(lat["stopped"]),
                stopped_latency=latency_summary(lat["stopped"]),
                charged_late_after_hang=used_after_hang - tally["accepted"],
                accepted_after_restart=fresh["accepted"], used_after_restart=used_after_restart,
                limit=LIMIT)
        assert max(lat["hung"] + lat["stopped"]) < LATENCY_BOUND_S
        assert used_after_restart == fresh["accepted"] == LIMIT


def test_redis_hang_does_not_charge_requests_answered_store_down(tmp_path):
    with RedisServer() as redis, Policyd(tmp_path, store=redis.url,
                                         limits={"sasl_username": f"messages {LIMIT}/1h"},
                                         policyd={"store_down": "DEFER_IF_PERMIT"}) as pd:
        pd.wait_log(r"event=store_up store=redis")
        tally = Tally()
        with PolicyClient(pd.port) as c:
            for i in range(3):
                assert timed_eom(c, f"pre{i}")[0] == "DUNNO"
                tally.add("accepted")
            os.kill(redis.proc.pid, signal.SIGSTOP)
            try:
                for i in range(3):
                    assert timed_eom(c, f"hung{i}")[0] == DOWN_ANSWER
                    time.sleep(0.3)
            finally:
                os.kill(redis.proc.pid, signal.SIGCONT)
            until_dunno(c, tally, "after")
        assert quota_used(pd.conf) == tally["accepted"]
