"""`GET /metrics`: every worker's samples, plus business figures computed at scrape time.

Only for the health token's holders (`Authorization: Bearer <HEALTH_TOKEN>`, Prometheus'
`authorization` scrape setting) and staff sessions: anyone else gets a 401 problem.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn), prometheus_client's MultiProcessCollector adds
up the samples all workers wrote; otherwise the process's own registry is exported. The
business gauges are computed by the database at most once per BUSINESS_METRICS_CACHE_SECONDS
in each process, so frequent scrapes stay cheap.

The checkout gauges show what the sweeper (`manage.py release_expired_reservations`) has
left to do; each is a count over a partial index or a small table (docs/operations.md,
"8. Checkouts and the sweeper").
"""

import os
import threading
import time
from datetime import datetime, timedelta

import prometheus_client
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Q
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily

from carts import analytics
from carts.models import AttemptStatus, CheckoutAttempt, PaymentState, StockSale
from events.figures import WEBHOOK_GAUGES, webhook_figures
from health import checks
from health.access import internals
from integrations.http import breaker_states

BREAKER_STATES = ("closed", "half_open", "open")
# A sale is reported right after its checkout; one still unreported after this is stuck.
SALE_REPORT_GRACE = timedelta(minutes=5)
CHECKOUT_GAUGES = (
    (
        "checkout_reservations_expired",
        "Checkouts holding stock past their expiry: the sweeper is behind or not running.",
    ),
    ("checkout_reservations_open", "Checkouts holding stock, expired or not."),
    (
        "checkout_payments_unknown",
        "Released checkouts whose payment outcome is unknown: possible charges not yet voided.",
    ),
    (
        "stock_sales_unreported",
        "Sales made over 5 minutes ago that the product service has not been told of.",
    ),
)


def checkout_figures(now: datetime) -> dict[str, int]:
    """The counts behind CHECKOUT_GAUGES, in two queries: attempts reserved (the partial
    index of reserved attempts by expiry) or released with an unknown payment (the partial
    index of unknown payments), and unreported sales (a table the sweeper keeps small)."""
    reserved = Q(status=AttemptStatus.RESERVED)
    unknown = Q(status=AttemptStatus.RELEASED, payment=PaymentState.UNKNOWN)
    attempts = CheckoutAttempt.objects.filter(reserved | unknown).aggregate(
        checkout_reservations_expired=Count("pk", filter=reserved & Q(expires_at__lt=now)),
        checkout_reservations_open=Count("pk", filter=reserved),
        checkout_payments_unknown=Count("pk", filter=unknown),
    )
    sales = StockSale.objects.filter(
        reported_at__isnull=True, created_at__lt=now - SALE_REPORT_GRACE
    ).count()
    return {**attempts, "stock_sales_unreported": sales}


class BusinessCollector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = 0.0
        self._families: list = []

    def collect(self):
        with self._lock:
            if time.monotonic() - self._at > settings.BUSINESS_METRICS_CACHE_SECONDS:
                self._families = self._compute()
                self._at = time.monotonic()
            return list(self._families)

    def _compute(self) -> list:
        families = []
        try:
            by_status = analytics.carts_by_status()
            now = timezone.now()
            day = analytics.business_metrics(start=now - timedelta(hours=24), end=now, top=0)
            checkouts = {**checkout_figures(now), **webhook_figures(now)}
        except DatabaseError:  # the database is down: export what does not need it
            by_status, day, checkouts = None, None, None
        if by_status is not None:
            carts = GaugeMetricFamily(
                "addtocart_carts", "Carts by status, all time.", labels=["status"]
            )
            for status, count in by_status.items():
                carts.add_metric([status], count)
            families.append(carts)
        if day is not None:
            for name, help_text, value in (
                (
                    "abandonment_rate",
                    "Abandoned / (abandoned + checked out), last 24 h.",
                    day.abandonment_rate,
                ),
                (
                    "checkout_conversion_rate",
                    "Checked out / carts with items, last 24 h.",
                    day.conversion_rate,
                ),
                (
                    "average_cart_value",
                    "Mean subtotal of carts with items, last 24 h.",
                    day.average_cart_value,
                ),
                ("carts_created_24h", "Carts created in the last 24 h.", day.created),
            ):
                if value is not None:
                    families.append(GaugeMetricFamily(f"addtocart_{name}", help_text, float(value)))
        if checkouts is not None:
            for name, help_text in (*CHECKOUT_GAUGES, *WEBHOOK_GAUGES):
                families.append(
                    GaugeMetricFamily(f"addtocart_{name}", help_text, float(checkouts[name]))
                )
        db = checks.database()
        families.append(
            GaugeMetricFamily(
                "addtocart_database_up",
                "1 if the database answers.",
                1.0 if db["status"] == "up" else 0.0,
            )
        )
        if db.get("connections", {}).get("in_use") is not None:
            families.append(
                GaugeMetricFamily(
                    "addtocart_database_connections",
                    "Connections to the service's database, all clients.",
                    db["connections"]["in_use"],
                )
            )
        cache = checks.redis()
        if cache["status"] != "not_configured":
            families.append(
                GaugeMetricFamily(
                    "addtocart_redis_up",
                    "1 if Redis answers (absent: not configured).",
                    1.0 if cache["status"] == "up" else 0.0,
                )
            )
        breaker = GaugeMetricFamily(
            "addtocart_circuit_breaker_state",
            "1 for the state each external service's circuit breaker is in.",
            labels=["service", "state"],
        )
        for service, state in breaker_states().items():
            for candidate in BREAKER_STATES:
                breaker.add_metric([service, candidate], 1.0 if state == candidate else 0.0)
        families.append(breaker)
        return families


BUSINESS = prometheus_client.CollectorRegistry(auto_describe=False)
BUSINESS.register(BusinessCollector())


@internals
def metrics(request):
    """For Prometheus, with the health token as its bearer token (health/access.py)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.REGISTRY
    body = prometheus_client.generate_latest(registry) + prometheus_client.generate_latest(BUSINESS)
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)
