"""A shopper's changes to their cart. Each function runs in one transaction and returns the
cart as it left it (`CartState`), so the answer needs no further read.

Every change first locks the owner's active cart (on the hot paths with the UPDATE that bumps
its version, carts/db/statements.py), so concurrent changes to one cart happen one after
another and none is lost.
"""

from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from carts import errors, selectors
from carts.db import discounts as codes
from carts.db import statements
from carts.domain import CartLine, CartOwner, CartState
from carts.models import CartItem, CartStatus
from carts.services.catalog import product_apply
from carts.services.common import (
    check_currency,
    check_not_checking_out,
    check_precondition,
    check_quantity,
    check_stock,
    first_item_mark,
    lock_cart_and_line,
    open_active_cart,
    product_service_data,
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


def _line_set(lines: list[CartLine], line: CartLine) -> None:
    """Put `line` into `lines` in place of the line with its id."""
    lines[next(n for n, old in enumerate(lines) if old.id == line.id)] = line


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
    data = product_service_data(lambda: selectors.line_product_read(owner=owner, item_id=item_id))
    return _item_update(owner, item_id, quantity, if_match, data)


@transaction.atomic
def _item_update(
    owner: CartOwner,
    item_id: int,
    quantity: int,
    if_match: Sequence[str] | None,
    data: dict | None,
) -> CartState:
    cart, lines, line = lock_cart_and_line(owner, item_id, if_match)
    product = statements.product_read(product_id=line.product_id)
    if data is not None:
        product_apply(product=product, data=data)
    if not product.is_active:
        raise errors.ProductUnavailable(
            f"{product.sku} is no longer for sale; remove the line.", product_id=product.pk
        )
    check_currency(product, cart)
    elsewhere = sum(
        old.quantity for old in lines if old.product_id == product.pk and old.id != line.id
    )
    check_stock(product, quantity + elsewhere)
    put = line._replace(
        sku=product.sku, name=product.name, quantity=quantity, unit_price=product.price
    )
    on_cart = codes.cart_codes_read(cart=cart)
    told = line_event(EventType.UPDATED, cart, lines, put, on_cart)
    put = statements.line_put(
        cart=cart, product=product, quantity=quantity, attributes=line.attributes, event=told
    )
    _line_set(lines, put)
    return CartState(cart, lines, on_cart)


@transaction.atomic
def cart_item_remove(
    *, owner: CartOwner, item_id: int, if_match: Sequence[str] | None = None
) -> CartState:
    cart, lines, line = lock_cart_and_line(owner, item_id, if_match)
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

    Quantities of a product with the same attributes in both carts are summed, up to the
    per-line limit; the guest's
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
    # One line per product and attributes (CartItem's unique constraint).
    lines = {(line.product_id, line.attributes_key): line for line in user_cart.items.all()}
    new_lines = {(line.product_id, line.attributes_key) for line in guest_lines} - lines.keys()
    if len(lines) + len(new_lines) > settings.CART_MAX_LINES:
        raise errors.CartLinesLimitReached(
            f"Together the carts would hold more than {settings.CART_MAX_LINES} lines.",
            max_lines=settings.CART_MAX_LINES,
        )
    for guest_line in guest_lines:
        check_currency(guest_line.product, user_cart)
    limit = settings.CART_MAX_QUANTITY_PER_LINE
    to_create, to_update = [], []
    for guest_line in guest_lines:
        line = lines.get((guest_line.product_id, guest_line.attributes_key))
        if line is None:
            to_create.append(
                CartItem(
                    cart=user_cart,
                    product_id=guest_line.product_id,
                    quantity=min(guest_line.quantity, limit),
                    unit_price=guest_line.product.price,
                    attributes=guest_line.attributes,
                    attributes_key=guest_line.attributes_key,
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
