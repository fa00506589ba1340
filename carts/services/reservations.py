"""The transactions of a checkout (carts/services/checkout.py runs them in order): reserve the
stock, then complete the sale or release the stock. Each is short and makes no network call.

Locks: every change to an attempt happens with its cart's row locked, and products are locked
after the cart, in id order, so checkouts, releases and cart changes cannot deadlock.
"""

from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from functools import partial
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, When
from django.utils import timezone

from addtocart.observability import metrics
from carts import errors, selectors
from carts.db import discounts as codes
from carts.db import statements
from carts.discounts import Discounts, code_faults, discounts_evaluate
from carts.domain import CartLine, CartOwner, CartState, Reason
from carts.models import (
    AttemptStatus,
    Cart,
    CartItem,
    CartStatus,
    CheckoutAttempt,
    CheckoutRefusal,
    CheckoutRefusalLine,
    CheckoutRefusalReason,
    PaymentState,
    Product,
    RefusalReason,
    StockReservation,
    StockSale,
)
from carts.services.catalog import ServiceData, product_apply
from carts.services.common import check_precondition, touch
from carts.services.events import cart_event
from events.models import EventType


def product_units(lines: list[CartItem]) -> dict[int, int]:
    """The units of each product over the cart's lines (one per set of attributes)."""
    units: dict[int, int] = {}
    for line in lines:
        units[line.product_id] = units.get(line.product_id, 0) + line.quantity
    return units


def line_fault(line: CartItem, currency: str, units: dict[int, int]) -> dict | None:
    """What keeps a line from being checked out, if anything. `units`: each product's units
    over the cart's lines, which its stock must cover together."""
    product = line.product
    fault = {"item_id": line.pk, "product_id": product.pk, "sku": product.sku}
    if not product.is_active:
        return {**fault, "reason": "product_unavailable"}
    if product.currency != currency:
        return {**fault, "reason": "currency_changed", "currency": product.currency}
    if product.stock < units[product.pk]:
        return {
            **fault,
            "reason": "insufficient_stock",
            "requested": units[product.pk],
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


def _stock_move(quantities: dict[int, int], sign: int) -> None:
    """Add (`sign` 1) or take (-1) units to or from the products' stock, in one UPDATE."""
    Product.objects.filter(pk__in=quantities).update(
        stock=Case(
            *(When(pk=pk, then=F("stock") + sign * units) for pk, units in quantities.items())
        ),
        updated_at=timezone.now(),
    )


def _state(cart: Cart) -> CartState:
    return CartState(cart, statements.cart_lines_read(cart=cart))


def _earlier_attempt(owner: CartOwner, request_key: str) -> CheckoutAttempt | CartState | None:
    """The owner has no active cart: the attempt this request retries, if any.

    A reserved attempt sent with the same key is resumed; a completed one answers its cart
    as it was checked out (a retry never hears "cart empty" about a checkout that worked).
    """
    cart = selectors.cart_read_checking_out(owner=owner)
    if cart is not None:
        attempt = CheckoutAttempt.objects.get(cart=cart, status=AttemptStatus.RESERVED)
        if request_key and attempt.request_key == request_key:
            return attempt
        raise errors.CheckoutInProgress("Your cart is already being checked out.", retry_after=2)
    if request_key:
        done = selectors.attempt_completed_read(owner=owner, request_key=request_key)
        if done is not None:
            return _state(done.cart)
    return None


@transaction.atomic
def checkout_reserve(
    *,
    owner: CartOwner,
    if_match: Sequence[str] | None,
    request_key: str,
    service_data: ServiceData | None,
) -> CheckoutAttempt | CartState:
    """Check every line against the catalog, move its units from the stock into reservations,
    record the attempt and mark the cart `checking_out`.

    Any line at fault (product gone or inactive, not enough stock, price changed since the
    line was added) fails the whole checkout with every fault listed, and nothing changes.
    `service_data` is the product service's fresh data for the cart's products, if any.
    Returns the attempt, or the cart's state if this request retries a finished checkout.
    """
    cart = statements.cart_lock_active(owner=owner)
    if cart is None and (earlier := _earlier_attempt(owner, request_key)) is not None:
        return earlier
    check_precondition(cart, if_match)
    if cart is None:
        raise errors.CartEmpty("You have no cart to check out.")
    lines = statements.cart_items_lock_products(cart=cart)
    if not lines:
        raise errors.CartEmpty("Add something to the cart before checking out.")
    for line in lines:
        # A line added since the data was fetched keeps the data its add applied.
        if service_data is not None and line.product.sku in service_data:
            product_apply(product=line.product, data=service_data[line.product.sku])
    now = timezone.now()
    started = CartState(
        cart, [CartLine.of(line) for line in _in_order(lines)], codes.cart_codes_read(cart=cart)
    )
    discounts = discounts_evaluate(
        started.discounts, lines=started.lines, currency=cart.currency, now=now
    )
    quantities = product_units(lines)
    faults = [fault for line in lines if (fault := line_fault(line, cart.currency, quantities))]
    _conflict_unless_empty(faults, code_faults(discounts))
    _conflict_unless_empty([], _uses_hold(discounts))

    _stock_move(quantities, -1)
    subtotal = sum((line.quantity * line.unit_price for line in lines), Decimal("0.00"))
    attempt = CheckoutAttempt(
        cart=cart,
        request_key=request_key,
        total=max(subtotal - discounts.total, Decimal("0.00")),
        currency=cart.currency,
        expires_at=now + timedelta(seconds=settings.CHECKOUT_RESERVATION_SECONDS),
        created_at=now,
    )
    charged = codes.cart_discounts_charge(cart=cart, discounts=discounts)
    if not settings.PAYMENT_SERVICE_URL or not attempt.total:
        # Nothing to wait on (no payment service, or nothing to pay): sold in this transaction.
        attempt.status, attempt.payment = AttemptStatus.COMPLETED, PaymentState.NOT_NEEDED
        attempt.resolved_at = now
        attempt.save(force_insert=True)
        cart_event(EventType.CHECKOUT_STARTED, started, total=str(attempt.total))
        return _sell(cart, attempt, quantities, CartState(cart, started.lines, charged))
    attempt.save(force_insert=True)
    StockReservation.objects.bulk_create(
        StockReservation(attempt=attempt, product_id=pk, quantity=units)
        for pk, units in quantities.items()
    )
    # Nothing else changes: a released cart is the same cart, version and all (cart_etag
    # tells the two states apart).
    cart.status = CartStatus.CHECKING_OUT
    cart.save(update_fields=["status"])
    cart_event(EventType.CHECKOUT_STARTED, started, total=str(attempt.total))
    return attempt


def _conflict_unless_empty(line_faults: list[dict], code_faults: list[dict]) -> None:
    if line_faults or code_faults:
        metrics.CHECKOUTS.labels(outcome="conflict").inc()
        raise errors.CheckoutConflict(
            f"{len(line_faults)} line(s) and {len(code_faults)} discount code(s) cannot be "
            "checked out; see `lines` and `discounts`.",
            lines=line_faults,
            discounts=code_faults,
        )


def _uses_hold(discounts: Discounts) -> list[dict]:
    """Hold a use of each code, in id order; the codes whose uses ran out meanwhile."""
    ran_out = []
    for outcome in sorted(discounts.codes, key=lambda outcome: outcome.terms.id):
        if not codes.code_use_hold(code_id=outcome.terms.id):
            ran_out.append({"code": outcome.terms.code, "reason": Reason.USAGE_LIMIT_REACHED})
    return ran_out


def _in_order(lines: list[CartItem]) -> list[CartItem]:
    return sorted(lines, key=lambda line: (line.created_at, line.pk))


def _sell(
    cart: Cart, attempt: CheckoutAttempt, quantities: dict[int, int], sold: CartState
) -> CartState:
    """The units are sold: the product service will be told, the codes' uses counted (`sold`:
    the cart's lines and codes as charged), the cart is checked out."""
    codes.cart_discounts_count(charged=sold.discounts)
    if settings.PRODUCT_SERVICE_URL:
        StockSale.objects.bulk_create(
            StockSale(attempt=attempt, product_id=pk, quantity=units)
            for pk, units in quantities.items()
        )
    touch(cart, status=CartStatus.CHECKED_OUT, total=attempt.total, checked_out_at=timezone.now())
    state = CartState(cart, sold.lines, sold.discounts)
    cart_event(EventType.CHECKED_OUT, state)
    transaction.on_commit(metrics.CHECKOUTS.labels(outcome="completed").inc)
    return state


@transaction.atomic
def checkout_complete(
    *, attempt_id: UUID, payment: PaymentState, authorization_id: str = ""
) -> CartState:
    """The payment is authorised (or none is needed): the reservations become the sale and
    the cart is `checked_out`. Raises CheckoutExpired if the attempt was released first."""
    cart, attempt = statements.attempt_lock(attempt_id=attempt_id)
    if attempt.status == AttemptStatus.COMPLETED:
        return _state(cart)
    if attempt.status != AttemptStatus.RESERVED:
        raise errors.CheckoutExpired(
            "The checkout took too long and its stock was released; nothing was charged. "
            "Check out again."
        )
    quantities = statements.reservations_take(attempt_id=attempt.pk)
    attempt.status, attempt.payment = AttemptStatus.COMPLETED, payment
    attempt.authorization_id, attempt.resolved_at = authorization_id, timezone.now()
    attempt.save(update_fields=["status", "payment", "authorization_id", "resolved_at"])
    sold = CartState(cart, statements.cart_lines_read(cart=cart), codes.cart_codes_read(cart=cart))
    return _sell(cart, attempt, quantities, sold)


@transaction.atomic
def checkout_failure_record(
    *, owner: CartOwner, faults: list[dict], code_faults: list[dict]
) -> None:
    """A checkout refused for its lines or codes changed nothing (its transaction rolled
    back): tell of it in a transaction of its own, with each line's and code's fault, and
    record the refusal (its codes' faults as one reason, `code_invalid`)."""
    cart = statements.cart_lock_active(owner=owner)
    if cart is not None:
        state = CartState(cart, statements.cart_lines_read(cart=cart))
        reasons = sorted({str(fault["reason"]) for fault in (*faults, *code_faults)})
        cart_event(
            EventType.CHECKOUT_FAILED, state, reasons=reasons, lines=faults, discounts=code_faults
        )
        refused_for = {str(fault["reason"]) for fault in faults}
        if code_faults:
            refused_for.add(RefusalReason.CODE_INVALID)
        _refusal_record(state, refused_for, faults)


@transaction.atomic
def checkout_release(*, attempt_id: UUID, reason: str, payment: PaymentState) -> bool:
    """Give the reserved units back to the stock and the cart back to its owner, `active` and
    as it was, and record the refusal (`reason`: a key of RELEASE_REASONS). Returns False if
    the attempt had already ended."""
    cart, attempt = statements.attempt_lock(attempt_id=attempt_id)
    if attempt.status != AttemptStatus.RESERVED:
        return False
    quantities = statements.reservations_take(attempt_id=attempt.pk)
    statements.products_lock(product_ids=list(quantities))
    _stock_move(quantities, 1)
    codes.cart_discounts_release(cart=cart)
    attempt.status, attempt.payment, attempt.resolved_at = (
        AttemptStatus.RELEASED,
        payment,
        timezone.now(),
    )
    attempt.release_reason = reason
    attempt.save(update_fields=["status", "payment", "release_reason", "resolved_at"])
    cart.status = CartStatus.ACTIVE
    cart.save(update_fields=["status"])
    state = CartState(cart, statements.cart_lines_read(cart=cart))
    cart_event(EventType.CHECKOUT_FAILED, state, reasons=[reason])
    _refusal_record(state, {RELEASE_REASONS[reason]})
    transaction.on_commit(metrics.CHECKOUTS.labels(outcome=reason).inc)
    return True


# The reasons checkout_release is given (carts/services/checkout.py), as refusals record them.
RELEASE_REASONS = {
    "refused": RefusalReason.PAYMENT_REFUSED,
    "payment_unavailable": RefusalReason.PAYMENT_UNAVAILABLE,
    "expired": RefusalReason.CHECKOUT_EXPIRED,
}


def _refusal_record(state: CartState, reasons: set[str], line_faults: Iterable[dict] = ()) -> None:
    """Record a refused checkout of the cart of `state` (its lines as they are now: a refusal
    changed none), with its `reasons` and its lines at fault, in the transaction of its
    `cart.checkout_failed` event; count each reason once that commits. Three INSERTs at most,
    and only on a refusal."""
    lines = {line.id: line for line in state.lines}
    refusal = CheckoutRefusal.objects.create(
        cart=state.cart,
        at=timezone.now(),
        value=sum((line.quantity * line.unit_price for line in state.lines), Decimal("0.00")),
        currency=state.cart.currency,
    )
    CheckoutRefusalReason.objects.bulk_create(
        CheckoutRefusalReason(refusal=refusal, reason=reason) for reason in sorted(reasons)
    )
    CheckoutRefusalLine.objects.bulk_create(
        CheckoutRefusalLine(
            refusal=refusal,
            product_id=line.product_id,
            sku=line.sku,
            reason=fault["reason"],
            quantity=line.quantity,
            value=line.quantity * line.unit_price,
        )
        for fault in line_faults
        # A line removed since the refusal rolled back has nothing left to count.
        if (line := lines.get(fault["item_id"])) is not None
    )
    transaction.on_commit(partial(_conflicts_count, sorted(reasons)))


# Each reason is exported from the start, at 0: a series born with its first refusal would
# lose that refusal to Prometheus' rate() and increase().
for _reason in RefusalReason.values:
    metrics.CHECKOUT_CONFLICTS.labels(reason=_reason)


def _conflicts_count(reasons: list[str]) -> None:
    for reason in reasons:
        metrics.CHECKOUT_CONFLICTS.labels(reason=reason).inc()
