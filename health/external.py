"""Health probes of the other services: `GET {url}/health` of each, past their breakers."""

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from integrations.http import SERVICES, breaker_states, logger, service_url, session

HEALTH_TIMEOUT_SECONDS = 1.0


def _health(service: str) -> dict[str, Any]:
    url = service_url(service)
    if not url:
        return {"configured": False, "status": "not_configured", "latency_ms": None}
    started = time.perf_counter()
    try:
        response = session().get(f"{url}/health", timeout=HEALTH_TIMEOUT_SECONDS)
    except requests.Timeout:
        logger.error(
            "External %s service health check timeout after %.0f ms",
            service,
            HEALTH_TIMEOUT_SECONDS * 1000,
        )
        return {"configured": True, "status": "down", "latency_ms": None}
    except requests.RequestException as exc:
        logger.error(
            "External %s service health check connection failed (%s)",
            service,
            exc.__class__.__name__,
        )
        return {"configured": True, "status": "down", "latency_ms": None}
    return {
        "configured": True,
        "status": "up" if response.ok else "down",
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }


def external_services_status() -> dict[str, dict]:
    """Each service's `configured`, `status` (up, down, not_configured), `latency_ms` and
    `breaker`, from `GET {url}/health` (1 s timeout, all services at once, no breaker)."""
    with ThreadPoolExecutor(max_workers=len(SERVICES)) as pool:
        checks = dict(zip(SERVICES, pool.map(_health, SERVICES), strict=True))
    states = breaker_states()
    return {service: {**checks[service], "breaker": states[service]} for service in SERVICES}
