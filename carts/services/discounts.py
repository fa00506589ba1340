"""A shopper's discount codes: applying one to their cart, and removing it.

A code is applied only if it takes something off the cart now; once on the cart it stays
there when the cart changes, shown as not applicable (with the reason) until the cart
qualifies again. Checkout checks every code again (carts/services/reservations.py).
"""

from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from carts import errors
from carts.db import discounts as codes
from carts.db import statements
from carts.discounts import code_refusal
from carts.domain import CartOwner, CartState, Reason
from carts.models import CartDiscount
from carts.services.common import check_not_checking_out, check_precondition, touch
from carts.services.events import cart_event
from events.models import EventType


def _refused(reason: Reason, code: str, min_subtotal: Decimal | None = None):
    extra = {"min_subtotal": f"{min_subtotal:.2f}"} if reason == Reason.MIN_SUBTOTAL_NOT_MET else {}
    return errors.DiscountCodeInvalid(
        f"The code {code!r} cannot be applied: {reason}.", reason=str(reason), **extra
    )


@transaction.atomic
def cart_discount_apply(
    *, owner: CartOwner, code: str, if_match: Sequence[str] | None = None
) -> CartState:
    """Put the code on the owner's active cart, if it takes something off it now. A code
    already on the cart leaves it as it is."""
    cart = statements.cart_lock_active(owner=owner)
    check_precondition(cart, if_match)
    if cart is None:
        check_not_checking_out(owner)
    found = codes.code_find(code=code)
    if found is None:
        raise _refused(Reason.NOT_FOUND, code)
    lines = statements.cart_lines_read(cart=cart) if cart is not None else []
    on_cart = codes.cart_codes_read(cart=cart) if cart is not None else ()
    if any(terms.id == found.pk for terms in on_cart):
        return CartState(cart, lines, on_cart)
    terms = codes.code_terms_for(code=found, cart=cart)
    currency = cart.currency if cart is not None else settings.CART_DEFAULT_CURRENCY
    reason = code_refusal(terms, lines=lines, currency=currency, now=timezone.now())
    if reason is not None:
        raise _refused(reason, code, terms.min_subtotal)
    limit = settings.CART_MAX_DISCOUNT_CODES
    if len(on_cart) >= limit:
        raise errors.DiscountCodesLimitReached(
            f"A cart holds at most {limit} discount code(s); remove one first.",
            max_discount_codes=limit,
        )
    CartDiscount.objects.create(cart=cart, code=found)
    touch(cart, discount_count=len(on_cart) + 1)
    state = CartState(cart, lines, (*on_cart, terms))
    cart_event(EventType.UPDATED, state)
    return state


@transaction.atomic
def cart_discount_remove(
    *, owner: CartOwner, code: str, if_match: Sequence[str] | None = None
) -> CartState:
    """Take the code (any case) off the owner's active cart."""
    cart = statements.cart_lock_active(owner=owner)
    check_precondition(cart, if_match)
    if cart is None:
        check_not_checking_out(owner)
        raise errors.CartDiscountNotFound(f"Your cart holds no code {code!r}.")
    on_cart = codes.cart_codes_read(cart=cart)
    kept = tuple(terms for terms in on_cart if terms.code.lower() != code.lower())
    if len(kept) == len(on_cart):
        raise errors.CartDiscountNotFound(f"Your cart holds no code {code!r}.")
    CartDiscount.objects.filter(cart=cart, code__code__iexact=code).delete()
    touch(cart, discount_count=len(kept))
    state = CartState(cart, statements.cart_lines_read(cart=cart), kept)
    cart_event(EventType.UPDATED, state)
    return state
