"""Checkout's preview: what a checkout would find now, changing nothing.

The same checks as checkout's first phase (carts/services/reservations.py `line_fault`, the
codes' rules of carts/discounts.py), on the cart as it is, without a lock: no stock taken, no
payment asked, no code's use held, the cart's version unchanged. A checkout a moment later
may still find otherwise (another shopper bought the last unit); it checks again.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from carts import errors, selectors
from carts.db import discounts as codes
from carts.discounts import code_faults, discounts_evaluate
from carts.domain import CartLine, CartOwner
from carts.models import CartItem
from carts.services.catalog import product_apply, product_data_fetch
from carts.services.common import check_not_checking_out
from carts.services.reservations import line_fault, product_units


@dataclass(frozen=True)
class CheckoutPreview:
    ok: bool
    lines: list[dict]  # each line at fault, as checkout's 409 lists it
    discounts: list[dict]  # each code that no longer applies, likewise
    total: Decimal  # what checkout would charge: subtotal - discount_total


def checkout_preview(*, owner: CartOwner) -> CheckoutPreview:
    """What checking the owner's cart out would find now. With the product service, its
    fresh data is fetched first, as checkout does (outside any transaction)."""
    if not selectors.owner_may_buy(owner=owner):
        raise errors.AccountInactive()
    service_data = None
    if settings.PRODUCT_SERVICE_URL:
        service_data = product_data_fetch(skus=selectors.cart_skus_read(owner=owner), fresh=True)
    return _preview(owner, service_data)


@transaction.atomic  # the product service's data, if any, is saved as an add saves it
def _preview(owner: CartOwner, service_data: dict | None) -> CheckoutPreview:
    items = selectors.cart_items_with_products(owner=owner)
    if not items:
        check_not_checking_out(owner)
        raise errors.CartEmpty("Add something to the cart before checking out.")
    cart = items[0].cart
    for item in items:
        if service_data is not None and item.product.sku in service_data:
            product_apply(product=item.product, data=service_data[item.product.sku])
    units = product_units(items)
    faults = [fault for item in items if (fault := line_fault(item, cart.currency, units))]
    lines = [CartLine.of(item) for item in items]
    discounts = discounts_evaluate(
        codes.cart_codes_read(cart=cart), lines=lines, currency=cart.currency, now=timezone.now()
    )
    subtotal = sum((_value(item) for item in items), Decimal("0.00"))
    wrong_codes = code_faults(discounts)
    return CheckoutPreview(
        ok=not faults and not wrong_codes,
        lines=faults,
        discounts=wrong_codes,
        total=max(subtotal - discounts.total, Decimal("0.00")),
    )


def _value(item: CartItem) -> Decimal:
    return item.quantity * item.unit_price
