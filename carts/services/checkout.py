"""Checkout in phases, so that no lock is held while another service is waited on:

1. reserve (one transaction, carts/services/reservations.py): lock the cart, check every line,
   move the units from the stock into reservations, record the attempt, mark the cart
   `checking_out`;
2. authorise, outside any transaction: the payment service, with the attempt's id as its
   idempotency key, so a retry of the attempt is never charged twice;
3. complete or release (one transaction): the sale, or the stock and the cart given back.

A worker that dies between phases leaves a reserved attempt; it expires after
CHECKOUT_RESERVATION_SECONDS and the sweeper (carts/services/sweeper.py) resolves it. The
product service, if any, is asked before phase 1 and told of the sale after phase 3.
"""

from collections.abc import Callable, Sequence
from typing import TypeVar
from uuid import UUID

from django.conf import settings
from django.utils import timezone

from carts import errors, selectors
from carts.domain import CartOwner, CartState
from carts.models import CheckoutAttempt, PaymentState
from carts.services.catalog import product_data_fetch
from carts.services.reservations import (
    checkout_complete,
    checkout_failure_record,
    checkout_release,
    checkout_reserve,
)
from carts.services.sales import stock_sales_report
from integrations.errors import PaymentRefused, PaymentUnavailable
from integrations.payments import Outcome, payment_authorise, payment_outcome, payment_void

R = TypeVar("R")


def cart_change(*, owner: CartOwner, change: Callable[[], R]) -> R:
    """Make a change to the owner's cart (`change` calls one service, with its own
    transactions). Refused because the cart is checking out, and that checkout expired (its
    worker died): end it now as the sweeper would (`checkout_resolve`) and try once more,
    rather than keep the shopper waiting for the sweeper's next run. Runs no transaction
    itself: ending the checkout asks the payment service."""
    try:
        return change()
    except errors.CheckoutInProgress:
        attempt = selectors.attempt_expired_of(owner=owner, now=timezone.now())
        if attempt is None:
            raise
        checkout_resolve(attempt_id=attempt.pk)
        return change()


def cart_checkout(
    *, owner: CartOwner, if_match: Sequence[str] | None = None, request_key: str = ""
) -> CartState:
    """Check the owner's cart out: reserve, authorise, complete or release (see above).

    Not one transaction, by design: each phase is its own. `request_key` is the request's
    Idempotency-Key: a retry with it resumes or answers the same attempt.
    """
    if not selectors.owner_may_buy(owner=owner):
        raise errors.AccountInactive()
    service_data = None
    if settings.PRODUCT_SERVICE_URL:
        skus = selectors.cart_skus_read(owner=owner)
        service_data = product_data_fetch(skus=skus, fresh=True)
    try:
        reserved = checkout_reserve(
            owner=owner, if_match=if_match, request_key=request_key, service_data=service_data
        )
    except errors.CheckoutConflict as conflict:
        extra = conflict.extra
        checkout_failure_record(owner=owner, faults=extra["lines"], code_faults=extra["discounts"])
        raise
    # Without a payment service the sale is made at once (or this retries a finished one).
    state = reserved if isinstance(reserved, CartState) else _authorise_and_complete(reserved)
    if settings.PRODUCT_SERVICE_URL:
        stock_sales_report(cart_id=state.cart.id)
    return state


def _authorise_and_complete(attempt: CheckoutAttempt) -> CartState:
    key = str(attempt.id)
    try:
        authorization = payment_authorise(
            cart_id=attempt.cart_id,
            amount=attempt.total,
            currency=attempt.currency,
            idempotency_key=key,
        )
    except PaymentRefused:
        checkout_release(attempt_id=attempt.id, reason="refused", payment=PaymentState.REFUSED)
        raise
    except PaymentUnavailable:
        # It may have authorised it all the same: the sweeper asks again, and voids it.
        checkout_release(
            attempt_id=attempt.id, reason="payment_unavailable", payment=PaymentState.UNKNOWN
        )
        raise
    try:
        return checkout_complete(
            attempt_id=attempt.id,
            payment=PaymentState.AUTHORISED,
            authorization_id=authorization,
        )
    except errors.CheckoutExpired:
        # The sweeper released it while the payment service was answering: void the payment
        # (if that fails, the sweeper tries again).
        voided = payment_void(idempotency_key=key)
        payment = PaymentState.VOIDED if voided else PaymentState.UNKNOWN
        CheckoutAttempt.objects.filter(pk=attempt.id).update(payment=payment)
        raise


def checkout_resolve(*, attempt_id: UUID) -> str:
    """End a reserved attempt whose worker is gone (it expired): complete it if the payment
    service says it authorised the payment, else release it. Returns what was done."""
    attempt = CheckoutAttempt.objects.get(pk=attempt_id)
    if not settings.PAYMENT_SERVICE_URL:  # it was set when the attempt began: none to ask now
        released = checkout_release(
            attempt_id=attempt_id, reason="expired", payment=PaymentState.UNKNOWN
        )
        return "released" if released else "already_ended"
    outcome, authorization = payment_outcome(idempotency_key=str(attempt_id))
    if outcome == Outcome.AUTHORISED:
        try:
            checkout_complete(
                attempt_id=attempt_id,
                payment=PaymentState.AUTHORISED,
                authorization_id=authorization,
            )
        except errors.CheckoutExpired:
            return "already_ended"
        if settings.PRODUCT_SERVICE_URL:
            stock_sales_report(cart_id=attempt.cart_id)
        return "completed"
    payment = {
        Outcome.REFUSED: PaymentState.REFUSED,
        Outcome.ABSENT: PaymentState.ABSENT,
        Outcome.UNKNOWN: PaymentState.UNKNOWN,
    }[outcome]
    released = checkout_release(attempt_id=attempt_id, reason="expired", payment=payment)
    return "released" if released else "already_ended"


def checkout_payment_settle(*, attempt_id: UUID) -> PaymentState:
    """A released attempt whose payment outcome was unknown: ask the payment service again,
    and void an authorisation that arrived after the stock was released."""
    key = str(attempt_id)
    outcome, _ = payment_outcome(idempotency_key=key)
    payment = PaymentState.UNKNOWN
    if outcome == Outcome.AUTHORISED:
        payment = PaymentState.VOIDED if payment_void(idempotency_key=key) else payment
    elif outcome == Outcome.REFUSED:
        payment = PaymentState.REFUSED
    elif outcome == Outcome.ABSENT:
        payment = PaymentState.ABSENT
    CheckoutAttempt.objects.filter(pk=attempt_id, payment=PaymentState.UNKNOWN).update(
        payment=payment
    )
    return payment
