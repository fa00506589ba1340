"""The checkout gauges of /metrics: what the sweeper has left to do, counted from the database.

Each test builds attempts and sales in every state next to the ones a gauge counts, so a gauge
that counted the wrong rows (or all of them) would report another number."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from carts.models import (
    AttemptStatus,
    CartStatus,
    CheckoutAttempt,
    PaymentState,
    StockReservation,
    StockSale,
)
from health.prometheus import BusinessCollector, checkout_figures
from tests.factories import CartFactory, ProductFactory

GAUGES = {
    "addtocart_checkout_reservations_expired",
    "addtocart_checkout_reservations_open",
    "addtocart_checkout_payments_unknown",
    "addtocart_stock_sales_unreported",
}


def attempt(status=AttemptStatus.RESERVED, payment=PaymentState.PENDING, expires_in=10, **extra):
    """An attempt of its own cart (one reserved attempt per cart), expiring in `expires_in`
    minutes (negative: expired)."""
    cart_status = CartStatus.CHECKING_OUT if status == AttemptStatus.RESERVED else None
    cart = CartFactory(status=cart_status or CartStatus.ACTIVE)
    made = CheckoutAttempt.objects.create(
        cart=cart,
        status=status,
        payment=payment,
        total=Decimal("20.00"),
        currency="EUR",
        expires_at=timezone.now() + timedelta(minutes=expires_in),
        **extra,
    )
    if status == AttemptStatus.RESERVED:
        StockReservation.objects.create(attempt=made, product=ProductFactory(), quantity=2)
    return made


def sale(minutes_ago: float, reported: bool = False) -> StockSale:
    now = timezone.now()
    return StockSale.objects.create(
        attempt=attempt(AttemptStatus.COMPLETED, PaymentState.AUTHORISED),
        product=ProductFactory(),
        quantity=1,
        created_at=now - timedelta(minutes=minutes_ago),
        reported_at=now if reported else None,
    )


def scrape() -> dict[str, float]:
    """The gauges as /metrics exports them, from a collector of their own: /metrics's keeps
    its figures for BUSINESS_METRICS_CACHE_SECONDS, for the tests that follow too."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BusinessCollector())
    text = generate_latest(registry).decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in GAUGES
    }


@pytest.mark.django_db
def test_every_checkout_gauge_is_exported_at_zero_when_nothing_is_pending():
    attempt(AttemptStatus.COMPLETED, PaymentState.AUTHORISED, expires_in=-30)
    sale(minutes_ago=30, reported=True)
    assert scrape() == dict.fromkeys(GAUGES, 0.0)


@pytest.mark.django_db
def test_expired_and_open_reservations():
    for _ in range(2):
        attempt(expires_in=-1)  # expired a minute ago: the sweeper has not come by
    attempt(expires_in=-60)
    for _ in range(4):
        attempt(expires_in=9)  # waiting on the payment service, within their time
    # Ended attempts, however long expired, hold nothing.
    attempt(AttemptStatus.COMPLETED, PaymentState.AUTHORISED, expires_in=-60)
    attempt(AttemptStatus.RELEASED, PaymentState.REFUSED, expires_in=-60)
    gauges = scrape()
    assert gauges["addtocart_checkout_reservations_expired"] == 3
    assert gauges["addtocart_checkout_reservations_open"] == 7
    assert gauges["addtocart_checkout_payments_unknown"] == 0


@pytest.mark.django_db
def test_payments_unknown_counts_released_attempts_only():
    for _ in range(2):
        attempt(AttemptStatus.RELEASED, PaymentState.UNKNOWN, release_reason="payment_unavailable")
    attempt(AttemptStatus.RELEASED, PaymentState.UNKNOWN, expires_in=-60, release_reason="expired")
    # Settled by the sweeper: voided, refused, never received.
    for settled in (PaymentState.VOIDED, PaymentState.REFUSED, PaymentState.ABSENT):
        attempt(AttemptStatus.RELEASED, settled, release_reason="payment_unavailable")
    attempt(AttemptStatus.COMPLETED, PaymentState.AUTHORISED)
    gauges = scrape()
    assert gauges["addtocart_checkout_payments_unknown"] == 3
    assert gauges["addtocart_checkout_reservations_open"] == 0


@pytest.mark.django_db
def test_sales_unreported_after_five_minutes():
    sale(minutes_ago=6)
    sale(minutes_ago=60)
    sale(minutes_ago=1)  # reported right after its checkout, normally: not late yet
    sale(minutes_ago=60, reported=True)
    assert scrape()["addtocart_stock_sales_unreported"] == 2


@pytest.mark.django_db
def test_the_checkout_figures_take_two_queries(django_assert_num_queries):
    attempt(expires_in=-1)
    attempt(AttemptStatus.RELEASED, PaymentState.UNKNOWN)
    sale(minutes_ago=10)
    with django_assert_num_queries(2):
        figures = checkout_figures(timezone.now())
    assert figures == {
        "checkout_reservations_expired": 1,
        "checkout_reservations_open": 1,
        "checkout_payments_unknown": 1,
        "stock_sales_unreported": 1,
    }


@pytest.mark.django_db
def test_expiry_is_read_against_the_time_given():
    reserved = attempt(expires_in=10)
    before = checkout_figures(reserved.expires_at - timedelta(seconds=1))
    after = checkout_figures(reserved.expires_at + timedelta(seconds=1))
    assert before["checkout_reservations_expired"] == 0
    assert after["checkout_reservations_expired"] == 1
