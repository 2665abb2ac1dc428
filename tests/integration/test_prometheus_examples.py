"""conf-examples/prometheus/ checked by Prometheus's own tools: promtool
accepts the scrape configuration and the alerting rules, and its rule unit
tests (tests/integration/prometheus/postseal-rules.test.yml) show each
alert firing on the trouble it names and quiet otherwise; every query of
the Grafana dashboard parses in a real Prometheus and names only metrics
postseal serves; the nginx example's status server is where the scrape
configuration looks, and loopback only.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_prometheus_examples.py
"""

import json
import pathlib
import re

from nginx_harness import ROOT
from prom_harness import Prometheus, needs_prometheus, needs_promtool, promtool

EXAMPLES = ROOT / "conf-examples" / "prometheus"
RULES_TEST = pathlib.Path(__file__).parent / "prometheus" / "postseal-rules.test.yml"

# The names issue 18 fixes for the daemons (written by their metrics
# listeners) and the nginx module's (webhook_verify_status).
KNOWN = {
    "postseal_milter_messages_total", "postseal_milter_signed_total",
    "postseal_milter_unsigned_total", "postseal_milter_dkim_results_total",
    "postseal_milter_spf_results_total", "postseal_milter_tempfails_total",
    "postseal_milter_reloads_total", "postseal_milter_connections_open",
    "postseal_milter_message_duration_seconds", "postseal_milter_key_age_seconds",
    "postseal_policyd_requests_total", "postseal_policyd_answers_total",
    "postseal_policyd_charged_total", "postseal_policyd_over_quota_total",
    "postseal_policyd_warnings_total", "postseal_policyd_store_operations_total",
    "postseal_policyd_store_duration_seconds", "postseal_policyd_store_down_answers_total",
    "postseal_policyd_connections_open", "postseal_policyd_connections_refused_total",
    "postseal_webhook_requests_total", "postseal_webhook_replay_entries",
    "postseal_webhook_replay_evictions_total", "postseal_webhook_replay_refusals_total",
    "postseal_webhook_hashed_bytes_total",
}
HISTOGRAM_PARTS = re.compile(r"_(bucket|sum|count)$")


def names_in(text):
    return {HISTOGRAM_PARTS.sub("", n) for n in re.findall(r"\bpostseal_[a-z0-9_]+", text)}


def dashboard_exprs():
    dash = json.loads((EXAMPLES / "postseal-grafana.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


@needs_promtool
def test_promtool_accepts_the_scrape_configuration():
    rc, out = promtool("check", "config", str(EXAMPLES / "prometheus.yml"))
    assert rc == 0, out
    assert "1 rule files found" in out, out


@needs_promtool
def test_promtool_accepts_the_rules():
    rc, out = promtool("check", "rules", str(EXAMPLES / "postseal-rules.yml"))
    assert rc == 0, out
    assert "6 rules found" in out, out


@needs_promtool
def test_each_alert_fires_on_its_trouble_only():
    rc, out = promtool("test", "rules", str(RULES_TEST))
    assert rc == 0 and "SUCCESS" in out, out


def test_rules_and_dashboard_name_only_served_metrics():
    rules = (EXAMPLES / "postseal-rules.yml").read_text()
    assert names_in(rules) <= KNOWN, names_in(rules) - KNOWN
    for alert in ("PostsealSigningStopped", "PostsealDkimFailuresJumped",
                  "PostsealQuotaRefusals", "PostsealForgedWebhooks", "PostsealStoreDown"):
        assert f"alert: {alert}" in rules
    used = set()
    for expr in dashboard_exprs():
        used |= names_in(expr)
    assert used <= KNOWN, used - KNOWN
    # a panel for every family except those only alerts need
    assert KNOWN - used == set(), KNOWN - used


@needs_prometheus
def test_every_dashboard_query_parses_in_prometheus(tmp_path):
    with Prometheus(tmp_path, {}) as prom:
        for expr in dashboard_exprs():
            # Grafana's variables, as Grafana fills them in
            q = expr.replace("$__rate_interval", "1m").replace("$instance", ".*")
            prom.query(q)  # a parse error is a 400: urllib raises


def test_nginx_example_serves_the_status_where_prometheus_scrapes():
    nginx = (ROOT / "conf-examples" / "nginx.conf").read_text()
    scrape = (EXAMPLES / "prometheus.yml").read_text()
    m = re.search(r"listen (127\.0\.0\.1:\d+);\s+access_log off;\s+"
                  r"location = (\S+) \{\s+webhook_verify_status;\s+"
                  r"allow 127\.0\.0\.1;\s+deny all;", nginx)
    assert m, "no loopback-only webhook_verify_status server in conf-examples/nginx.conf"
    job = scrape[scrape.index("job_name: postseal-nginx"):]
    assert f"metrics_path: {m.group(2)}" in job and f'"{m.group(1)}"' in job, job
    for port in ("9460", "9461"):
        assert f'"127.0.0.1:{port}"' in scrape
