"""Checkout: every line checked against the catalog, the stock taken, the cart closed."""

from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, When
from django.utils import timezone

from addtocart.observability import metrics
from carts import errors
from carts.db import statements
from carts.domain import CartLine, CartOwner, CartState
from carts.models import CartItem, CartStatus, Product
from carts.services.catalog import product_refresh
from carts.services.common import check_precondition, touch
from integrations.payments import payment_authorise


def _fault(line: CartItem, currency: str) -> dict | None:
    """What keeps a line from being checked out, if anything."""
    product = line.product
    fault = {"item_id": line.pk, "product_id": product.pk, "sku": product.sku}
    if not product.is_active:
        return {**fault, "reason": "product_unavailable"}
    if product.currency != currency:
        return {**fault, "reason": "currency_changed", "currency": product.currency}
    if product.stock < line.quantity:
        return {
            **fault,
            "reason": "insufficient_stock",
            "requested": line.quantity,
            "available": product.stock,
        }
    if product.price != line.unit_price:
        return {
            **fault,
            "reason": "price_changed",
            "unit_price": f"{line.unit_price:.2f}",
            "current_price": f"{product.price:.2f}",
        }
    return None


@transaction.atomic
def cart_checkout(*, owner: CartOwner, if_match: Sequence[str] | None = None) -> CartState:
    """Check every line against the catalog, take the stock, and close the cart.

    Any line at fault (product gone or inactive, not enough stock, price changed since
    the line was added) makes the whole checkout fail with every fault listed, and
    nothing changes. With the product service configured, every line's product is first
    fetched fresh from it (never from the cache); with the payment service configured, it
    must authorise the total before anything is committed.
    """
    cart = statements.cart_lock_active(owner=owner)
    check_precondition(cart, if_match)
    if cart is None:
        raise errors.CartEmpty("You have no cart to check out.")
    lines = statements.cart_items_lock_products(cart=cart)
    if not lines:
        raise errors.CartEmpty("Add something to the cart before checking out.")
    if settings.PRODUCT_SERVICE_URL:
        for line in lines:
            product_refresh(product=line.product, fresh=True)

    faults = [fault for line in lines if (fault := _fault(line, cart.currency))]
    if faults:
        metrics.CHECKOUTS.labels(outcome="conflict").inc()
        raise errors.CheckoutConflict(
            f"{len(faults)} line(s) cannot be checked out; see `lines`.", lines=faults
        )

    total = sum((line.quantity * line.unit_price for line in lines), Decimal("0.00"))
    if settings.PAYMENT_SERVICE_URL:
        payment_authorise(
            cart_id=cart.id,
            amount=total,
            currency=cart.currency,
            idempotency_key=f"{cart.id}:{cart.version}",
        )
    Product.objects.filter(pk__in=[line.product_id for line in lines]).update(
        stock=Case(*(When(pk=line.product_id, then=F("stock") - line.quantity) for line in lines)),
        updated_at=timezone.now(),
    )
    touch(cart, status=CartStatus.CHECKED_OUT, total=total, checked_out_at=timezone.now())
    in_cart_order = sorted(lines, key=lambda line: (line.created_at, line.pk))
    transaction.on_commit(metrics.CHECKOUTS.labels(outcome="completed").inc)
    return CartState(cart, [CartLine.of(line) for line in in_cart_order])
