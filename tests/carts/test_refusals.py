"""Refused checkouts: recorded with their reasons, lines and value when (and only when) a
checkout is refused, counted in Prometheus once that commits, purged with their carts; and
their figures (carts/refusal_analytics.py) against refusals whose figures are known by hand."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from prometheus_client import REGISTRY

from carts import services
from carts.models import (
    Cart,
    CartDiscount,
    CartStatus,
    CheckoutRefusal,
    CheckoutRefusalLine,
    CheckoutRefusalReason,
    DiscountCode,
    Product,
    RefusalReason,
)
from carts.refusal_analytics import consecutive_refusal_metrics, refusal_metrics
from carts.services.reservations import checkout_failure_record
from tests.carts.stubs import add, checkout
from tests.factories import DiscountCodeFactory, ProductFactory, cart_get_active, make_cart

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_breaker")]

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
START, END = NOW - timedelta(days=7), NOW
STOCK, PRICE = "insufficient_stock", "price_changed"


def counted(reason: str) -> float:
    return REGISTRY.get_sample_value("addtocart_checkout_conflicts_total", {"reason": reason}) or 0


def counts() -> dict[str, float]:
    return {reason: counted(reason) for reason in RefusalReason.values}


def recorded() -> list[tuple]:
    """Each refusal: its value, its reasons, its lines (sku, reason, quantity, value)."""
    return [
        (
            refusal.value,
            sorted(refusal.reasons.values_list("reason", flat=True)),
            sorted(refusal.lines.values_list("sku", "reason", "quantity", "value")),
        )
        for refusal in CheckoutRefusal.objects.order_by("at")
    ]


@pytest.fixture
def shopped(user_api, owner):
    """The user's cart: 3 MUG at 5.00 and 1 TEE at 20.00 (subtotal 35.00), and the code TEN."""
    mug = ProductFactory(sku="MUG", price=Decimal("5.00"), stock=10)
    tee = ProductFactory(sku="TEE", price=Decimal("20.00"), stock=10)
    add(user_api, mug, 3)
    add(user_api, tee, 1)
    cart = cart_get_active(owner=owner)
    CartDiscount.objects.create(cart=cart, code=DiscountCodeFactory(code="TEN"))
    Cart.objects.filter(pk=cart.pk).update(discount_count=1)
    return mug, tee


def test_a_checkout_refused_for_its_lines_and_code_is_recorded_with_each_reason(
    user_api, shopped, django_capture_on_commit_callbacks
):
    mug, tee = shopped
    Product.objects.filter(pk=mug.pk).update(stock=2)  # 3 wanted
    Product.objects.filter(pk=tee.pk).update(price=Decimal("22.00"))
    DiscountCode.objects.filter(code="TEN").update(is_active=False)
    before = counts()
    with django_capture_on_commit_callbacks(execute=True):
        assert checkout(user_api).status_code == 409
    lines = [("MUG", STOCK, 3, Decimal("15.00")), ("TEE", PRICE, 1, Decimal("20.00"))]
    # The value is the subtotal, before the code: 3 x 5.00 + 20.00.
    assert recorded() == [(Decimal("35.00"), ["code_invalid", STOCK, PRICE], lines)]
    refusal = CheckoutRefusal.objects.get()
    assert (refusal.cart.status, refusal.currency, refusal.cart.items.count()) == (
        CartStatus.ACTIVE,
        "EUR",
        2,
    )
    assert Product.objects.get(pk=mug.pk).stock == 2  # nothing else changed
    changes = {reason: counted(reason) - before[reason] for reason in RefusalReason.values}
    assert changes == {
        **dict.fromkeys(RefusalReason.values, 0),
        "code_invalid": 1,
        STOCK: 1,
        PRICE: 1,
    }


def test_two_lines_with_one_reason_count_that_reason_once(
    user_api, shopped, django_capture_on_commit_callbacks
):
    Product.objects.filter(sku__in=["MUG", "TEE"]).update(is_active=False)
    CartDiscount.objects.all().delete()
    Cart.objects.update(discount_count=0)
    before = counted("product_unavailable")
    with django_capture_on_commit_callbacks(execute=True):
        assert checkout(user_api).status_code == 409
    [(value, reasons, lines)] = recorded()
    assert (value, reasons, [line[:2] for line in lines]) == (
        Decimal("35.00"),
        ["product_unavailable"],
        [("MUG", "product_unavailable"), ("TEE", "product_unavailable")],
    )
    assert counted("product_unavailable") - before == 1


@pytest.mark.parametrize(
    ("answer", "status", "reason"),
    [
        ((402, {"status": "declined"}), 402, "payment_refused"),
        ((503, {}), 503, "payment_unavailable"),
    ],
)
def test_a_payment_refused_or_unavailable_is_a_refusal_of_the_whole_cart(
    user_api, shopped, payments, django_capture_on_commit_callbacks, answer, status, reason
):
    payments.answers[("POST", "/payments")] = answer
    before = counts()
    with django_capture_on_commit_callbacks(execute=True):
        assert checkout(user_api).status_code == status
    assert recorded() == [(Decimal("35.00"), [reason], [])]
    assert counted(reason) - before[reason] == 1
    assert sum(counts().values()) - sum(before.values()) == 1


def test_an_expired_checkout_is_a_refusal_too(owner, shopped, payments, settings):
    attempt = services.checkout_reserve(
        owner=owner, if_match=None, request_key="", service_data=None
    )
    settings.PAYMENT_SERVICE_URL = ""  # none to ask any more: the attempt is released
    assert services.checkout_resolve(attempt_id=attempt.pk) == "released"
    assert recorded() == [(Decimal("35.00"), ["checkout_expired"], [])]


def test_every_reason_is_exported_from_the_start():
    """At 0 before its first refusal, so that rate() and increase() count that one too."""
    samples = [
        REGISTRY.get_sample_value("addtocart_checkout_conflicts_total", {"reason": reason})
        for reason in RefusalReason.values
    ]
    assert None not in samples


def test_a_successful_checkout_records_no_refusal(user_api, shopped):
    assert checkout(user_api).status_code == 200
    assert not CheckoutRefusal.objects.exists()


def test_nothing_is_counted_when_the_record_rolls_back(
    owner, shopped, django_capture_on_commit_callbacks
):
    def record_then_fail():
        with transaction.atomic():
            checkout_failure_record(
                owner=owner, faults=[], code_faults=[{"code": "TEN", "reason": "expired"}]
            )
            assert CheckoutRefusal.objects.count() == 1
            raise RuntimeError

    before = counts()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        record_then_fail()
    assert counts() == before
    assert not CheckoutRefusal.objects.exists()


def refuse(cart, *, hours_ago, value, reasons, lines=(), now=NOW):
    """A refusal of `cart`, `hours_ago` before `now`, with (product, reason, quantity) lines."""
    refusal = CheckoutRefusal.objects.create(
        cart=cart, at=now - timedelta(hours=hours_ago), value=Decimal(value), currency="EUR"
    )
    CheckoutRefusalReason.objects.bulk_create(
        CheckoutRefusalReason(refusal=refusal, reason=reason) for reason in reasons
    )
    CheckoutRefusalLine.objects.bulk_create(
        CheckoutRefusalLine(
            refusal=refusal,
            product=product,
            sku=product.sku,
            reason=reason,
            quantity=quantity,
            value=quantity * product.price,
        )
        for product, reason, quantity in lines
    )
    return refusal


def test_refusals_go_with_their_cart_when_it_is_purged():
    mug = ProductFactory(price=Decimal("5.00"))
    old = make_cart(now=NOW, hours_ago=24 * 60, status=CartStatus.ABANDONED, lines=[(mug, 1)])
    refuse(old, hours_ago=24 * 59, value="5.00", reasons=[STOCK], lines=[(mug, STOCK, 1)])
    refuse(old, hours_ago=24 * 58, value="5.00", reasons=[PRICE], lines=[(mug, PRICE, 1)])
    kept = make_cart(now=NOW, hours_ago=1, lines=[(mug, 1)])
    refuse(kept, hours_ago=1, value="5.00", reasons=[STOCK], lines=[(mug, STOCK, 1)])
    assert services.cart_purge_old(older_than=timedelta(days=30), now=NOW) == 1
    assert list(CheckoutRefusal.objects.values_list("cart", flat=True)) == [kept.pk]
    assert CheckoutRefusalReason.objects.count() == CheckoutRefusalLine.objects.count() == 1


def test_a_line_keeps_its_sku_when_its_product_is_deleted():
    gone = ProductFactory(sku="GONE")
    refuse(
        make_cart(now=NOW, hours_ago=2),
        hours_ago=1,
        value="0",
        reasons=[PRICE],
        lines=[(gone, PRICE, 1)],
    )
    gone.delete()
    assert list(CheckoutRefusalLine.objects.values_list("product", "sku")) == [(None, "GONE")]


def refused_shop(now: datetime) -> None:
    """The 7 days before `now`, by hand:
    cart A, checked out since: 50 h ago stock (MUG 3), 35.00; 49 h ago stock (MUG 2) and price
      (TEE 1), 30.00;
    cart B, active: 10 h ago payment refused, 80.00; 5 h ago code and stock (MUG 4), 80.00;
    cart C, abandoned: 30 h ago product unavailable (HAT 1 at 12.00), 12.00.
    5 refused checkouts, 3 carts (1 checked out since), blocked 30 + 80 + 12 = 122.00.
    The 7 days before: cart D, stock (MUG 1), 5.00."""
    mug = ProductFactory(sku="MUG", name="Mug", price=Decimal("5.00"))
    tee = ProductFactory(sku="TEE", name="T-shirt", price=Decimal("20.00"))
    hat = ProductFactory(sku="HAT", name="Hat", price=Decimal("12.00"))
    checked_out, abandoned = CartStatus.CHECKED_OUT, CartStatus.ABANDONED
    a = make_cart(now=now, hours_ago=60, status=checked_out, lines=[(mug, 2)], total=Decimal("10"))
    b = make_cart(now=now, hours_ago=12, lines=[(mug, 4), (tee, 3)], idle_hours=5)
    c = make_cart(now=now, hours_ago=40, status=abandoned, lines=[(hat, 1)], idle_hours=30)
    d = make_cart(now=now, hours_ago=24 * 10, lines=[(mug, 1)], idle_hours=24 * 9)
    at = {"now": now}
    refuse(a, hours_ago=50, value="35.00", reasons=[STOCK], lines=[(mug, STOCK, 3)], **at)
    lines = [(mug, STOCK, 2), (tee, PRICE, 1)]
    refuse(a, hours_ago=49, value="30.00", reasons=[STOCK, PRICE], lines=lines, **at)
    refuse(b, hours_ago=10, value="80.00", reasons=["payment_refused"], **at)
    code_and_stock = ["code_invalid", STOCK]
    refuse(b, hours_ago=5, value="80.00", reasons=code_and_stock, lines=[(mug, STOCK, 4)], **at)
    gone = "product_unavailable"
    refuse(c, hours_ago=30, value="12.00", reasons=[gone], lines=[(hat, gone, 1)], **at)
    refuse(d, hours_ago=24 * 9, value="5.00", reasons=[STOCK], lines=[(mug, STOCK, 1)], **at)


@pytest.fixture
def refused():
    refused_shop(NOW)


def test_the_totals_count_each_try_but_each_cart_once(refused):
    figures = refusal_metrics(start=START, end=END)
    assert (figures.refusals, figures.carts, figures.carts_checked_out_since) == (5, 3, 1)
    assert figures.blocked_value == Decimal("122.00")  # A at 30.00 (its last), B, C


def test_the_reasons_of_the_refusals(refused):
    rows = [
        (row.reason, row.label, row.refusals, row.carts, row.blocked_value)
        for row in refusal_metrics(start=START, end=END).by_reason
    ]
    assert rows == [
        (STOCK, "Out of stock", 3, 2, Decimal("110.00")),  # A at 30.00 (r2), B at 80.00
        ("code_invalid", "Discount code invalid", 1, 1, Decimal("80.00")),
        ("payment_refused", "Payment refused", 1, 1, Decimal("80.00")),
        (PRICE, "Price changed", 1, 1, Decimal("30.00")),
        ("product_unavailable", "Product unavailable", 1, 1, Decimal("12.00")),
    ]


def test_the_skus_behind_the_refusals(refused):
    rows = [
        (row.sku, row.name, row.reason, row.refusals, row.carts, row.units, row.blocked_value)
        for row in refusal_metrics(start=START, end=END).skus
    ]
    assert rows == [
        ("MUG", "Mug", STOCK, 3, 2, 2 + 4, Decimal("30.00")),  # A's last 2, B's 4
        ("TEE", "T-shirt", PRICE, 1, 1, 1, Decimal("20.00")),
        ("HAT", "Hat", "product_unavailable", 1, 1, 1, Decimal("12.00")),
    ]
    assert [row.sku for row in refusal_metrics(start=START, end=END, top=2).skus] == ["MUG", "TEE"]


def test_a_period_and_the_one_before(refused):
    before, current = consecutive_refusal_metrics([START - timedelta(days=7), START, END])
    assert (before.refusals, before.carts, before.blocked_value) == (1, 1, Decimal("5.00"))
    assert before.by_reason == before.skus == []
    assert current == refusal_metrics(start=START, end=END)


def test_a_cart_counts_at_its_last_refusal_within_the_period(refused):
    """Cart A's last refusal before 49 h 30 min ago is the one of 50 h ago, at 35.00."""
    figures = refusal_metrics(start=START, end=NOW - timedelta(hours=49, minutes=30))
    assert (figures.refusals, figures.blocked_value) == (1, Decimal("35.00"))
    assert [(row.sku, row.units) for row in figures.skus] == [("MUG", 3)]


def test_an_empty_period(refused):
    figures = refusal_metrics(start=NOW, end=NOW + timedelta(days=1))
    assert (figures.refusals, figures.carts, figures.blocked_value) == (0, 0, Decimal("0.00"))
    assert figures.by_reason == figures.skus == []


@pytest.mark.parametrize("carts", [1, 20])
def test_three_queries_whatever_the_number_of_refusals(django_assert_num_queries, carts):
    """The totals of both periods, the reasons, the SKUs."""
    products = ProductFactory.create_batch(3)
    for index in range(carts):
        cart = make_cart(now=NOW, hours_ago=index * 7 + 1)
        lines = [(product, STOCK, index + 1) for product in products[: index % 3 + 1]]
        refuse(
            cart, hours_ago=index * 7, value="10.00", reasons=[STOCK, "code_invalid"], lines=lines
        )
    with django_assert_num_queries(3):
        consecutive_refusal_metrics([START - timedelta(days=7), START, END])
