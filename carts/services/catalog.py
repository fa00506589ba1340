"""The catalog: staff's product changes, and keeping local rows in line with the product
service.

With `PRODUCT_SERVICE_URL` set, the product service is the source of a product's name, price,
currency, stock and status: the local row (which carts point to) is refreshed from it on add,
update and checkout (integrations/products.py, through the breaker, bounded by
`EXTERNAL_TIMEOUT_MS`).
"""

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction

from carts import errors, selectors
from carts.db import statements
from carts.models import CartItem, Product
from integrations.errors import ServiceUnavailable
from integrations.products import product_data_get

PRODUCT_SERVICE_FIELDS = ("name", "price", "currency", "stock", "is_active")
POPULAR_PRODUCTS_KEY = "popular_products"
POPULAR_PRODUCTS_SECONDS = 3600


def product_refresh(*, product: Product, fresh: bool) -> None:
    """Bring the local row in line with the product service (a SKU it does not know is off
    sale). `fresh` skips the cache, for checkout, which must never trust it. Runs inside the
    caller's transaction."""
    data = product_data_get(sku=product.sku, fresh=fresh) or {"is_active": False}
    changed = [f for f in PRODUCT_SERVICE_FIELDS if f in data and getattr(product, f) != data[f]]
    if changed:
        for field in changed:
            setattr(product, field, data[field])
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
