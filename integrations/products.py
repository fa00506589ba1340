"""The product service: a product's data by SKU, cached for `PRODUCT_CACHE_SECONDS`; and the
sales it is told of.

Checkout asks with `fresh=True` and never reads the cache. The contract expected of the
service (docs/api.md, "The product service"): `GET /products/{sku}` answers its stock, which
`POST /products/{sku}/sales` (`{"quantity": n}`, with an `Idempotency-Key` so a repeat is
counted once) lowers.
"""

import time
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from rest_framework import serializers

from addtocart.api.serializers import StrictIntegerField
from addtocart.observability.metrics import CACHE_REQUESTS
from integrations.errors import ServiceUnavailable
from integrations.http import ServiceDown, call, json_of, logger

PRODUCT_DOWN = "The product service is not answering. Try again shortly."


class ProductServiceInput(serializers.Serializer):
    """A product as the product service answers `GET /products/{sku}`; other fields ignored."""

    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    stock = StrictIntegerField(min_value=0, max_value=2**31 - 1)
    is_active = serializers.BooleanField()


def _cache_key(sku: str) -> str:
    return f"product:{sku}"


def product_data_get(*, sku: str, fresh: bool = False) -> dict[str, Any] | None:
    """The product service's `sku, name, price, currency, stock, is_active`, and `fetched_at`
    (Unix time, when it was asked); None on 404.

    Reads the cache first unless `fresh`; every answer fetched is cached. Raises
    ServiceUnavailable when the service cannot answer and the cache could not be used.
    """
    key = _cache_key(sku)
    if not fresh:
        data = cache.get(key)
        CACHE_REQUESTS.labels(result="miss" if data is None else "hit").inc()
        if data is not None:
            return data
    fetched_at = time.time()
    try:
        response = call("product", "GET", f"/products/{quote(sku, safe='')}")
    except ServiceDown:
        raise ServiceUnavailable(PRODUCT_DOWN, service="product") from None
    if response.status_code == 404:
        return None
    answer = ProductServiceInput(data=json_of(response))
    if not response.ok or not answer.is_valid() or answer.validated_data["sku"] != sku:
        logger.error(
            "External product service gave an unusable answer (HTTP %s) for %s",
            response.status_code,
            sku,
        )
        raise ServiceUnavailable(PRODUCT_DOWN, service="product")
    data = {**answer.validated_data, "fetched_at": fetched_at}
    cache.set(key, data, settings.PRODUCT_CACHE_SECONDS)
    return data


def product_sale_report(*, sku: str, quantity: int, idempotency_key: str) -> bool:
    """Tell the product service `quantity` units of `sku` were sold; True once it has them."""
    try:
        response = call(
            "product",
            "POST",
            f"/products/{quote(sku, safe='')}/sales",
            json={"quantity": quantity},
            headers={"Idempotency-Key": idempotency_key},
        )
    except ServiceDown:
        return False
    if not response.ok:
        logger.error(
            "External product service refused a sale of %s (HTTP %s)", sku, response.status_code
        )
    return response.ok
