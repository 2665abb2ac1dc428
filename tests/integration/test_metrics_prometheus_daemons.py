"""A real Prometheus (Debian's package) on loopback scrapes
postseal-milter's and postseal-policyd's metrics endpoints, and a query
through its HTTP API returns their series: both targets up, the policy
requests sent beforehand counted, every milter family present."""

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

import mailstack as ms
from policyd_harness import Policyd, PolicyClient, needs_policyd

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")

pytestmark = [needs_policyd,
              pytest.mark.skipif(not os.access(MILTER, os.X_OK), reason="postseal-milter not built"),
              pytest.mark.skipif(shutil.which("prometheus") is None,
                                 reason="prometheus missing (Debian package prometheus)")]


def query(port, expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        doc = json.load(r)
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


def wait_query(port, expr, want, timeout=90):
    """Polls until want(result) holds; the last result otherwise fails."""
    end = time.monotonic() + timeout
    while True:
        try:
            res = query(port, expr)
        except OSError:
            res = None
        if res is not None and want(res):
            return res
        assert time.monotonic() < end, f"{expr}: {res}"
        time.sleep(0.5)


@pytest.fixture
def daemons(tmp_path):
    key = ms.DkimKey(str(tmp_path), "p", "ed25519", domain="example.com")
    mport, mmetrics = ms.free_port(), ms.free_port()
    conf = ms.write_ini(str(tmp_path / "milter.conf"), {
        "milter": {"socket": f"inet:{mport}@127.0.0.1",
                   "metrics": f"inet:127.0.0.1:{mmetrics}"},
        "keys": {"p": f"example.com p {key.path}"},
        "signing": {"example.com": "p"},
    })
    milter = ms.Daemon([MILTER, "-f", "-c", conf], port=mport)
    pmetrics = ms.free_port()
    pd = Policyd(tmp_path, limits={"sasl_username": "messages 2/1h"},
                 policyd={"metrics": f"inet:127.0.0.1:{pmetrics}"})
    try:
        yield {"milter": mmetrics, "policyd": pmetrics, "pd": pd}
    finally:
        pd.stop()
        assert milter.finish() is None


def test_prometheus_scrapes_both(daemons, tmp_path):
    with PolicyClient(daemons["pd"].port) as c:
        for i in range(3):
            c.message("u@example.com", f"i{i}", state_rcpt=False)
    web = ms.free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: postseal-milter\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{daemons['milter']}']\n"
        f"  - job_name: postseal-policyd\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{daemons['policyd']}']\n")
    r = subprocess.run(["promtool", "check", "config", str(cfg)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen(["prometheus", f"--config.file={cfg}",
                             f"--storage.tsdb.path={tmp_path}/tsdb",
                             f"--web.listen-address=127.0.0.1:{web}"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        ms.wait_port(web, 60)
        up = wait_query(web, "up", lambda res: len(res) == 2 and
                        all(x["value"][1] == "1" for x in res))
        assert {x["metric"]["job"] for x in up} == {"postseal-milter", "postseal-policyd"}
        [charged] = wait_query(web, "postseal_policyd_charged_total", lambda res: len(res) == 1)
        [eom] = query(web, 'postseal_policyd_requests_total{state="END-OF-MESSAGE"}')
        [over] = query(web, 'postseal_policyd_over_quota_total{kind="sasl_username"}')
        # 2/1h: the first two charged, the third over (at END-OF-MESSAGE)
        assert (charged["value"][1], eom["value"][1], over["value"][1]) == ("2", "3", "1")
        names = {x["metric"]["__name__"] for x in query(web, '{job="postseal-milter"}')}
        for fam in ("messages_total", "signed_total", "unsigned_total", "dkim_results_total",
                    "spf_results_total", "authres_removed_total",
                    "return_paths_rewritten_total", "bounces_total", "srs_total",
                    "tempfails_total", "reloads_total", "connections_open",
                    "message_duration_seconds_count", "last_reload_timestamp_seconds",
                    "key_age_seconds"):
            assert f"postseal_milter_{fam}" in names, (fam, sorted(names))
    finally:
        prom.terminate()
        try:
            prom.wait(30)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()
