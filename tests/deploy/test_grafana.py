"""The Grafana dashboard: valid JSON whose panels show the figures the alerts watch, with
PromQL that promtool parses and that reads only metrics we expose (or cAdvisor's and
kube-state-metrics')."""

import json

import yaml

from tests.deploy.support import DEPLOY, exposed_metrics, known_metric, metric_names, promtool, run

DASHBOARD = DEPLOY / "grafana" / "addtocart.json"


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def expressions() -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in panels() for target in panel["targets"]]


def test_dashboard_shape():
    board = dashboard()
    assert board["uid"] == "addtocart-service"
    assert board["title"]
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert "namespace" in variables
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]


def test_panels_read_only_metrics_we_expose():
    exposed = exposed_metrics()
    for title, expr in expressions():
        names = metric_names(expr)
        assert names, title
        unknown = {name for name in names if not known_metric(name, exposed)}
        assert not unknown, f"{title}: {unknown}"


def test_the_figures_the_alerts_watch_are_shown():
    text = "\n".join(expr for _, expr in expressions())
    for needed in [
        "rate(http_requests_total",  # request rate
        'status=~"5.."',  # error ratio
        "histogram_quantile(0.95",  # p95 latency
        "container_memory_working_set_bytes",
        "container_spec_memory_limit_bytes",
        "addtocart_abandonment_rate",
        "addtocart_checkout_conversion_rate",
        "addtocart_average_cart_value",
        "addtocart_carts_created_24h",
        "addtocart_carts{",
        "addtocart_database_up",
        "addtocart_redis_up",
        "addtocart_circuit_breaker_state",
        "kube_pod_container_status_restarts_total",
        "addtocart_checkout_reservations_expired",
        "addtocart_checkout_payments_unknown",
        "addtocart_stock_sales_unreported",
    ]:
        assert needed in text, needed


def test_promtool_parses_every_panel_query(tmp_path):
    """Each query, Grafana's variables filled in, as a recording rule for `promtool check
    rules`, which parses it."""
    rules = [
        {
            "record": f"dashboard:panel_{index}",
            "expr": expr.replace("$__rate_interval", "5m").replace("$namespace", ".*"),
        }
        for index, (_, expr) in enumerate(expressions())
    ]
    (tmp_path / "dashboard.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]})
    )
    result = run([promtool(), "check", "rules", "dashboard.yml"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
