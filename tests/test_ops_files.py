"""The operator's files: deploy/prometheus-alerts.yml passes `promtool check rules` and its thresholds fire (and stay
quiet) as documented under `promtool test rules`; the alerts and deploy/grafana-dashboard.json only name metrics
the app exposes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from api import metrics
from tests.conftest import ROOT, SEED_SLUG, make_app

ALERTS = ROOT / "deploy" / "prometheus-alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana-dashboard.json"

# promtool's unit tests: input series at 1-minute steps from t=0, alerts expected at eval_time.
RULE_TESTS = """
rule_files: [%(rules)s]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - {series: 'bulletin_last_successful_load_timestamp_seconds{instance="a"}', values: '0x12000'}
      - {series: 'bulletin_last_load_success{instance="a"}', values: '1x12000'}
    alert_rule_test:
      - {eval_time: 7d, alertname: BulletinNoSuccessfulLoad, exp_alerts: []}
      - eval_time: 193h
        alertname: BulletinNoSuccessfulLoad
        exp_alerts: [{exp_labels: {severity: warning}}]
      - {eval_time: 193h, alertname: BulletinLastLoadFailed, exp_alerts: []}
  - interval: 1m
    input_series:
      - {series: 'bulletin_http_requests_total{route="/v1/issues",status="200"}', values: '0+100x30'}
      - {series: 'bulletin_http_requests_total{route="/v1/issues",status="503"}', values: '0+10x30'}
      - {series: 'bulletin_query_deadline_exceeded_total{route="/v1/issues"}', values: '0+10x30'}
      - {series: 'bulletin_cache_errors_total', values: '0+1x30'}
      - {series: 'bulletin_cache_bypassed_total', values: '0x30'}
    alert_rule_test:
      - {eval_time: 20m, alertname: BulletinHigh5xxRatio, exp_alerts: [{exp_labels: {severity: critical}}]}
      - {eval_time: 20m, alertname: BulletinQueryDeadlines, exp_alerts: [{exp_labels: {severity: warning}}]}
      - {eval_time: 20m, alertname: BulletinCacheOutage, exp_alerts: [{exp_labels: {severity: warning}}]}
  - interval: 1m
    input_series:
      - {series: 'bulletin_http_requests_total{route="/v1/issues",status="200"}', values: '0+1000x30'}
      - {series: 'bulletin_http_requests_total{route="/v1/issues",status="503"}', values: '0+1x30'}
      - {series: 'bulletin_query_deadline_exceeded_total{route="/v1/issues"}', values: '0x30'}
      - {series: 'bulletin_cache_errors_total', values: '0x30'}
      - {series: 'bulletin_cache_bypassed_total', values: '0x30'}
    alert_rule_test:
      - {eval_time: 20m, alertname: BulletinHigh5xxRatio, exp_alerts: []}
      - {eval_time: 20m, alertname: BulletinQueryDeadlines, exp_alerts: []}
      - {eval_time: 20m, alertname: BulletinCacheOutage, exp_alerts: []}
"""


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("REQUIRE_SERVICES") or os.environ.get("CI"):
            pytest.fail("promtool is not installed (it ships with Debian's prometheus, which make test installs)")
        pytest.skip("promtool is not installed")
    return found


def test_alert_rules_pass_promtool_check():
    done = subprocess.run([_promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_alert_thresholds_fire_and_stay_quiet_as_documented(tmp_path):
    # promtool compares annotations verbatim ($value rendered): test the expressions, `for` and labels of a copy
    # without them (`check rules` above validates the annotation templates of the file itself).
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    bare = tmp_path / "alerts.yml"
    bare.write_text(yaml.safe_dump(rules))
    tests = tmp_path / "alerts.test.yml"
    tests.write_text(RULE_TESTS % {"rules": json.dumps(str(bare))})
    done = subprocess.run([_promtool(), "test", "rules", str(tests)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def _exposed_names(loaded, tmp_path, frozen_clock) -> set[str]:
    """Every sample name /metrics shows after traffic, with a load report and an embargo still ahead."""
    import datetime as dt

    frozen_clock(dt.datetime(2023, 1, 1, tzinfo=dt.UTC))
    report = tmp_path / "load-report.json"
    metrics.write_load_report(report, metrics.load_summary(loaded["report"], True, None, 1.0))
    app = make_app(loaded, LOAD_REPORT_PATH=str(report))
    client = app.test_client()
    try:
        for url in ("/v1/issues", "/v1/issues", f"/v1/articles/{SEED_SLUG}", "/v1/nope"):
            client.get(url)
        names = set()
        for family in text_string_to_metric_families(client.get("/metrics").text):
            names.update(sample.name for sample in family.samples)
    finally:
        app.extensions["store"].dispose()
    return names


def _referenced(exprs) -> set[str]:
    return {name for expr in exprs for name in re.findall(r"\bbulletin_[a-z_]+", expr)}


def test_alerts_and_dashboard_name_only_exposed_metrics(loaded, tmp_path, frozen_clock):
    exposed = _exposed_names(loaded, tmp_path, frozen_clock)
    # Counters only incremented on failures are created at zero, so they are exposed too.
    assert {"bulletin_cache_errors_total", "bulletin_next_embargo_change_timestamp_seconds"} <= exposed
    rules = [rule["expr"] for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels and all(p["targets"] for p in panels)
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    labelled = {"bulletin_rate_limited_total", "bulletin_query_deadline_exceeded_total"}  # appear on first event
    assert _referenced(rules) - exposed - labelled == set()
    assert _referenced(exprs) - exposed - labelled == set()
    assert {p["datasource"]["uid"] for p in panels} == {"${DS_PROMETHEUS}"}  # Grafana asks for it on import
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
