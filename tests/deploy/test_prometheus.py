"""The Prometheus rules: valid for promtool, unit-tested by promtool (each alert fires on some
input and stays quiet on other), and reading only metrics the service really exposes: the web
pods' (the runbook's metrics table, and the webhook gauges of events/figures.py) and the
webhook delivery workers' (WORKER_METRICS, which tests/deploy/test_k8s.py finds in a real
worker's /metrics)."""

import re
import shutil

import pytest
import yaml

from tests.deploy.support import (
    DEPLOY,
    ROOT,
    exposed_metrics,
    known_metric,
    metric_names,
    promtool,
    run,
)

RULES_DIR = DEPLOY / "prometheus"
RULES = RULES_DIR / "addtocart-rules.yml"
RULE_TESTS = RULES_DIR / "addtocart-rules.test.yml"
WEB_APP = 'app="addtocart-service"'
WORKER_APP = 'app="addtocart-webhook-worker"'
# What the delivery workers export besides the web pods (addtocart/observability/metrics.py).
WORKER_METRICS = {
    "addtocart_webhook_deliveries_total",
    "addtocart_webhook_delivery_duration_seconds",
}
WEBHOOKS_RUNBOOK = "docs/operations.md#9-events-and-webhooks"


def rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alerts() -> dict[str, dict]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def test_promtool_checks_the_rules():
    result = run([promtool(), "check", "rules", str(RULES)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass():
    result = run([promtool(), "test", "rules", RULE_TESTS.name], cwd=RULES_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("alert", "sound", "broken"),
    [
        # Its threshold raised tenfold.
        (
            "HighErrorRate",
            "addtocart:http_errors:ratio_rate5m > 0.05",
            "addtocart:http_errors:ratio_rate5m > 0.5",
        ),
        # Without its minimum volume: one delivery retried a few times would page.
        (
            "AddToCartWebhookFailureRate",
            "[15m])) >= 20",
            "[15m])) >= 0",
        ),
        # Only the workers that are scraped and down: none scraped at all would stay quiet.
        (
            "AddToCartWebhookWorkerDown",
            'count by (namespace) (up{app="addtocart-service"})\n          unless',
            'count by (namespace) (up{app="addtocart-webhook-worker"})\n          unless',
        ),
    ],
)
def test_the_unit_tests_catch_a_broken_rule(tmp_path, alert, sound, broken):
    """A control: each broken rule makes its unit test fail."""
    text = RULES.read_text()
    assert text.count(sound) == 1, sound
    (tmp_path / RULES.name).write_text(text.replace(sound, broken))
    shutil.copy(RULE_TESTS, tmp_path)
    result = run([promtool(), "test", "rules", RULE_TESTS.name], cwd=tmp_path)
    assert result.returncode != 0
    assert alert in result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_quiet():
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired, quiet = set(), set()
    for test in tests:
        for case in test.get("alert_rule_test", []):
            (fired if case["exp_alerts"] else quiet).add(case["alertname"])
    assert set(alerts()) == fired, "alerts without a test that fires them"
    assert set(alerts()) == quiet, "alerts without a test where they stay quiet"


def test_the_runbooks_alerts_are_there():
    runbook = alerts()
    error_rate = runbook["HighErrorRate"]["expr"]
    assert "addtocart:http_errors:ratio_rate5m" in error_rate
    response_time = runbook["HighResponseTime"]["expr"]
    assert "addtocart:http_request_duration_seconds:p95_5m > 2" in response_time
    recorded = {rule["record"]: rule["expr"] for rule in rules() if "record" in rule}
    assert 'status=~"5.."' in recorded["addtocart:http_errors:rate5m"]
    p95 = " ".join(recorded["addtocart:http_request_duration_seconds:p95_5m"].split())
    assert p95.startswith("histogram_quantile(0.95, sum by (namespace, le) ( rate(")
    assert "http_request_duration_seconds_bucket" in p95
    memory = " ".join(runbook["HighMemoryUsage"]["expr"].split())
    assert "container_memory_working_set_bytes" in memory
    assert "container_spec_memory_limit_bytes" in memory
    assert memory.endswith("> 0.8")
    assert "container_memory_usage_bytes" not in memory  # counts reclaimable page cache
    breaker = runbook["AddToCartCircuitBreakerOpen"]
    assert 'state="open"' in breaker["expr"]
    assert breaker["for"] == "3m"
    assert "offset 1d" in runbook["AddToCartAbandonmentRateJump"]["expr"]
    assert "addtocart_database_up" in runbook["AddToCartDatabaseDown"]["expr"]
    assert "addtocart_redis_up" in runbook["AddToCartRedisDown"]["expr"]
    assert "kube_pod_container_status_restarts_total" in runbook["AddToCartPodRestarting"]["expr"]


def test_every_alert_has_a_severity_and_a_summary():
    for name, alert in alerts().items():
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        assert alert["annotations"]["summary"], name
        assert alert["annotations"]["description"], name


def webhook_gauges() -> set[str]:
    """The webhook gauges the web pods export, computed at scrape time (health/prometheus.py
    takes them from events/figures.py)."""
    from events.figures import WEBHOOK_GAUGES

    return {f"addtocart_{name}" for name, _ in WEBHOOK_GAUGES}


def test_rules_read_only_metrics_we_expose():
    exposed = exposed_metrics() | webhook_gauges() | WORKER_METRICS
    for rule in rules():
        unknown = {name for name in metric_names(rule["expr"]) if not known_metric(name, exposed)}
        assert not unknown, f"{rule.get('alert') or rule.get('record')}: {unknown}"
    # Our own metrics are always selected by the app that exports them, so another
    # application's http_requests_total never counts.
    for rule in rules():
        for selector in re.findall(r"\b((?:http_|addtocart_)\w+)(\{[^}]*\})", rule["expr"]):
            name, matchers = selector
            worker = name in WORKER_METRICS or name.removesuffix("_bucket") in WORKER_METRICS
            assert (WORKER_APP if worker else WEB_APP) in matchers, selector


def test_the_workers_metrics_are_made_where_the_worker_runs():
    source = (ROOT / "addtocart" / "observability" / "metrics.py").read_text()
    for name in WORKER_METRICS:
        assert f'"{name}"' in source, name


def test_the_example_scrape_configuration(tmp_path):
    """prometheus.example.yml, with a static target in place of Kubernetes discovery, which
    Debian's promtool is built without; the relabelling and rule files are checked."""
    config = yaml.safe_load((RULES_DIR / "prometheus.example.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # The web pods, and the webhook delivery workers (port 9102), which
    # AddToCartWebhookFailureRate and AddToCartWebhookWorkerDown read.
    assert set(jobs) == {"addtocart-service", "addtocart-webhook-worker"}
    (tmp_path / "health-token").write_text("a-health-token\n")
    for port, job in zip((8000, 9102), jobs.values(), strict=True):
        assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
        job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
        # /metrics needs the health token: Prometheus sends it from a file (promtool checks
        # that the file exists).
        assert job["authorization"]["type"] == "Bearer"
        assert job["authorization"]["credentials_file"].startswith("/etc/prometheus/")
        job["authorization"]["credentials_file"] = str(tmp_path / "health-token")
        relabel = yaml.safe_dump(job["relabel_configs"])
        assert "__meta_kubernetes_pod_label_(.+)" in relabel  # gives app="..."
        assert "target_label: namespace" in relabel
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(RULES, tmp_path)
    result = run([promtool(), "check", "config", "prometheus.yml"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_checkout_sweeper_alerts():
    """docs/operations.md, "8. Checkouts and the sweeper": each reads its gauge as every pod
    exports it (one figure per namespace), waits its time, and leads to that section."""
    for name, gauge, wait in [
        ("AddToCartCheckoutSweeperBehind", "addtocart_checkout_reservations_expired", "10m"),
        ("AddToCartPaymentsUnsettled", "addtocart_checkout_payments_unknown", "30m"),
        ("AddToCartSalesUnreported", "addtocart_stock_sales_unreported", "15m"),
    ]:
        alert = alerts()[name]
        expr = " ".join(alert["expr"].split())
        assert expr == f'max by (namespace) ({gauge}{{app="addtocart-service"}}) > 0', name
        assert alert["for"] == wait, name
        runbook = alert["annotations"]["runbook_url"]
        assert runbook == "docs/operations.md#8-checkouts-and-the-sweeper", name
    runbook_text = (DEPLOY.parent / "docs" / "operations.md").read_text()
    headings = re.findall(r"^#+ (.+)$", runbook_text, re.M)
    assert "8. Checkouts and the sweeper" in headings


def test_the_webhook_alerts():
    """docs/operations.md, "9. Events and webhooks": the lag and the disabled endpoints as the
    web pods count them in the database, the failure rate and the workers' presence as the
    workers' scrapes show them; each leads to that section."""
    webhook_alerts = {name: rule for name, rule in alerts().items() if "Webhook" in name}
    assert set(webhook_alerts) == {
        "AddToCartWebhookLag",
        "AddToCartWebhookFailureRate",
        "AddToCartWebhookWorkerDown",
        "AddToCartWebhookEndpointDisabled",
    }
    for name, alert in webhook_alerts.items():
        assert alert["annotations"]["runbook_url"] == WEBHOOKS_RUNBOOK, name

    def expr(name: str) -> str:
        return " ".join(webhook_alerts[name]["expr"].split())

    lag = "addtocart_webhook_outbox_lag_seconds"
    assert expr("AddToCartWebhookLag") == f"max by (namespace) ({lag}{{{WEB_APP}}}) > 300"
    assert webhook_alerts["AddToCartWebhookLag"]["for"] == "5m"
    rate = expr("AddToCartWebhookFailureRate")
    assert 'outcome!="delivered"}[15m]' in rate
    assert "> 0.2 and " in rate
    assert re.search(
        r"increase\(addtocart_webhook_deliveries_total\{[^}]*\}\[15m\]\)\) >= \d+", rate
    )
    down = expr("AddToCartWebhookWorkerDown")
    assert f"max by (namespace) (up{{{WORKER_APP}}}) == 1" in down
    assert webhook_alerts["AddToCartWebhookWorkerDown"]["for"] == "5m"
    disabled = expr("AddToCartWebhookEndpointDisabled")
    assert disabled == f"max by (namespace) (addtocart_webhook_endpoints_disabled{{{WEB_APP}}}) > 0"
    assert webhook_alerts["AddToCartWebhookEndpointDisabled"]["labels"]["severity"] == "warning"
    runbook_text = (ROOT / "docs" / "operations.md").read_text()
    headings = re.findall(r"^#+ (.+)$", runbook_text, re.M)
    assert "9. Events and webhooks" in headings
