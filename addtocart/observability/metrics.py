"""Prometheus metrics of our own, beside django-prometheus's.

Under gunicorn, `PROMETHEUS_MULTIPROC_DIR` puts prometheus_client in multiprocess mode: each
worker writes its samples to files there and `/metrics` adds them up, so one scrape sees
every worker. The per-process window below feeds `/api/v1/health/metrics`.
"""

import threading
import time
from collections import deque

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, URL pattern and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer HTTP requests, by method and URL pattern.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
CARTS_CREATED = Counter("addtocart_carts_created_total", "Carts created.", ["owner"])
ITEMS_ADDED = Counter("addtocart_cart_items_added_total", "Units added to carts.")
CHECKOUTS = Counter("addtocart_checkouts_total", "Checkouts, by outcome.", ["outcome"])
# Incremented when the refusal's record commits: once per reason of each refused checkout
# (one refused for two reasons adds 1 under each; several lines with the same reason, 1).
CHECKOUT_CONFLICTS = Counter(
    "addtocart_checkout_conflicts_total",
    "Refused checkouts, by reason (carts.models.RefusalReason); a checkout refused for "
    "several reasons counts once under each.",
    ["reason"],
)
WEBHOOK_DELIVERIES = Counter(
    "addtocart_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome: delivered, retrying (failed, will be tried again) "
    "or failed (gave up).",
    ["outcome"],
)
WEBHOOK_DURATION = Histogram(
    "addtocart_webhook_delivery_duration_seconds",
    "Time to send a webhook and read its answer.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
CACHE_REQUESTS = Counter(
    "addtocart_cache_requests_total", "Product cache lookups, by result.", ["result"]
)


class RecentRequests:
    """The last few minutes of this process's requests: counts, errors, latency percentiles."""

    def __init__(self, seconds: float = 300, max_samples: int = 10_000) -> None:
        self.seconds = seconds
        self._samples: deque[tuple[float, float, int]] = deque(maxlen=max_samples)
        self._lock = threading.Lock()
        self.total = 0

    def record(self, duration: float, status: int) -> None:
        with self._lock:
            self._samples.append((time.monotonic(), duration, status))
            self.total += 1

    def snapshot(self) -> dict:
        cutoff = time.monotonic() - self.seconds
        with self._lock:
            recent = [(d, s) for t, d, s in self._samples if t >= cutoff]
            total = self.total
        durations = sorted(d for d, _ in recent)
        errors = sum(1 for _, s in recent if s >= 500)

        def percentile(p: float) -> float | None:
            if not durations:
                return None
            return round(durations[min(len(durations) - 1, int(p * len(durations)))] * 1000, 2)

        return {
            "window_seconds": self.seconds,
            "requests_total": total,
            "requests_in_window": len(recent),
            "server_errors_in_window": errors,
            "error_rate": round(errors / len(recent), 4) if recent else None,
            "latency_ms": {
                "p50": percentile(0.50),
                "p95": percentile(0.95),
                "p99": percentile(0.99),
            },
        }


RECENT_REQUESTS = RecentRequests()


def observe_request(*, method: str, route: str, status: int, duration: float) -> None:
    HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    HTTP_DURATION.labels(method=method, route=route).observe(duration)
    RECENT_REQUESTS.record(duration, status)
