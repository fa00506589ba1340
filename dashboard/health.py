"""What the health dashboard shows: the figures of health/checks.py, each formatted, and a
state (ok, warn, bad, off) that the page shows as a word and a shape, not a colour alone."""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.db import DatabaseError
from django.utils import timezone

from events.figures import webhook_figures
from events.models import WebhookEndpoint
from health import checks

OK, WARN, BAD, OFF = "ok", "warn", "bad", "off"
NONE = "—"
SERVICE_NAMES = {"product": "Product service", "auth": "Auth service", "payment": "Payment service"}
OVERALL = {"ok": (OK, "OK"), "degraded": (WARN, "Degraded"), "down": (BAD, "Down")}
STATUS = {"up": (OK, "Up"), "down": (BAD, "Down"), "not_configured": (OFF, "Not configured")}
BREAKER = {"closed": (OK, "Closed"), "half_open": (WARN, "Half-open"), "open": (BAD, "Open")}
# Share of 5xx answers over the window above which the error rate is amber, then red.
ERROR_RATE_WARN, ERROR_RATE_BAD = 0.01, 0.05
# Outbox lag (seconds) above which webhooks are amber, then red (the alert fires at 300 s).
LAG_WARN, LAG_BAD = 60, 300


@dataclass(frozen=True)
class Reading:
    key: str
    label: str
    text: str
    state: str = ""  # "" for a plain figure


@dataclass
class Panel:
    key: str
    title: str
    readings: list[Reading] = field(default_factory=list)

    @property
    def state(self) -> str:
        """The panel's first reading is its status."""
        return self.readings[0].state if self.readings else ""


def _ms(value) -> str:
    return NONE if value is None else f"{value:,.1f} ms"


def _bytes(value) -> str:
    if not value:
        return NONE
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return NONE  # unreachable


def _percent(value) -> str:
    return NONE if value is None else f"{value * 100:.1f} %"


def _duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{int(seconds)} s"


def _status(key: str, mapping: dict, value: str, label: str = "Status") -> Reading:
    state, text = mapping.get(value, (BAD, str(value)))
    return Reading(key, label, text, state)


def _breaker(name: str, service: dict) -> Reading:
    """The breaker of a service this instance calls; none to speak of for one it does not (its
    breaker stays closed, as nothing is ever sent through it)."""
    if service["status"] == "not_configured":
        return Reading(f"{name}.breaker", "Circuit breaker", "Not configured", OFF)
    return _status(f"{name}.breaker", BREAKER, service.get("breaker"), "Circuit breaker")


def _error_rate_state(rate) -> str:
    if rate is None:
        return OFF
    return BAD if rate >= ERROR_RATE_BAD else WARN if rate >= ERROR_RATE_WARN else OK


def _webhooks_panel() -> Panel:
    """The events' way out: how far behind the worker is, what waits, what it gave up on."""
    panel = Panel("webhooks", "Webhooks")
    try:
        figures = webhook_figures(timezone.now())
        disabled = list(
            WebhookEndpoint.objects.filter(is_active=False, disabled_at__isnull=False)
            .order_by("-disabled_at")
            .values_list("url", flat=True)[:3]
        )
    except DatabaseError:
        panel.readings = [Reading("webhooks.lag", "Outbox lag", NONE, OFF)]
        return panel
    lag = figures["webhook_outbox_lag_seconds"]
    state = BAD if lag >= LAG_BAD else WARN if lag >= LAG_WARN else OK
    count = int(figures["webhook_endpoints_disabled"])
    hosts = ", ".join(urlsplit(url).hostname or url for url in disabled)
    panel.readings = [
        Reading("webhooks.lag", "Outbox lag", _duration(lag) if lag else "none", state),
        Reading(
            "webhooks.pending",
            "Deliveries waiting",
            f"{figures['webhook_deliveries_pending']:,.0f}",
        ),
        Reading(
            "webhooks.disabled",
            "Endpoints disabled for failing",
            f"{count}: {hosts}" if count else "none",
            WARN if count else OK,
        ),
    ]
    return panel


def health_snapshot() -> dict:
    """The overall state, the panels of readings, and when they were read."""
    db, cache, services = checks.database(), checks.redis(), checks.external()
    process, info = checks.process_metrics(), checks.service_info()
    requests = process["requests"]
    overall_state, overall_text = OVERALL[checks.overall(db, cache, services)]

    connections = db.get("connections") or {}
    database = Panel("database", "PostgreSQL" if db.get("vendor") != "sqlite" else "SQLite")
    database.readings = [
        _status("database.status", STATUS, db["status"]),
        Reading("database.latency", "Latency", _ms(db.get("latency_ms"))),
        Reading("database.version", "Version", (db.get("version") or NONE).split(" ")[0]),
        Reading(
            "database.connections",
            "Connections",
            f"{connections['in_use']} of {connections['max']}" if connections.get("max") else NONE,
        ),
    ]
    redis = Panel("redis", "Redis")
    redis.readings = [
        _status("redis.status", STATUS, cache["status"]),
        Reading("redis.latency", "Latency", _ms(cache.get("latency_ms"))),
        Reading(
            "redis.memory",
            "Memory used",
            _bytes(cache.get("used_memory"))
            + (f" of {_bytes(cache['maxmemory'])}" if cache.get("maxmemory") else ""),
        ),
        Reading("redis.hit_rate", "Hit rate", _percent(cache.get("hit_rate"))),
    ]
    panels = [database, redis]
    for name, service in services.items():
        panel = Panel(name, SERVICE_NAMES.get(name, name))
        panel.readings = [
            _status(f"{name}.status", STATUS, service["status"]),
            Reading(f"{name}.latency", "Latency", _ms(service.get("latency_ms"))),
            _breaker(name, service),
        ]
        panels.append(panel)

    window = requests["window_seconds"]
    seconds = min(window, max(info["uptime_seconds"], 1))
    latency = requests["latency_ms"]
    rate = requests["error_rate"]
    traffic = Panel("requests", f"Requests · last {window / 60:g} min")
    traffic.readings = [
        Reading("requests.error_rate", "Error rate (5xx)", _percent(rate), _error_rate_state(rate)),
        Reading(
            "requests.rate", "Request rate", f"{requests['requests_in_window'] / seconds:.2f} /s"
        ),
        Reading("requests.count", "Requests", f"{requests['requests_in_window']:,}"),
        Reading("requests.p50", "Latency p50", _ms(latency["p50"])),
        Reading("requests.p95", "Latency p95", _ms(latency["p95"])),
        Reading("requests.p99", "Latency p99", _ms(latency["p99"])),
    ]
    worker = Panel("process", "This worker process")
    cpu = process["cpu_seconds"]
    worker.readings = [
        Reading("process.pid", "PID", str(process["pid"])),
        Reading("process.memory", "Memory (RSS)", _bytes(process["rss_bytes"])),
        Reading("process.peak_memory", "Peak memory", _bytes(process["max_rss_bytes"])),
        Reading("process.cpu", "CPU time", f"{cpu['user'] + cpu['system']:,.1f} s"),
        Reading("process.files", "Open files", str(process["open_file_descriptors"] or NONE)),
        Reading("process.threads", "Threads", str(process["threads"])),
        Reading(
            "process.cache_hit_rate",
            "Product cache hits",
            _percent(process["product_cache_hit_rate"]),
        ),
    ]
    service = Panel("service", "Service")
    service.readings = [
        Reading("service.version", "Version", info["version"]),
        Reading("service.uptime", "Uptime", _duration(info["uptime_seconds"])),
        Reading("service.hostname", "Host", info["hostname"]),
        Reading("service.runtime", "Python / Django", f"{info['python']} / {info['django']}"),
    ]
    now = timezone.localtime()
    return {
        "overall": Reading("overall", "Overall", overall_text, overall_state),
        "updated": Reading("updated", "Updated", f"{now:%H:%M:%S %Z}"),
        "updated_at": now,
        "dependencies": panels,
        "runtime": [traffic, _webhooks_panel(), worker, service],
    }


def snapshot_json(snapshot: dict) -> dict:
    """Every reading by key, as the page's script applies them."""
    readings = [snapshot["overall"], snapshot["updated"]]
    for panel in snapshot["dependencies"] + snapshot["runtime"]:
        readings.extend(panel.readings)
    return {
        "updated_at": snapshot["updated_at"].isoformat(),
        "status": snapshot["overall"].state,
        "readings": {r.key: {"text": r.text, "state": r.state} for r in readings},
    }
