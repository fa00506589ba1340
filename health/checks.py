"""Dependency checks for the health endpoints, each with its own short timeout.

Results are kept in this process for `HEALTH_CACHE_SECONDS`, so a burst of probes costs one
check, and a hung dependency costs at most its timeout once per period.
"""

import os
import platform
import resource
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import django
from django.conf import settings
from django.db import connection, connections, transaction
from prometheus_client import REGISTRY

from addtocart.observability.metrics import RECENT_REQUESTS
from health.external import external_services_status

STARTED_AT = time.time()
_cache: dict[str, tuple[float, dict]] = {}
_cache_lock = threading.Lock()


def _cached(name: str, check: Callable[[], dict]) -> dict:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(name)
    if hit and now - hit[0] < settings.HEALTH_CACHE_SECONDS:
        return hit[1]
    result = check()
    with _cache_lock:
        _cache[name] = (now, result)
    return result


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                timeout_ms = int(settings.HEALTH_CHECK_TIMEOUT_SECONDS * 1000)
                cursor.execute(f"SET LOCAL statement_timeout = {timeout_ms}")
                cursor.execute(
                    "SELECT current_setting('server_version'), "
                    "current_setting('max_connections')::int, "
                    "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database())"
                )
                version, max_connections, in_use = cursor.fetchone()
            else:
                cursor.execute("SELECT sqlite_version()")
                version, max_connections, in_use = cursor.fetchone()[0], None, None
    except Exception as exc:  # any failure means down; the class name tells which
        return {"status": "down", "error": exc.__class__.__name__, "latency_ms": _ms(started)}
    return {
        "status": "up",
        "vendor": connection.vendor,
        "version": version,
        "latency_ms": _ms(started),
        "connections": {"in_use": in_use, "max": max_connections},
    }


def _redis() -> dict[str, Any]:
    if not settings.REDIS_URL:
        return {"status": "not_configured", "cache": "in-process"}
    from django_redis import get_redis_connection

    started = time.perf_counter()
    try:
        client = get_redis_connection("default")
        client.ping()
        latency = _ms(started)
        info = client.info()
    except Exception as exc:  # redis-py raises several families of errors
        return {"status": "down", "error": exc.__class__.__name__, "latency_ms": _ms(started)}
    hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
    return {
        "status": "up",
        "latency_ms": latency,
        "version": info.get("redis_version"),
        "used_memory": info.get("used_memory"),
        "maxmemory": info.get("maxmemory"),
        "maxmemory_policy": info.get("maxmemory_policy"),
        "hit_rate": round(hits / (hits + misses), 4) if hits + misses else None,
    }


def database() -> dict[str, Any]:
    return _cached("database", _database)


def redis() -> dict[str, Any]:
    return _cached("redis", _redis)


def external() -> dict[str, Any]:
    return _cached("external", external_services_status)


def ready() -> dict[str, Any]:
    return _cached("ready", _ready)


def _ready() -> dict[str, Any]:
    """The database answers and no migration is pending."""
    from django.db.migrations.executor import MigrationExecutor

    db = database()
    if db["status"] != "up":
        return {"status": "unavailable", "database": db}
    try:
        executor = MigrationExecutor(connection)
        pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    except Exception as exc:  # the database went away between the two checks
        return {
            "status": "unavailable",
            "database": {"status": "down", "error": type(exc).__name__},
        }
    if pending:
        return {"status": "unavailable", "database": db, "pending_migrations": pending}
    return {"status": "ok", "database": db}


def overall(db: dict, cache: dict, services: dict) -> str:
    """down: the database is down. degraded: Redis or an external service is not well."""
    if db["status"] != "up":
        return "down"
    external_bad = any(
        s["status"] == "down" or s.get("breaker") not in (None, "closed") for s in services.values()
    )
    return "degraded" if cache["status"] == "down" or external_bad else "ok"


def _memory() -> tuple[int | None, int | None]:
    """This process's resident memory and its peak, in bytes: VmRSS and VmHWM, read together
    from /proc/self/status, where the kernel computes the peak as at least the current size.

    Not getrusage's ru_maxrss: the kernel adds up a process's pages per CPU and folds them in
    lazily, and ru_maxrss comes from the lagging sum, so it reads a few hundred KiB below the
    resident size that /proc gives at the same moment (a peak below the current memory).
    Where there is no /proc, ru_maxrss is all there is (KiB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        # "  123456 kB"
        rss, peak = (int(fields[name].split()[0]) * 1024 for name in ("VmRSS", "VmHWM"))
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return None, peak if sys.platform == "darwin" else peak * 1024
    return rss, peak


def _open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _cache_hit_rate() -> float | None:
    def count(result: str) -> float:
        value = REGISTRY.get_sample_value("addtocart_cache_requests_total", {"result": result})
        return value or 0

    hits, misses = count("hit"), count("miss")
    return round(hits / (hits + misses), 4) if hits + misses else None


def process_metrics() -> dict[str, Any]:
    """This worker process's figures (each gunicorn worker answers for itself)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss, peak = _memory()
    return {
        "pid": os.getpid(),
        "rss_bytes": rss,
        "max_rss_bytes": peak,
        "cpu_seconds": {"user": round(usage.ru_utime, 3), "system": round(usage.ru_stime, 3)},
        "open_file_descriptors": _open_fds(),
        "open_database_connections": sum(
            1 for alias in connections if connections[alias].connection is not None
        ),
        "threads": threading.active_count(),
        "requests": RECENT_REQUESTS.snapshot(),
        "product_cache_hit_rate": _cache_hit_rate(),
    }


def service_info() -> dict[str, Any]:
    return {
        "service": "addtocart",
        "version": settings.SERVICE_VERSION,
        "hostname": socket.gethostname(),
        "uptime_seconds": round(time.time() - STARTED_AT, 1),
        "python": platform.python_version(),
        "django": django.get_version(),
    }
