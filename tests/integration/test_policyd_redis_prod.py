"""postseal-policyd on Redis as production runs it: a password
(requirepass) or an ACL user, a unix socket, Redis Sentinel with a
failover; a wrong password refused at start (and answered store_down at
runtime) without the password ever reaching a log; and one parser: the
daemon's start, -n and `postseal check` accept and refuse the same store
settings with the same message.

Every Redis here is Debian's redis-server or redis-sentinel with its own
config file in the test's temp dir, on a private loopback port."""

import os
import re
import subprocess
import time

import pytest

from mailstack import free_port
from policyd_harness import (PolicyClient, Policyd, RedisConf, build_dir, needs_policyd,
                             policyd_bin, wait_for)

pytestmark = needs_policyd

PASSWORD = "Pw-9f3e7c1b"  # must never appear in any output
DOWN = "DEFER_IF_PERMIT quota service temporarily unavailable"


def eod(c, user, inst):
    return c.message(user, inst, state_rcpt=False)[0]


def send_until_refused(c, user, prefix, most=40):
    """END-OF-MESSAGE requests until one is refused over quota; the
    number accepted before it."""
    for i in range(most):
        got = eod(c, user, f"{prefix}{i}")
        if got != "DUNNO":
            assert got.startswith("DEFER_IF_PERMIT quota exceeded for "), got
            return i
    raise AssertionError(f"no refusal after {most} messages")


def no_password_in(*texts):
    for t in texts:
        assert PASSWORD not in t, t


def outputs(pd):
    return pd.log() + pd.admin("show").stdout + pd.admin("show").stderr


def assert_counts(pd, r, user, limit, db):
    """limit messages pass and the next is refused; the counter sits in
    database db; `postseal quota show` (run as -Q) agrees; no output
    holds the password."""
    with PolicyClient(pd.port) as c:
        assert send_until_refused(c, user, "m") == limit
    assert r.cli("--scan", "--pattern", "ps:*", db=db).split() == [
        f"ps:{{sasl_username:{user}}}#messages/3600"]
    shown = pd.admin("show", f"sasl_username:{user}")
    assert f"messages {limit}/1h, used {limit}" in shown.stdout, shown
    no_password_in(outputs(pd))


def test_requirepass_auth_and_database(tmp_path):
    with RedisConf(tmp_path, "r", [f"requirepass {PASSWORD}"], password=PASSWORD) as r:
        url = f"redis://:{PASSWORD}@127.0.0.1:{r.port}/2"
        with Policyd(tmp_path, limits={"sasl_username": "messages 3/1h"}, store=url) as pd:
            pd.wait_log(r"event=store_up store=redis server=127\.0\.0\.1:\d+")
            assert_counts(pd, r, "auth@x", 3, db=2)
            assert r.cli("--scan", "--pattern", "ps:*", db=0).split() == []
            assert "store=redis://:****@127.0.0.1:" in pd.log()
            check = subprocess.run([policyd_bin(), "-c", pd.conf, "-n"], capture_output=True,
                                   text=True, timeout=30)
            assert check.returncode == 0 and "store redis://:****@" in check.stdout, check
            no_password_in(outputs(pd), check.stdout, check.stderr)


# What the ACL user may do is what the man page recommends.
ACL = ("user postseal on >{pw} resetkeys ~ps:* resetchannels -@all +@connection "
       "+@scripting +@read +@write +@keyspace +time +role")


def test_acl_user_with_password_file(tmp_path):
    pwfile = tmp_path / "redis.password"
    pwfile.write_text(PASSWORD + "\n")
    pwfile.chmod(0o600)
    lines = ["user default off", ACL.format(pw=PASSWORD)]
    with RedisConf(tmp_path, "r", lines, user="postseal", password=PASSWORD) as r:
        url = f"redis://postseal@127.0.0.1:{r.port}/0?password_file={pwfile}"
        with Policyd(tmp_path, limits={"sasl_username": "messages 4/1h"}, store=url) as pd:
            pd.wait_log(r"event=store_up store=redis")
            assert_counts(pd, r, "acl@x", 4, db=0)
            reset = pd.admin("reset", "sasl_username:acl@x")
            assert reset.returncode == 0 and "reset 1 window" in reset.stdout, reset
            with PolicyClient(pd.port) as c:
                assert eod(c, "acl@x", "after-reset") == "DUNNO"
            no_password_in(outputs(pd))
        # the default user is off: a setting without the user is refused
        bad = run_daemon(tmp_path, f"redis://:{PASSWORD}@127.0.0.1:{r.port}/0")
        assert bad.returncode == 1
        assert re.search(r"pd\.conf:\d+: store redis://:\*\*\*\*@127\.0\.0\.1:\d+/0: redis "
                         r"127\.0\.0\.1:\d+: AUTH refused: WRONGPASS", bad.stderr), bad.stderr
        no_password_in(bad.stdout, bad.stderr)


def run_daemon(tmp_path, store, name="pd", extra=""):
    """postseal-policyd -f with this store, expected to exit by itself."""
    conf = tmp_path / f"{name}.conf"
    conf.write_text(f"[policyd]\nlisten = inet:127.0.0.1:{free_port()}\nstore = {store}\nuser = root\n"
                    f"{extra}")
    return subprocess.run([policyd_bin(), "-c", str(conf), "-f"], capture_output=True,
                          text=True, timeout=30)


def test_wrong_password_refused_at_start(tmp_path):
    with RedisConf(tmp_path, "r", [f"requirepass {PASSWORD}"]) as r:
        wrong = PASSWORD[::-1]
        got = run_daemon(tmp_path, f"redis://:{wrong}@127.0.0.1:{r.port}/0")
        assert got.returncode == 1
        line = got.stderr.strip().splitlines()[-1]
        assert re.fullmatch(r"postseal-policyd: \S+/pd\.conf:3: store redis://:\*\*\*\*@127\.0\.0"
                            r"\.1:\d+/0: redis 127\.0\.0\.1:\d+: AUTH refused: WRONGPASS .*",
                            line), got.stderr
        assert wrong not in got.stderr + got.stdout
        # no password at all, against a server that wants one
        got = run_daemon(tmp_path, f"redis://127.0.0.1:{r.port}/0")
        assert got.returncode == 1
        assert re.search(r"pd\.conf:3: store redis://127\.0\.0\.1:\d+/0: .*SELECT refused: "
                         r"NOAUTH", got.stderr), got.stderr
        # a database the server does not have
        got = run_daemon(tmp_path, f"redis://:{PASSWORD}@127.0.0.1:{r.port}/99")
        assert got.returncode == 1 and "SELECT refused: ERR DB index" in got.stderr, got
        no_password_in(got.stderr)


def test_password_changed_at_runtime_answers_store_down(tmp_path):
    other = PASSWORD + "-new"
    with RedisConf(tmp_path, "r", [f"requirepass {PASSWORD}"], password=PASSWORD) as r:
        url = f"redis://:{PASSWORD}@127.0.0.1:{r.port}/0"
        with Policyd(tmp_path, limits={"sasl_username": "messages 100/1h"}, store=url,
                     policyd={"store_down": "DEFER_IF_PERMIT"}) as pd:
            pd.wait_log(r"event=store_up store=redis")
            with PolicyClient(pd.port) as c:
                assert eod(c, "rt@x", "1") == "DUNNO"
                r.cli("CONFIG", "SET", "requirepass", other)
                r.password = other
                r.cli("CLIENT", "KILL", "TYPE", "normal")
                pd.wait_log(r"event=store_(still_)?down store=redis reason=.*WRONGPASS")
                for i in range(3):
                    assert eod(c, "rt@x", f"d{i}") == DOWN
                r.cli("CONFIG", "SET", "requirepass", PASSWORD)
                r.password = PASSWORD
                pd.wait_log(r"event=store_up store=redis .*down_for=")
                assert eod(c, "rt@x", "2") == "DUNNO"
            log = pd.log()
            assert log.count("event=store_down") == 1, log
            no_password_in(log)
            assert other not in log


def test_unix_socket(tmp_path):
    sock = tmp_path / "r" / "redis.sock"
    lines = [f"unixsocket {sock}", "unixsocketperm 700", f"requirepass {PASSWORD}"]
    with RedisConf(tmp_path, "r", lines, port=0, password=PASSWORD) as r:
        url = f"unix://:{PASSWORD}@{sock}?db=3"
        with Policyd(tmp_path, limits={"sasl_username": "messages 2/1h"}, store=url) as pd:
            pd.wait_log(rf"event=store_up store=redis server={re.escape(str(sock))}")
            assert_counts(pd, r, "sock@x", 2, db=3)


# ---- Sentinel ----------------------------------------------------------------

def replicated(master, replica):
    """The replica has everything the master wrote."""
    info = master.cli("INFO", "replication")
    own = re.search(r"master_repl_offset:(\d+)", info)
    acked = re.search(r"slave0:.*offset=(\d+)", info)
    return bool(own and acked and own.group(1) == acked.group(1)
                and "master_link_status:up" in replica.cli("INFO", "replication"))


def sentinels_ready(sentinels, name, nreplicas=1):
    for s in sentinels:
        reps = s.cli("SENTINEL", "replicas", name)
        peers = s.cli("SENTINEL", "sentinels", name)
        if reps.count("slave") < nreplicas or peers.count("ip") < len(sentinels) - 1:
            return False
    return True


@pytest.fixture
def sentinel_set(tmp_path):
    auth = [f"requirepass {PASSWORD}", f"masterauth {PASSWORD}"]
    master = RedisConf(tmp_path, "master", auth, password=PASSWORD)
    replica = RedisConf(tmp_path, "replica", auth + [f"replicaof 127.0.0.1 {master.port}"],
                        password=PASSWORD)
    sentinels = [RedisConf(tmp_path, f"sentinel{i}", [
        "sentinel resolve-hostnames no",
        f"sentinel monitor pq 127.0.0.1 {master.port} 2",
        "sentinel down-after-milliseconds pq 1000",
        "sentinel failover-timeout pq 4000",
        f"sentinel auth-pass pq {PASSWORD}"], sentinel=True) for i in range(3)]
    try:
        assert wait_for(lambda: sentinels_ready(sentinels, "pq"), timeout=30), \
            [s.log()[-800:] for s in sentinels]
        yield master, replica, sentinels
    finally:
        for s in sentinels + [replica, master]:
            s.stop()


def test_sentinel_failover_counts_exactly(tmp_path, sentinel_set):
    master, replica, sentinels = sentinel_set
    hosts = ",".join(f"127.0.0.1:{s.port}" for s in sentinels)
    url = f"redis-sentinel://:{PASSWORD}@{hosts}/pq/1"
    with Policyd(tmp_path, limits={"sasl_username": "messages 10/1h"}, store=url,
                 policyd={"store_down": "DEFER_IF_PERMIT"}) as pd:
        pd.wait_log(rf"event=store_up store=redis server=127\.0\.0\.1:{master.port}")
        with PolicyClient(pd.port, timeout=5.0) as c:
            for i in range(4):
                assert eod(c, "fo@x", f"before{i}") == "DUNNO"
            assert wait_for(lambda: replicated(master, replica), timeout=20)
            mark = len(pd.log())
            master.kill()
            # answers keep coming (the client's 5 s timeout would raise on a
            # hang): store_down until the replica is promoted, then counts
            answers = []
            assert wait_for(lambda: answers.append(eod(c, "fo@x", f"w{len(answers)}"))
                            or answers[-1] == "DUNNO", timeout=60, step=0.1), \
                (answers[-3:], pd.log()[mark:], [s.log()[-1500:] for s in sentinels])
            assert set(answers[:-1]) == {DOWN}, answers
            # 4 counted on the old master, replicated; 1 just now; 5 to go
            assert send_until_refused(c, "fo@x", "after") == 5
        after = pd.log()[mark:]
        assert after.count("event=store_down") == 1, after
        assert re.search(rf"event=store_up store=redis server=127\.0\.0\.1:{replica.port} "
                         r"down_for=\d+\.\ds requests_failed=\d+", after), after
        assert after.count("event=store_up") == 1, after
        assert replica.cli("ROLE").split()[0] == "master"
        shown = pd.admin("show", "sasl_username:fo@x")
        assert "messages 10/1h, used 10" in shown.stdout, shown
        no_password_in(pd.log(), shown.stdout, shown.stderr)


def test_sentinel_unknown_master_is_down_not_fatal(tmp_path, sentinel_set):
    _, _, sentinels = sentinel_set
    url = f"redis-sentinel://:{PASSWORD}@127.0.0.1:{sentinels[0].port}/nosuch"
    with Policyd(tmp_path, limits={"sasl_username": "messages 10/1h"}, store=url) as pd:
        pd.wait_log(r"event=store_down store=redis reason=\"no sentinel named master "
                    r"'nosuch'")
        with PolicyClient(pd.port) as c:
            assert eod(c, "nm@x", "1") == "DUNNO"  # store_down = DUNNO
        assert "event=store_up" not in pd.log()


# ---- one parser --------------------------------------------------------------

def store_table(tmp_path):
    closed = free_port()  # nothing listens: accepted settings start anyway
    good_pw = tmp_path / "good.pw"
    good_pw.write_text("secret\n")
    good_pw.chmod(0o600)
    open_pw = tmp_path / "open.pw"
    open_pw.write_text("secret\n")
    open_pw.chmod(0o644)
    return [
        (f"lmdb:{tmp_path}/quota", None),
        (f"redis://127.0.0.1:{closed}", None),
        (f"redis://:{PASSWORD}@127.0.0.1:{closed}/3", None),
        (f"redis://app:{PASSWORD}@[::1]:{closed}/0", None),
        (f"redis://app@127.0.0.1:{closed}/0?password_file={good_pw}", None),
        (f"unix://:{PASSWORD}@{tmp_path}/none.sock?db=1", None),
        (f"redis-sentinel://:{PASSWORD}@127.0.0.1:{closed},127.0.0.1:{closed}/pq/2", None),
        ("redis://user:pw@host/0/extra", "bad database number"),
        (f"redis://user:{PASSWORD}@host:0", "bad port"),
        (f"redis://:{PASSWORD}@host:99999/0", "bad port"),
        ("redis://app@127.0.0.1/0", "needs a password"),
        (f"redis://:{PASSWORD}@host/0?db=1", "unknown parameter 'db'"),
        (f"unix://:{PASSWORD}@host/run/redis.sock", "takes no host"),
        (f"redis-sentinel://:{PASSWORD}@s1,s2", "MASTER"),
        ("redis-sentinel://s1:26379,/pq", "empty sentinel"),
        (f"rediss://:{PASSWORD}@host", "expected lmdb:PATH"),
        (f"redis://app@127.0.0.1/0?password_file={tmp_path}/missing.pw", "missing.pw"),
        (f"redis://app@127.0.0.1/0?password_file={open_pw}", "chmod"),
    ]


def test_check_n_and_start_agree_on_store_settings(tmp_path):
    cli = str(build_dir() / "postseal")
    for n, (store, reason) in enumerate(store_table(tmp_path)):
        conf = tmp_path / f"t{n}.conf"
        port = free_port()
        conf.write_text(f"[policyd]\nlisten = inet:127.0.0.1:{port}\nstore = {store}\nuser = root\n")
        check = subprocess.run([cli, "check", "-c", str(conf)], capture_output=True, text=True,
                               timeout=30)
        dash_n = subprocess.run([policyd_bin(), "-c", str(conf), "-n"], capture_output=True,
                                text=True, timeout=30)
        no_password_in(check.stdout, check.stderr, dash_n.stdout, dash_n.stderr)
        if reason is None:
            assert check.returncode == 0, (store, check.stderr)
            assert dash_n.returncode == 0, (store, dash_n.stderr)
            with Policyd(tmp_path, store=store, port=port, name=f"t{n}d") as pd:
                pd.wait_log(r"event=start ")
                no_password_in(pd.log())
            continue
        start = subprocess.run([policyd_bin(), "-c", str(conf), "-f"], capture_output=True,
                               text=True, timeout=30)
        assert check.returncode != 0 and dash_n.returncode != 0 and start.returncode != 0, store
        msgs = {p.stderr.strip().split(": ", 1)[1] for p in (check, dash_n, start)}
        assert len(msgs) == 1, (store, msgs)
        msg = msgs.pop()
        assert msg.startswith(f"{conf}:3: "), msg
        assert reason in msg, (store, msg)
        no_password_in(start.stdout, start.stderr)
