"""The catalog: staff's product changes, and keeping local rows in line with the product
service.

With `PRODUCT_SERVICE_URL` set, the product service is the source of a product's name, price,
currency, stock and status: on add, update and checkout its data is fetched before any
transaction (`product_data_fetch`: integrations/products.py, through the breaker, bounded by
`EXTERNAL_TIMEOUT_MS`), then the local row (which carts point to) is brought in line with it
inside the transaction (`product_apply`), with no network call while rows are locked.
"""

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction

from carts import errors, selectors
from carts.db import statements
from carts.models import CartItem, Product
from integrations.errors import ServiceUnavailable
from integrations.products import product_data_get

POPULAR_PRODUCTS_KEY = "popular_products"
POPULAR_PRODUCTS_SECONDS = 3600


ServiceData = dict[str, dict[str, Any]]


def product_data_fetch(*, skus: Iterable[str], fresh: bool) -> ServiceData:
    """The product service's data for each SKU (one it does not know: off sale). Waits on the
    network, so it is called before any transaction; `fresh` skips the cache, for checkout,
    which must never trust it."""
    return {
        sku: product_data_get(sku=sku, fresh=fresh) or {"is_active": False}
        for sku in dict.fromkeys(skus)
    }


def _stock_from_service(product: Product, data: dict[str, Any]) -> int:
    counted_before = datetime.fromtimestamp(data.get("fetched_at", time.time()), UTC)
    held = selectors.product_stock_held(product_id=product.pk, counted_before=counted_before)
    return max(0, data["stock"] - held)


def product_apply(*, product: Product, data: dict[str, Any]) -> None:
    """Bring the local row in line with the product service's `data` (product_data_fetch), in
    the caller's transaction.

    The local stock is the service's figure less the units it does not count yet (reserved
    here, or sold and not yet told to it: `selectors.product_stock_held`). It is written
    with the row locked and counted again, so a checkout reserving meanwhile is not undone.
    """
    changed = {
        field: data[field]
        for field in ("name", "price", "currency", "is_active")
        if field in data and getattr(product, field) != data[field]
    }
    if "stock" in data and _stock_from_service(product, data) != product.stock:
        statements.product_lock(product_id=product.pk)
        changed["stock"] = _stock_from_service(product, data)
    if changed:
        for field, value in changed.items():
            setattr(product, field, value)
        product.save(update_fields=[*changed, "updated_at"])


@transaction.atomic
def product_create(**fields: Any) -> Product:
    try:
        with transaction.atomic():
            return Product.objects.create(**fields)
    except IntegrityError:
        if Product.objects.filter(sku=fields.get("sku")).exists():
            raise errors.SkuTaken(f"A product with SKU {fields.get('sku')} exists.") from None
        raise


@transaction.atomic
def product_update(*, product_id: int, fields: dict[str, Any]) -> Product:
    product = statements.product_lock(product_id=product_id)
    if product is None:
        raise errors.ProductNotFound(f"There is no product {product_id}.")
    for field, value in fields.items():
        setattr(product, field, value)
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError:
        if Product.objects.filter(sku=product.sku).exclude(pk=product.pk).exists():
            raise errors.SkuTaken(f"A product with SKU {product.sku} exists.") from None
        raise
    return product


@transaction.atomic
def product_delete(*, product_id: int) -> None:
    """Delete a product that no cart ever held; others can only be deactivated."""
    product = statements.product_lock(product_id=product_id)
    if product is None:
        raise errors.ProductNotFound(f"There is no product {product_id}.")
    if CartItem.objects.filter(product=product).exists():
        raise errors.ProductInUse(
            f"{product.sku} is in carts; set is_active to false to take it off sale."
        )
    product.delete()


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
            except ServiceUnavailable:
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
