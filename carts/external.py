"""Calls to the product, auth and payment services, each through its circuit breaker.

Every service is optional: with its URL setting empty nothing here calls it. The product
service's answers are cached per SKU for `PRODUCT_CACHE_SECONDS`; checkout asks with
`fresh=True` and never reads the cache. Timeouts, connection failures and 5xx answers count
as failures for the service's breaker and are logged at ERROR without the URL (it may hold
credentials). Health checks (`external_services_status`) bypass the breakers.
"""

import functools
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from uuid import UUID

import requests
from django.conf import settings
from django.core.cache import cache

from addtocart.breaker import CircuitBreaker, CircuitOpen
from addtocart.metrics import CACHE_REQUESTS
from carts import errors, selectors
from carts.serializers import ProductServiceInput

logger = logging.getLogger(__name__)

SERVICES = ("product", "auth", "payment")
BREAKERS = {service: CircuitBreaker(service) for service in SERVICES}
HEALTH_TIMEOUT_SECONDS = 1.0
POPULAR_PRODUCTS_KEY = "popular_products"
POPULAR_PRODUCTS_SECONDS = 3600
DECLINED = {"declined", "refused", "rejected", "denied"}
PRODUCT_DOWN = "The product service is not answering. Try again shortly."
PAYMENT_DOWN = "The payment service is not answering; the cart was not checked out. Try again."


class ServiceDown(Exception):
    """The service did not answer usefully, or its circuit is open."""


def service_url(service: str) -> str:
    return getattr(settings, f"{service.upper()}_SERVICE_URL")


@functools.cache
def _session(pid: int) -> requests.Session:
    """One connection pool per process: a session made before a fork is not shared."""
    return requests.Session()


def _call(service: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    """Send one request through the service's breaker; 2xx-4xx answers are returned."""
    timeout_ms = settings.EXTERNAL_TIMEOUT_MS

    def send() -> requests.Response:
        try:
            response = _session(os.getpid()).request(
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


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _product_cache_key(sku: str) -> str:
    return f"product:{sku}"


def product_data_get(*, sku: str, fresh: bool = False) -> dict[str, Any] | None:
    """The product service's `sku, name, price, currency, stock, is_active`; None on 404.

    Reads the cache first unless `fresh`; every answer fetched is cached. Raises
    ServiceUnavailable when the service cannot answer and the cache could not be used.
    """
    key = _product_cache_key(sku)
    if not fresh:
        data = cache.get(key)
        CACHE_REQUESTS.labels(result="miss" if data is None else "hit").inc()
        if data is not None:
            return data
    try:
        response = _call("product", "GET", f"/products/{quote(sku, safe='')}")
    except ServiceDown:
        raise errors.ServiceUnavailable(PRODUCT_DOWN, service="product") from None
    if response.status_code == 404:
        return None
    answer = ProductServiceInput(data=_json(response))
    if not response.ok or not answer.is_valid() or answer.validated_data["sku"] != sku:
        logger.error(
            "External product service gave an unusable answer (HTTP %s) for %s",
            response.status_code,
            sku,
        )
        raise errors.ServiceUnavailable(PRODUCT_DOWN, service="product")
    data = dict(answer.validated_data)
    cache.set(key, data, settings.PRODUCT_CACHE_SECONDS)
    return data


def product_cache_warm(*, limit: int = 50) -> tuple[int, int]:
    """Cache the most-added products' data and their list (`popular_products`, one hour).

    Product data is fetched fresh from the product service, when it is configured (without it
    the local catalog is read directly and needs no cache); one it cannot give is skipped.
    Returns (products cached, popular products).
    """
    popular = selectors.product_list_popular(limit=limit)
    cached = 0
    if settings.PRODUCT_SERVICE_URL:
        for product, _ in popular:
            try:
                cached += product_data_get(sku=product.sku, fresh=True) is not None
            except errors.ServiceUnavailable:
                continue
    cache.set(
        POPULAR_PRODUCTS_KEY,
        [
            {"product_id": product.pk, "sku": product.sku, "name": product.name, "units": units}
            for product, units in popular
        ],
        POPULAR_PRODUCTS_SECONDS,
    )
    return cached, len(popular)


def payment_authorise(
    *, cart_id: UUID, amount: Decimal, currency: str, idempotency_key: str
) -> str:
    """Ask the payment service to authorise `amount`; returns its authorisation id, if any.

    Raises PaymentRefused on HTTP 402 or a body saying declined, PaymentUnavailable when the
    service cannot answer or answers anything else than an approval.
    """
    body = {
        "cart_id": str(cart_id),
        "amount": f"{amount:.2f}",
        "currency": currency,
        "idempotency_key": idempotency_key,
    }
    try:
        response = _call(
            "payment", "POST", "/payments", json=body, headers={"Idempotency-Key": idempotency_key}
        )
    except ServiceDown:
        raise errors.PaymentUnavailable(PAYMENT_DOWN) from None
    answer = _json(response)
    if not isinstance(answer, dict):
        answer = {}
    if (
        response.status_code == 402
        or str(answer.get("status", "")).lower() in DECLINED
        or answer.get("approved") is False
    ):
        raise errors.PaymentRefused("The payment was refused; the cart was not checked out.")
    if not response.ok or not answer:
        logger.error(
            "External payment service gave an unusable answer (HTTP %s)", response.status_code
        )
        raise errors.PaymentUnavailable(PAYMENT_DOWN)
    authorization = str(answer.get("authorization_id") or answer.get("id") or "")
    logger.info("Payment authorised for cart %s (authorisation %r)", cart_id, authorization)
    return authorization


def breaker_states() -> dict[str, str]:
    """Each service's breaker: "closed", "open" or "half_open". Reads Redis only."""
    return {service: breaker.state() for service, breaker in BREAKERS.items()}


def _health(service: str) -> dict[str, Any]:
    url = service_url(service)
    if not url:
        return {"configured": False, "status": "not_configured", "latency_ms": None}
    started = time.perf_counter()
    try:
        response = _session(os.getpid()).get(f"{url}/health", timeout=HEALTH_TIMEOUT_SECONDS)
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
