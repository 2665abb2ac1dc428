"""What an admin reads from postseal-policyd, checked over the policy
protocol on LMDB and on Redis: the wait a refusal quotes is never longer
than the period and is true (wait that long and the next message goes
through); IPv6 clients share one counter per network ([policyd]
ipv6_prefix, /64 by default) and the refusal and `postseal quota show`
name that network, in the same words; `postseal quota` errors name that
command ("postseal: quota: ..."), never postseal-policyd."""

import os
import re
import subprocess
import time

import pytest

from policyd_harness import PolicyClient, Policyd, RedisServer, needs_policyd, policyd_bin

pytestmark = needs_policyd

UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def seconds(text):
    """'1h2m5s' as 3725."""
    parts = re.findall(r"(\d+)([dhms])", text)
    assert parts and "".join(n + u for n, u in parts) == text, text
    return sum(int(n) * UNITS[u] for n, u in parts)


def frees_in(answer):
    m = re.search(r", frees in (\w+)$", answer)
    assert m, answer
    return seconds(m.group(1))


def eod(c, inst, user="", client="192.0.2.10"):
    return c.message(user, inst, client=client, state_rcpt=False)[0]


def cli():
    return os.path.join(os.path.dirname(policyd_bin()), "postseal")


@pytest.fixture(params=["lmdb", "redis"])
def store(request, tmp_path):
    if request.param == "lmdb":
        yield None
    else:
        with RedisServer() as r:
            yield r.url


def start(tmp_path, store, limits, policyd=None):
    pd = Policyd(tmp_path, limits=limits, store=store, policyd=policyd)
    if store is not None:
        pd.wait_log(r"event=store_up store=redis")
    return pd


def test_quoted_wait_is_true_and_within_the_period(tmp_path, store):
    """messages 2/20s: the refusal quotes at most 20s; after that wait
    (plus 1.5s for the clocks' resolution) the next message is accepted."""
    with start(tmp_path, store, {"sasl_username": "messages 2/20s"}) as pd, \
            PolicyClient(pd.port) as c:
        assert eod(c, "a1", "w@x") == "DUNNO"
        assert eod(c, "a2", "w@x") == "DUNNO"
        answer = eod(c, "a3", "w@x")
        assert answer.startswith("DEFER_IF_PERMIT quota exceeded for "
                                 "sasl_username:w@x: messages 2/20s, frees in "), answer
        wait = frees_in(answer)
        assert 1 <= wait <= 20, answer
        time.sleep(wait + 1.5)
        assert eod(c, "a4", "w@x") == "DUNNO"


def test_quoted_wait_never_over_an_hour_for_1h(tmp_path, store):
    """messages 3/1h refused right after the burst (the report: 'frees in
    1h27s'): never more than 1h; quota show says the same words."""
    with start(tmp_path, store, {"sasl_username": "messages 3/1h"}) as pd, \
            PolicyClient(pd.port) as c:
        for i in range(3):
            assert eod(c, f"h{i}", "hour@x") == "DUNNO"
        answer = eod(c, "h3", "hour@x")
        assert re.fullmatch(r"DEFER_IF_PERMIT quota exceeded for sasl_username:hour@x: "
                            r"messages 3/1h, frees in \w+", answer), answer
        assert 3000 <= frees_in(answer) <= 3600, answer
        r = subprocess.run([cli(), "quota", "show", "sasl_username:hour@x", "-c", pd.conf],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1, r.stdout + r.stderr
        m = re.fullmatch(r"sasl_username:hour@x: messages 3/1h, used 3, frees in (\w+)\n",
                         r.stdout)
        assert m, r.stdout
        assert 3000 <= seconds(m.group(1)) <= 3600, r.stdout


def test_ipv6_clients_share_their_64(tmp_path, store):
    """client_address = messages 1/1h let 2001:db8::1, ::2 and ::3 each send;
    now one /64 is one counter, another /64 has its own, IPv4 is per address."""
    with start(tmp_path, store, {"client_address": "messages 1/1h"}) as pd, \
            PolicyClient(pd.port) as c:
        assert eod(c, "v1", client="2001:db8::1") == "DUNNO"
        for n, addr in enumerate(("2001:db8::2", "2001:DB8:0:0:ffff::3")):
            answer = eod(c, f"v2{n}", client=addr)
            assert answer.startswith("DEFER_IF_PERMIT quota exceeded for "
                                     "client_address:2001:db8::/64: messages 1/1h, "
                                     "frees in "), answer
        assert eod(c, "v3", client="2001:db8:0:1::1") == "DUNNO"
        assert eod(c, "v4", client="192.0.2.1") == "DUNNO"
        assert eod(c, "v5", client="192.0.2.2") == "DUNNO"
        assert eod(c, "v6", client="::ffff:192.0.2.3") == "DUNNO"
        r = subprocess.run([cli(), "quota", "show", "-c", pd.conf],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert re.search(r"^client_address:2001:db8::/64: messages 1/1h, used 1, "
                         r"frees in \w+$", r.stdout, re.M), r.stdout
        assert "client_address:2001:db8:0:1::/64: messages 1/1h, used 1" in r.stdout
        # an address given to show is looked up as its network
        r = subprocess.run([cli(), "quota", "show", "client_address:2001:db8::77",
                            "-c", pd.conf], capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and r.stdout.startswith("client_address:2001:db8::/64: "), \
            r.stdout + r.stderr


def test_ipv6_prefix_configurable(tmp_path):
    with start(tmp_path, None, {"client_address": "messages 1/1h"},
               policyd={"ipv6_prefix": "128"}) as pd, PolicyClient(pd.port) as c:
        for n in range(3):
            assert eod(c, f"p{n}", client=f"2001:db8::{n + 1}") == "DUNNO"
        assert eod(c, "p9", client="2001:db8::1").startswith(
            "DEFER_IF_PERMIT quota exceeded for client_address:2001:db8::1: ")
    with start(tmp_path, None, {"client_address": "messages 1/1h"},
               policyd={"ipv6_prefix": "48"}) as pd, PolicyClient(pd.port) as c:
        assert eod(c, "q1", client="2001:db8:1:2::1") == "DUNNO"
        assert "client_address:2001:db8:1::/48: " in eod(c, "q2", client="2001:db8:1:3::1")
    (tmp_path / "bad.conf").write_text("[policyd]\nipv6_prefix = 8\n")
    r = subprocess.run([policyd_bin(), "-n", "-c", str(tmp_path / "bad.conf")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "bad.conf:2:" in r.stderr and "16 to 128" in r.stderr, \
        r.stderr


def test_quota_errors_name_the_command(tmp_path):
    (tmp_path / "bad.conf").write_text("[policyd]\nwarn_at = 500%\n")
    for args in (["show"], ["show", "nokind"]):
        conf = tmp_path / ("bad.conf" if args == ["show"] else "ok.conf")
        if not conf.exists():
            conf.write_text(f"[policyd]\nstore = lmdb:{tmp_path}/q\n")
        r = subprocess.run([cli(), "quota", *args, "-c", str(conf)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, r.stderr
        # in the CLI's own form, as its usage errors: "postseal: quota: ..."
        assert r.stderr.startswith("postseal: quota: "), r.stderr
        assert "postseal-policyd" not in r.stderr, r.stderr


def test_redis_counters_of_the_first_form_still_count(tmp_path):
    """A Redis hash written before the slots kept their latest charge
    (field = sub-window index) is read on sight: its amount still counts,
    and the quoted wait stays within the period."""
    with RedisServer() as r:
        key = "ps:{sasl_username:old@x}#messages/3600"
        sec, usec = (int(x) for x in r.cli("TIME").split())
        now_ms = sec * 1000 + usec // 1000
        index = now_ms // 3600000 * 60 + now_ms % 3600000 * 60 // 3600000
        r.cli("HSET", key, str(index), "2")
        r.cli("PEXPIRE", key, "3700000")
        with start(tmp_path, r.url, {"sasl_username": "messages 2/1h"}) as pd, \
                PolicyClient(pd.port) as c:
            answer = eod(c, "o1", "old@x")
            assert answer.startswith("DEFER_IF_PERMIT quota exceeded for sasl_username:old@x: "
                                     "messages 2/1h, frees in "), answer
            assert frees_in(answer) <= 3600, answer
        fields = r.cli("HKEYS", key).split()
        assert fields and all(int(f) > now_ms - 3600000 for f in fields if f != "w"), fields
