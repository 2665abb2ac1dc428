"""postseal-policyd on Redis: two daemons sharing one redis-server hold one
combined limit exactly under 50 concurrent senders; a Redis that stops or
hangs mid-run gets the configured store_down answer within the timeout,
and the daemons reconnect by themselves when it is back."""

import os
import re
import signal
import time

import pytest

from policyd_harness import (PolicyClient, Policyd, RedisServer, concurrent_messages,
                             needs_policyd, wait_for)

pytestmark = needs_policyd

TIMEOUT_S = 0.100  # PS_STORE_TIMEOUT_MS


@pytest.fixture
def redis():
    with RedisServer() as r:
        yield r


def start_pair(tmp_path, redis, limits, policyd=None):
    pds = [Policyd(tmp_path, limits=limits, store=redis.url, policyd=policyd, name=f"pd{i}")
           for i in range(2)]
    for pd in pds:
        pd.wait_log(r"event=store_up store=redis")
    return pds


def test_two_daemons_one_exact_limit_under_50_senders(tmp_path, redis):
    limit = 137
    pds = start_pair(tmp_path, redis, {"sasl_username": f"messages {limit}/1h, "
                                                       f"recipients {3 * limit}/1h"})
    try:
        answers = concurrent_messages([pd.port for pd in pds], "shared@example.com")
        assert len(answers) == 400
        ok = sum(a == "DUNNO" for a in answers)
        assert ok == limit, (ok, [a for a in answers if a != "DUNNO"][:3])
        assert all(a == "DUNNO" or a.startswith("DEFER_IF_PERMIT quota exceeded for "
                                                "sasl_username:shared@example.com")
                   for a in answers)
        shown = pds[0].admin("show", "sasl_username:shared@example.com")
        assert f": messages {limit}/1h, used {limit}, frees in " in shown.stdout, shown.stdout
        assert f": recipients {3 * limit}/1h, used {2 * limit}\n" in shown.stdout, shown.stdout
        charged = sum(pd.log().count("event=charged") for pd in pds)
        assert charged == limit
    finally:
        for pd in pds:
            pd.stop()


def timed_eod(c, user, inst):
    t = time.monotonic()
    got = c.message(user, inst, state_rcpt=False)[0]
    return got, time.monotonic() - t


def test_redis_stopped_and_back(tmp_path, redis):
    pds = start_pair(tmp_path, redis, {"sasl_username": "messages 100/1h"},
                     policyd={"store_down": "DEFER_IF_PERMIT"})
    try:
        with PolicyClient(pds[0].port) as c, PolicyClient(pds[1].port) as d:
            assert timed_eod(c, "u@x", "1")[0] == "DUNNO"
            redis.stop()
            for cl, inst in ((c, "2"), (d, "3"), (c, "4")):
                got, took = timed_eod(cl, "u@x", inst)
                assert got == "DEFER_IF_PERMIT quota service temporarily unavailable", got
                assert took < TIMEOUT_S + 0.4, took
            redis.start()
            for pd in pds:
                pd.wait_log(r"event=store_up store=redis", after=pd.log().find("event=store_down"))
            assert wait_for(lambda: timed_eod(c, "u@x", f"r{time.monotonic()}")[0] == "DUNNO")
            assert timed_eod(d, "u@x", "5")[0] == "DUNNO"
        for pd in pds:
            assert re.search(r"event=store_down store=redis reason=", pd.log())
    finally:
        for pd in pds:
            pd.stop()


def test_redis_hung_answers_within_timeout(tmp_path, redis):
    [pd, other] = start_pair(tmp_path, redis, {"sasl_username": "messages 100/1h"})
    other.stop()
    try:
        with PolicyClient(pd.port) as c:
            assert timed_eod(c, "h@x", "1")[0] == "DUNNO"
            os.kill(redis.proc.pid, signal.SIGSTOP)
            try:
                # steady traffic through several reconnect attempts: a
                # stopped server still accepts TCP connects (issue 15.8)
                end, i = time.monotonic() + 2.5, 0
                while i < 3 or time.monotonic() < end:
                    got, took = timed_eod(c, "h@x", f"x{i}")
                    assert got == "DUNNO", got  # store_down = DUNNO (default)
                    assert took < TIMEOUT_S + 0.4, took
                    i += 1
                    time.sleep(0.02)
            finally:
                os.kill(redis.proc.pid, signal.SIGCONT)
            assert wait_for(lambda: timed_eod(c, "h@x", f"y{time.monotonic()}")[0] == "DUNNO"
                            and "event=store_up" in pd.log()[pd.log().find("event=store_down"):])
        log = pd.log()
        # one line for the outage, one for its end: however many attempts
        # the reconnect loop made in between (issue 15.8)
        assert log.count("event=store_down") == 1, log
        assert re.search(r"event=store_down store=redis reason=.*no answer within 100 ms", log), log
        assert re.search(r"event=store_up store=redis server=127\.0\.0\.1:\d+ down_for=\d+\.\ds "
                         r"requests_failed=[1-9]", log), log
        assert log.count("event=store_up") == 2, log  # start, then the end of the outage
    finally:
        pd.stop()


def test_redis_hang_does_not_charge_requests_answered_store_down(tmp_path, redis):
    """A request queued in a hung Redis runs when it resumes: the script
    then finds its deadline passed and charges nothing, since the daemon
    answered store_down (here DEFER_IF_PERMIT: the message was deferred)."""
    [pd, other] = start_pair(tmp_path, redis, {"sasl_username": "messages 100/1h"},
                             policyd={"store_down": "DEFER_IF_PERMIT"})
    other.stop()
    try:
        accepted = 0
        with PolicyClient(pd.port) as c:
            for i in range(3):
                assert timed_eod(c, "late@x", f"pre{i}")[0] == "DUNNO"
                accepted += 1
            os.kill(redis.proc.pid, signal.SIGSTOP)
            try:
                for i in range(3):
                    got = timed_eod(c, "late@x", f"hung{i}")[0]
                    assert got == "DEFER_IF_PERMIT quota service temporarily unavailable", got
                    time.sleep(0.3)
            finally:
                os.kill(redis.proc.pid, signal.SIGCONT)
            assert wait_for(lambda: timed_eod(c, "late@x", f"after{time.monotonic()}")[0]
                            == "DUNNO")
            accepted += 1
        shown = pd.admin("show", "sasl_username:late@x")
        assert re.search(rf"messages \d+/1h, used {accepted}\b", shown.stdout), shown
    finally:
        pd.stop()
