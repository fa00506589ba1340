"""Calls to the product, auth and payment services, each through its circuit breaker.

Every service is optional: with its URL setting empty nothing here calls it. Timeouts,
connection failures and 5xx answers count as failures for the service's breaker and are
logged at ERROR without the URL (it may hold credentials).
"""

import functools
import logging
import os
from typing import Any

import requests
from django.conf import settings

from addtocart.breaker import CircuitBreaker, CircuitOpen

# The logger's name is part of the log format operators use; it predates this package.
logger = logging.getLogger("carts.external")

SERVICES = ("product", "auth", "payment")
BREAKERS = {service: CircuitBreaker(service) for service in SERVICES}


class ServiceDown(Exception):
    """The service did not answer usefully, or its circuit is open."""


def service_url(service: str) -> str:
    return getattr(settings, f"{service.upper()}_SERVICE_URL")


@functools.cache
def _session(pid: int) -> requests.Session:
    """One connection pool per process: a session made before a fork is not shared."""
    return requests.Session()


def session() -> requests.Session:
    """This process's connection pool."""
    return _session(os.getpid())


def call(service: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    """Send one request through the service's breaker; 2xx-4xx answers are returned, anything
    else raises ServiceDown."""
    timeout_ms = settings.EXTERNAL_TIMEOUT_MS

    def send() -> requests.Response:
        try:
            response = session().request(
                method, service_url(service) + path, timeout=timeout_ms / 1000, **kwargs
            )
        except requests.Timeout:
            logger.error("External %s service timeout after %s ms", service, timeout_ms)
            raise ServiceDown(service) from None
        except requests.RequestException as exc:
            logger.error(
                "External %s service connection failed (%s)", service, exc.__class__.__name__
            )
            raise ServiceDown(service) from None
        if response.status_code >= 500:
            logger.error("External %s service failed with HTTP %s", service, response.status_code)
            raise ServiceDown(service)
        return response

    try:
        return BREAKERS[service].call(send)
    except CircuitOpen:
        logger.warning("External %s service not called: its circuit is open", service)
        raise ServiceDown(service) from None


def json_of(response: requests.Response) -> Any:
    """The answer's JSON, or None if it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def breaker_states() -> dict[str, str]:
    """Each service's breaker: "closed", "open" or "half_open". Reads Redis only."""
    return {service: breaker.state() for service, breaker in BREAKERS.items()}
