"""What several cart services do: the checks every change makes, touching a cart, opening one.

Every change to a cart first locks the owner's active cart row (carts/db/statements.py says
how), so concurrent changes to one cart happen one after another and none is lost.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from addtocart.observability import metrics
from carts import errors, selectors
from carts.db import statements
from carts.domain import CartLine, CartOwner, CartState, cart_etag
from carts.models import Cart, CartStatus, Product
from carts.services.catalog import product_data_fetch
from carts.services.events import cart_event
from events.models import EventType


def product_service_data(read_product: Callable[[], Product | None]) -> dict | None:
    """The product service's data for the product `read_product` finds (read only when there
    is a service), fetched before any transaction; None without a service or a product."""
    if not settings.PRODUCT_SERVICE_URL or (product := read_product()) is None:
        return None
    return product_data_fetch(skus=[product.sku], fresh=False)[product.sku]


def check_precondition(
    cart: Cart | None, if_match: Sequence[str] | None, *, touched: bool = False
) -> None:
    """`If-Match` against the cart as the caller could have read it: before this request's
    own touch when `touched` (see `statements.cart_lock_and_touch`)."""
    if if_match is None:
        return
    current = cart and cart_etag(cart, version=cart.version - touched)
    if current is None or ("*" not in if_match and current not in if_match):
        raise errors.PreconditionFailed(
            "Your copy of the cart is out of date: read it again and retry.",
            **({"current_etag": current} if current else {}),
        )


def check_quantity(quantity: int) -> None:
    limit = settings.CART_MAX_QUANTITY_PER_LINE
    if not 1 <= quantity <= limit:
        raise errors.LineQuantityLimitReached(
            f"A line holds from 1 to {limit} units.", max_quantity=limit
        )


def check_currency(product: Product, cart: Cart) -> None:
    if product.currency != cart.currency:
        raise errors.CurrencyMismatch(
            f"{product.sku} is priced in {product.currency}, the cart in {cart.currency}.",
            product_id=product.pk,
        )


def check_stock(product: Product, quantity: int) -> None:
    if quantity > product.stock:
        raise errors.InsufficientStock(
            f"Only {product.stock} of {product.sku} left.",
            product_id=product.pk,
            available=product.stock,
        )


def check_not_checking_out(owner: CartOwner) -> None:
    """Called when the owner has no active cart: is theirs being checked out?"""
    if selectors.cart_read_checking_out(owner=owner) is not None:
        raise errors.CheckoutInProgress(
            "Your cart is being checked out; it can change again if that fails.", retry_after=2
        )


def lock_cart_and_line(
    owner: CartOwner, item_id: int, if_match: Sequence[str] | None
) -> tuple[Cart, list[CartLine], CartLine]:
    """Lock and touch the owner's active cart; its lines and line `item_id` (404 if none)."""
    cart = statements.cart_lock_and_touch(owner=owner)
    check_precondition(cart, if_match, touched=True)
    if cart is None:
        check_not_checking_out(owner)
    lines = statements.cart_lines_read(cart=cart) if cart is not None else []
    line = next((line for line in lines if line.id == item_id), None)
    if line is None:
        raise errors.CartItemNotFound(f"Your cart has no line {item_id}.")
    return cart, lines, line


def touch(cart: Cart, **changes: Any) -> None:
    """Save `changes` to the cart with a new version and last activity."""
    for field, value in changes.items():
        setattr(cart, field, value)
    cart.version += 1
    cart.updated_at = timezone.now()
    cart.save(update_fields=["version", "updated_at", *changes])


def first_item_mark(cart: Cart) -> dict[str, Any]:
    """Remember when a cart first held a line: the metrics count carts that ever did."""
    return {} if cart.first_item_added_at else {"first_item_added_at": timezone.now()}


def resume_abandoned_cart(owner: CartOwner) -> Cart | None:
    """A shopper who comes back gets their latest abandoned cart back, active again."""
    cart = statements.cart_lock_latest_abandoned(owner=owner)
    if cart is None:
        return None
    try:
        with transaction.atomic():
            touch(cart, status=CartStatus.ACTIVE)
            cart_event(EventType.RESUMED, CartState(cart, statements.cart_lines_read(cart=cart)))
    except IntegrityError:
        # A concurrent request opened an active cart first.
        return statements.cart_lock_active(owner=owner)
    return cart


def open_active_cart(owner: CartOwner) -> tuple[Cart, bool]:
    """Resume the owner's abandoned cart or create one; or lock the one a concurrent
    request just opened. Returns the cart and whether it was created."""
    if (
        owner.user_id is not None
        and not get_user_model().objects.filter(pk=owner.user_id, is_active=True).exists()
    ):
        raise errors.NotSignedIn("Your account no longer exists or is inactive.")
    resumed = resume_abandoned_cart(owner)
    if resumed is not None:
        return resumed, False
    try:
        with transaction.atomic():
            cart = Cart.objects.create(user_id=owner.user_id, session_id=owner.session_token)
        kind = "user" if owner.user_id is not None else "guest"
        transaction.on_commit(metrics.CARTS_CREATED.labels(owner=kind).inc)
        return cart, True
    except IntegrityError:
        cart = statements.cart_lock_active(owner=owner)
        if cart is None:
            check_not_checking_out(owner)
            raise
        return cart, False
