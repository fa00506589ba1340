"""Adding to a cart: one line (the hot path, two statements once the cart is locked) or
several at once, all or nothing (a bulk add).

The same product with the same attributes is one line (carts/attributes.py): adding it again
grows that line. A product's stock covers the units of all its lines in the cart together.
"""

from collections.abc import Sequence
from typing import TypedDict

from django.conf import settings
from django.db import transaction

from addtocart.observability import metrics
from carts import errors
from carts.attributes import attributes_key, attributes_normalise
from carts.db import discounts as codes
from carts.db import statements
from carts.domain import CartLine, CartOwner, CartState
from carts.models import Cart, Product
from carts.services.catalog import product_apply, product_data_fetch
from carts.services.common import (
    check_currency,
    check_precondition,
    check_quantity,
    check_stock,
    first_item_mark,
    open_active_cart,
    product_service_data,
    touch,
)
from carts.services.events import cart_event, line_event
from events.models import EventType


class LineInput(TypedDict, total=False):
    """One entry of a bulk add, as the API validated it."""

    product_id: int
    quantity: int
    attributes: dict[str, str]


def _sellable_product(product: Product | None, product_id: int, data: dict | None) -> Product:
    """The product, brought in line with the product service's `data`, if for sale."""
    if product is not None and data is not None:
        product_apply(product=product, data=data)
    if product is None or not product.is_active:
        raise errors.ProductNotFound(f"There is no product {product_id} for sale.")
    return product


def _units_elsewhere(lines: Sequence[CartLine], product_id: int, key: tuple) -> int:
    """The units of `product_id` on the cart's other lines (other attributes)."""
    return sum(
        line.quantity for line in lines if line.product_id == product_id and line.identity != key
    )


def _lock_or_open(owner: CartOwner, if_match: Sequence[str] | None) -> tuple[Cart, bool]:
    """The owner's active cart, locked and touched (opened if none); whether it is new."""
    cart = statements.cart_lock_and_touch(owner=owner, first_item=True)
    check_precondition(cart, if_match, touched=True)
    if cart is not None:
        return cart, False
    cart, created = open_active_cart(owner)
    touch(cart, **first_item_mark(cart))
    return cart, created


def cart_item_add(
    *,
    owner: CartOwner,
    product_id: int,
    quantity: int = 1,
    attributes: dict[str, str] | None = None,
    if_match: Sequence[str] | None = None,
) -> CartState:
    """Add units of a product (with `attributes`, valid as carts/attributes.py says); the
    line of that product and attributes grows if the cart has one.

    With the product service, its data is fetched first, before the transaction."""
    check_quantity(quantity)
    data = product_service_data(lambda: statements.product_read(product_id=product_id))
    normalised = attributes_normalise(attributes or {})
    return line_add(owner, product_id, quantity, normalised, if_match, data)


@transaction.atomic
def line_add(
    owner: CartOwner,
    product_id: int,
    quantity: int,
    attributes: dict[str, str],
    if_match: Sequence[str] | None,
    data: dict | None,
) -> CartState:
    """The transaction of `cart_item_add` (`attributes` normalised, `data` the product
    service's or None), which a service may run inside its own (moving a saved item)."""
    cart, created = _lock_or_open(owner, if_match)
    found, lines = statements.cart_lines_read_with_product(cart=cart, product_id=product_id)
    product = _sellable_product(found, product_id, data)
    check_currency(product, cart)
    key = (product.pk, attributes_key(attributes))
    line = next((line for line in lines if line.identity == key), None)
    new_quantity = quantity + (line.quantity if line else 0)
    limit = settings.CART_MAX_QUANTITY_PER_LINE
    if new_quantity > limit:
        raise errors.LineQuantityLimitReached(
            f"A line holds at most {limit} units; this one would hold {new_quantity}.",
            max_quantity=limit,
        )
    check_stock(product, new_quantity + _units_elsewhere(lines, product.pk, key))
    if line is None and len(lines) >= settings.CART_MAX_LINES:
        raise errors.CartLinesLimitReached(
            f"A cart holds at most {settings.CART_MAX_LINES} lines.",
            max_lines=settings.CART_MAX_LINES,
        )
    put = CartLine(
        line.id if line else 0,
        product.pk,
        product.sku,
        product.name,
        new_quantity,
        product.price,
        attributes,
    )
    on_cart = codes.cart_codes_read(cart=cart)
    kind = EventType.CREATED if created else EventType.UPDATED
    told = line_event(kind, cart, lines, put, on_cart)
    put = statements.line_put(
        cart=cart, product=product, quantity=new_quantity, attributes=attributes, event=told
    )
    index = next((n for n, old in enumerate(lines) if old.id == put.id), None)
    if index is None:
        lines.append(put)
    else:
        lines[index] = put
    transaction.on_commit(lambda: metrics.ITEMS_ADDED.inc(quantity))
    return CartState(cart, lines, on_cart)


def cart_items_add(
    *,
    owner: CartOwner,
    items: Sequence[LineInput],
    if_match: Sequence[str] | None = None,
) -> CartState:
    """Add every entry of `items` in one transaction, or none: an entry at fault raises the
    usual error with its `index` (404), or with `lines` naming every entry at fault in that
    way, each with its `index` (409, 422). The same product and attributes twice add up.

    With the product service, the products' data is fetched first, before the transaction."""
    entries = [
        (
            entry["product_id"],
            entry.get("quantity", 1),
            attributes_normalise(entry.get("attributes") or {}),
        )
        for entry in items
    ]
    for _, quantity, _ in entries:
        check_quantity(quantity)
    data = None
    if settings.PRODUCT_SERVICE_URL:
        known = Product.objects.filter(pk__in={entry[0] for entry in entries})
        skus = list(known.values_list("sku", flat=True))
        data = product_data_fetch(skus=skus, fresh=False) if skus else {}
    return _items_add(owner, entries, if_match, data)


def _refuse(error: type[errors.DomainError], detail: str, lines: list[dict], **extra) -> None:
    if lines:
        raise error(detail, lines=lines, **extra)


@transaction.atomic
def _items_add(
    owner: CartOwner,
    entries: list[tuple[int, int, dict[str, str]]],
    if_match: Sequence[str] | None,
    data: dict | None,
) -> CartState:
    cart, created = _lock_or_open(owner, if_match)
    lines = statements.cart_lines_read(cart=cart)
    products = Product.objects.in_bulk({product_id for product_id, _, _ in entries})
    for index, (product_id, _, _) in enumerate(entries):
        product = products.get(product_id)
        if product is not None and data is not None and product.sku in data:
            product_apply(product=product, data=data.pop(product.sku))
        if product is None or not product.is_active:
            raise errors.ProductNotFound(
                f"Entry {index}: there is no product {product_id} for sale.", index=index
            )
    _refuse(
        errors.CurrencyMismatch,
        f"Some products are not priced in the cart's currency, {cart.currency}.",
        [
            {"index": index, "product_id": pid, "currency": products[pid].currency}
            for index, (pid, _, _) in enumerate(entries)
            if products[pid].currency != cart.currency
        ],
    )
    # Each line after the add: the entries of one product and attributes add up.
    quantities = {line.identity: line.quantity for line in lines}
    indexes: dict[tuple, list[int]] = {}
    attributes_of: dict[tuple, dict[str, str]] = {}
    for index, (product_id, quantity, attributes) in enumerate(entries):
        key = (product_id, attributes_key(attributes))
        quantities[key] = quantities.get(key, 0) + quantity
        indexes.setdefault(key, []).append(index)
        attributes_of[key] = attributes
    limit = settings.CART_MAX_QUANTITY_PER_LINE
    _refuse(
        errors.LineQuantityLimitReached,
        f"A line holds at most {limit} units; see `lines`.",
        [
            {"index": index, "product_id": key[0], "quantity": quantities[key]}
            for key, at in indexes.items()
            if quantities[key] > limit
            for index in at
        ],
        max_quantity=limit,
    )
    units: dict[int, int] = {}
    for (product_id, _), quantity in quantities.items():
        units[product_id] = units.get(product_id, 0) + quantity
    _refuse(
        errors.InsufficientStock,
        "Some products have not enough stock left; see `lines`.",
        [
            {
                "index": index,
                "product_id": key[0],
                "requested": units[key[0]],
                "available": products[key[0]].stock,
            }
            for key, at in indexes.items()
            if units[key[0]] > products[key[0]].stock
            for index in at
        ],
    )
    if len(quantities) > settings.CART_MAX_LINES:
        raise errors.CartLinesLimitReached(
            f"A cart holds at most {settings.CART_MAX_LINES} lines; this one would hold "
            f"{len(quantities)}.",
            max_lines=settings.CART_MAX_LINES,
        )
    statements.lines_put(
        cart=cart,
        puts=[(products[key[0]], quantities[key], attributes_of[key]) for key in indexes],
    )
    state = CartState(cart, statements.cart_lines_read(cart=cart), codes.cart_codes_read(cart=cart))
    cart_event(EventType.CREATED if created else EventType.UPDATED, state)
    added = sum(quantity for _, quantity, _ in entries)
    transaction.on_commit(lambda: metrics.ITEMS_ADDED.inc(added))
    return state
