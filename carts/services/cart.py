"""A shopper's changes to their cart. Each function runs in one transaction and returns the
cart as it left it (`CartState`), so the answer needs no further read.

Every change first locks the owner's active cart (on the hot paths with the UPDATE that bumps
its version, carts/db/statements.py), so concurrent changes to one cart happen one after
another and none is lost.
"""

from collections.abc import Callable, Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from addtocart.observability import metrics
from carts import errors, selectors
from carts.db import discounts as codes
from carts.db import statements
from carts.domain import CartLine, CartOwner, CartState
from carts.models import Cart, CartItem, CartStatus, Product
from carts.services.catalog import product_apply, product_data_fetch
from carts.services.common import (
    check_currency,
    check_not_checking_out,
    check_precondition,
    check_quantity,
    check_stock,
    first_item_mark,
    open_active_cart,
    resume_abandoned_cart,
    touch,
)
from carts.services.events import cart_event, line_event
from events.models import EventType


@transaction.atomic
def cart_resume(*, owner: CartOwner) -> CartState | None:
    """Give a returning shopper with no active cart their abandoned one back (or None)."""
    cart = resume_abandoned_cart(owner)
    if cart is None:
        return None
    return CartState(cart, statements.cart_lines_read(cart=cart), codes.cart_codes_read(cart=cart))


def _service_data(read_product: Callable[[], Product | None]) -> dict | None:
    """The product service's data for the product `read_product` finds (read only when there
    is a service), fetched before any transaction; None without a service or a product."""
    if not settings.PRODUCT_SERVICE_URL or (product := read_product()) is None:
        return None
    return product_data_fetch(skus=[product.sku], fresh=False)[product.sku]


def _sellable_product(product: Product | None, product_id: int, data: dict | None) -> Product:
    """The product, brought in line with the product service's `data`, if for sale."""
    if product is not None and data is not None:
        product_apply(product=product, data=data)
    if product is None or not product.is_active:
        raise errors.ProductNotFound(f"There is no product {product_id} for sale.")
    return product


def _line_set(lines: list[CartLine], line: CartLine) -> None:
    """Put `line` into `lines` in place of the line with its id, or last."""
    index = next((n for n, old in enumerate(lines) if old.id == line.id), None)
    if index is None:
        lines.append(line)
    else:
        lines[index] = line


def cart_item_add(
    *,
    owner: CartOwner,
    product_id: int,
    quantity: int = 1,
    if_match: Sequence[str] | None = None,
) -> CartState:
    """Add units of a product; a product already in the cart grows its line.

    With the product service, its data is fetched first, before the transaction."""
    check_quantity(quantity)
    data = _service_data(lambda: statements.product_read(product_id=product_id))
    return _item_add(owner, product_id, quantity, if_match, data)


@transaction.atomic
def _item_add(
    owner: CartOwner,
    product_id: int,
    quantity: int,
    if_match: Sequence[str] | None,
    data: dict | None,
) -> CartState:
    cart = statements.cart_lock_and_touch(owner=owner, first_item=True)
    check_precondition(cart, if_match, touched=True)
    created = False
    if cart is None:
        cart, created = open_active_cart(owner)
        touch(cart, **first_item_mark(cart))
    found, lines = statements.cart_lines_read_with_product(cart=cart, product_id=product_id)
    product = _sellable_product(found, product_id, data)
    check_currency(product, cart)
    line = next((line for line in lines if line.product_id == product.pk), None)
    new_quantity = quantity + (line.quantity if line else 0)
    limit = settings.CART_MAX_QUANTITY_PER_LINE
    if new_quantity > limit:
        raise errors.LineQuantityLimitReached(
            f"A line holds at most {limit} units; this one would hold {new_quantity}.",
            max_quantity=limit,
        )
    check_stock(product, new_quantity)
    if line is None and len(lines) >= settings.CART_MAX_LINES:
        raise errors.CartLinesLimitReached(
            f"A cart holds at most {settings.CART_MAX_LINES} lines.",
            max_lines=settings.CART_MAX_LINES,
        )
    put = CartLine(
        line.id if line else 0, product.pk, product.sku, product.name, new_quantity, product.price
    )
    on_cart = codes.cart_codes_read(cart=cart)
    kind = EventType.CREATED if created else EventType.UPDATED
    told = line_event(kind, cart, lines, put, on_cart)
    put = statements.line_put(cart=cart, product=product, quantity=new_quantity, event=told)
    _line_set(lines, put)
    transaction.on_commit(lambda: metrics.ITEMS_ADDED.inc(quantity))
    return CartState(cart, lines, on_cart)


def _lock_cart_and_line(
    owner: CartOwner, item_id: int, if_match: Sequence[str] | None
) -> tuple[Cart, list[CartLine], CartLine]:
    cart = statements.cart_lock_and_touch(owner=owner)
    check_precondition(cart, if_match, touched=True)
    if cart is None:
        check_not_checking_out(owner)
    lines = statements.cart_lines_read(cart=cart) if cart is not None else []
    line = next((line for line in lines if line.id == item_id), None)
    if line is None:
        raise errors.CartItemNotFound(f"Your cart has no line {item_id}.")
    return cart, lines, line


def cart_item_update(
    *,
    owner: CartOwner,
    item_id: int,
    quantity: int,
    if_match: Sequence[str] | None = None,
) -> CartState:
    """Set a line's quantity (0 removes it). The line takes the product's current price.

    With the product service, its data is fetched first, before the transaction."""
    if quantity == 0:
        return cart_item_remove(owner=owner, item_id=item_id, if_match=if_match)
    check_quantity(quantity)
    data = _service_data(lambda: selectors.line_product_read(owner=owner, item_id=item_id))
    return _item_update(owner, item_id, quantity, if_match, data)


@transaction.atomic
def _item_update(
    owner: CartOwner,
    item_id: int,
    quantity: int,
    if_match: Sequence[str] | None,
    data: dict | None,
) -> CartState:
    cart, lines, line = _lock_cart_and_line(owner, item_id, if_match)
    product = statements.product_read(product_id=line.product_id)
    if data is not None:
        product_apply(product=product, data=data)
    if not product.is_active:
        raise errors.ProductUnavailable(
            f"{product.sku} is no longer for sale; remove the line.", product_id=product.pk
        )
    check_currency(product, cart)
    check_stock(product, quantity)
    put = CartLine(line.id, product.pk, product.sku, product.name, quantity, product.price)
    on_cart = codes.cart_codes_read(cart=cart)
    told = line_event(EventType.UPDATED, cart, lines, put, on_cart)
    _line_set(lines, statements.line_put(cart=cart, product=product, quantity=quantity, event=told))
    return CartState(cart, lines, on_cart)


@transaction.atomic
def cart_item_remove(
    *, owner: CartOwner, item_id: int, if_match: Sequence[str] | None = None
) -> CartState:
    cart, lines, line = _lock_cart_and_line(owner, item_id, if_match)
    CartItem.objects.filter(pk=line.id).delete()
    lines.remove(line)
    state = CartState(cart, lines, codes.cart_codes_read(cart=cart))
    cart_event(EventType.UPDATED, state)
    return state


@transaction.atomic
def cart_details_update(
    *, owner: CartOwner, fields: dict[str, str], if_match: Sequence[str] | None = None
) -> CartState:
    """Set the cart's `note` or `email` ("" clears one), opening a cart if the owner has none
    (a guest may leave an e-mail before adding anything)."""
    cart = statements.cart_lock_active(owner=owner)
    check_precondition(cart, if_match)
    created = False
    if cart is None:
        check_not_checking_out(owner)
        cart, created = open_active_cart(owner)
    touch(cart, **fields)
    state = CartState(cart, statements.cart_lines_read(cart=cart), codes.cart_codes_read(cart=cart))
    cart_event(EventType.CREATED if created else EventType.UPDATED, state)
    return state


@transaction.atomic
def cart_clear(*, owner: CartOwner, if_match: Sequence[str] | None = None) -> CartState | None:
    """Remove every line. Returns None when the owner has no active cart."""
    cart = statements.cart_lock_active(owner=owner)
    check_precondition(cart, if_match)
    if cart is None:
        check_not_checking_out(owner)
        return None
    cart.items.all().delete()
    touch(cart)
    state = CartState(cart, [], codes.cart_codes_read(cart=cart))
    cart_event(EventType.UPDATED, state)
    return state


@transaction.atomic
def cart_merge(
    *,
    user_id: int,
    session_token: str | None,
    if_match: Sequence[str] | None = None,
) -> CartState | None:
    """Move a guest cart's lines into the user's cart and mark the guest cart `merged`.

    Quantities of a product in both carts are summed, up to the per-line limit; the guest's
    discount codes join the user's while the cart has room for them, and the guest's note and
    e-mail fill those the user has not given. The guest cart keeps its
    lines as history. Returns the user's cart (None if neither has one).
    """
    user_owner = CartOwner(user_id=user_id)
    guest_cart = (
        statements.cart_lock_active(owner=CartOwner(session_token=session_token))
        if session_token
        else None
    )
    user_cart = statements.cart_lock_active(owner=user_owner)
    check_precondition(user_cart, if_match)
    if guest_cart is None and session_token:
        check_not_checking_out(CartOwner(session_token=session_token))
    if guest_cart is None:
        if user_cart is None:
            return None
        lines = statements.cart_lines_read(cart=user_cart)
        return CartState(user_cart, lines, codes.cart_codes_read(cart=user_cart))
    guest_lines = list(guest_cart.items.select_related("product"))
    created = False
    if user_cart is None:
        user_cart, created = open_active_cart(user_owner)
    lines = {line.product_id: line for line in user_cart.items.all()}
    new_products = {line.product_id for line in guest_lines} - lines.keys()
    if len(lines) + len(new_products) > settings.CART_MAX_LINES:
        raise errors.CartLinesLimitReached(
            f"Together the carts would hold more than {settings.CART_MAX_LINES} lines.",
            max_lines=settings.CART_MAX_LINES,
        )
    for guest_line in guest_lines:
        check_currency(guest_line.product, user_cart)
    limit = settings.CART_MAX_QUANTITY_PER_LINE
    to_create, to_update = [], []
    for guest_line in guest_lines:
        line = lines.get(guest_line.product_id)
        if line is None:
            to_create.append(
                CartItem(
                    cart=user_cart,
                    product_id=guest_line.product_id,
                    quantity=min(guest_line.quantity, limit),
                    unit_price=guest_line.product.price,
                )
            )
        else:
            line.quantity = min(line.quantity + guest_line.quantity, limit)
            line.unit_price = guest_line.product.price
            line.updated_at = timezone.now()
            to_update.append(line)
    CartItem.objects.bulk_create(to_create)
    CartItem.objects.bulk_update(to_update, ["quantity", "unit_price", "updated_at"])
    left, held = codes.cart_discounts_move(
        source=guest_cart, target=user_cart, limit=settings.CART_MAX_DISCOUNT_CODES
    )
    touch(guest_cart, status=CartStatus.MERGED, discount_count=left)
    # The user's own note and e-mail stay; the guest's fill those the user has not given.
    details = {
        name: getattr(guest_cart, name)
        for name in ("note", "email")
        if getattr(guest_cart, name) and not getattr(user_cart, name)
    }
    first = first_item_mark(user_cart) if guest_lines else {}
    touch(user_cart, discount_count=held, **details, **first)
    lines = statements.cart_lines_read(cart=user_cart)
    state = CartState(user_cart, lines, codes.cart_codes_read(cart=user_cart))
    if created:
        cart_event(EventType.CREATED, state)
    cart_event(EventType.MERGED, state, merged_cart_id=str(guest_cart.id))
    guest_state = CartState(guest_cart, [CartLine.of(line) for line in guest_lines])
    cart_event(EventType.MERGED, guest_state, merged_into_cart_id=str(user_cart.id))
    return state
