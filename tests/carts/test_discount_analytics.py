"""Discount code metrics against hand-built checkouts whose figures can be checked by hand."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from carts.discount_analytics import consecutive_discount_metrics, discount_metrics
from carts.models import Cart, CartDiscount, CartItem, CartStatus
from tests.factories import DiscountCodeFactory, ProductFactory, UserFactory

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
START, END = NOW - timedelta(days=7), NOW


def checkout(*, hours_ago: float, lines, codes=(), created_hours_ago=None, status=None, now=NOW):
    """A cart checked out `hours_ago` before `now` with (product, quantity) lines and
    (code, amount) discounts; its total is the subtotal less the amounts. With a `status`,
    a cart in it instead, not checked out."""
    at = now - timedelta(hours=hours_ago)
    created = at - timedelta(hours=1)
    if created_hours_ago is not None:
        created = now - timedelta(hours=created_hours_ago)
    subtotal = sum(product.price * quantity for product, quantity in lines)
    taken = sum((amount for _, amount in codes if amount is not None), Decimal("0"))
    checked_out = status is None
    cart = Cart.objects.create(
        user=UserFactory(),
        status=CartStatus.CHECKED_OUT if checked_out else status,
        created_at=created,
        updated_at=at,
        first_item_added_at=created,
        checked_out_at=at if checked_out else None,
        total=subtotal - taken if checked_out else None,
    )
    for product, quantity in lines:
        CartItem.objects.create(
            cart=cart, product=product, quantity=quantity, unit_price=product.price
        )
    for code, amount in codes:
        CartDiscount.objects.create(cart=cart, code=code, amount=amount)
    return cart


@pytest.fixture
def products(db):
    return (
        ProductFactory(sku="TEE", price=Decimal("20.00")),
        ProductFactory(sku="MUG", price=Decimal("5.00")),
    )


@pytest.fixture
def codes(db):
    return {
        name: DiscountCodeFactory(code=name, **fields)
        for name, fields in {
            "SAVE10": {},
            "TENOFF": {"kind": "fixed_amount", "value": Decimal("10.00"), "currency": "EUR"},
            "VIP": {"value": Decimal("20.00")},
        }.items()
    }


@pytest.fixture
def shop(products, codes):
    """Last 7 days: 6 checkouts, 4 with a code, 39.50 taken off.

    SAVE10: 3 uses, revenue 36.00 + 21.50 + 18.00 = 75.50, 4.00 + 3.50 + 2.00 = 9.50 off;
    TENOFF: 1 use, 21.50, 10.00 off; VIP: 1 use, 80.00, 20.00 off.
    The 7 days before: 1 checkout with VIP, 50.00 off.
    """
    tee, mug = products
    save10, tenoff, vip = codes["SAVE10"], codes["TENOFF"], codes["VIP"]
    checkout(hours_ago=10, lines=[(tee, 2)], codes=[(save10, Decimal("4.00"))])  # 36.00
    checkout(  # 35.00 - 13.50 = 21.50
        hours_ago=20,
        lines=[(mug, 3), (tee, 1)],
        codes=[(save10, Decimal("3.50")), (tenoff, Decimal("10.00"))],
    )
    checkout(hours_ago=30, lines=[(tee, 5)], codes=[(vip, Decimal("20.00"))])  # 80.00
    checkout(hours_ago=40, lines=[(mug, 1)])  # 5.00, no code
    checkout(hours_ago=50, lines=[(tee, 1)])  # 20.00, no code
    # Created before the period, checked out in it: it counts (a checkout's period).
    checkout(
        hours_ago=24 * 6,
        created_hours_ago=24 * 9,
        lines=[(tee, 1)],
        codes=[(save10, Decimal("2.00"))],
    )  # 18.00
    # Checked out the week before: only in the previous period.
    checkout(hours_ago=24 * 8, lines=[(tee, 12)], codes=[(vip, Decimal("50.00"))])  # 190.00
    # Not checked out: a code on an active cart (no amount yet), one being checked out.
    checkout(hours_ago=5, lines=[(tee, 1)], codes=[(vip, None)], status=CartStatus.ACTIVE)
    checkout(
        hours_ago=6,
        lines=[(tee, 1)],
        codes=[(save10, Decimal("2.00"))],
        status=CartStatus.CHECKING_OUT,
    )


def summary(codes) -> list[tuple]:
    return [(c.code, c.uses, str(c.revenue), str(c.discounted_amount)) for c in codes]


def test_figures_of_a_week(shop):
    figures = discount_metrics(start=START, end=END)
    assert (figures.start, figures.end) == (START, END)
    assert (figures.checkouts, figures.checkouts_with_code) == (6, 4)
    assert figures.checkouts_with_code_share == 0.6667
    assert figures.discounted_amount == Decimal("39.50")
    assert str(figures.discounted_amount) == "39.50"
    assert summary(figures.top_codes_by_uses) == [
        ("SAVE10", 3, "75.50", "9.50"),
        ("VIP", 1, "80.00", "20.00"),  # one use each: the higher revenue first
        ("TENOFF", 1, "21.50", "10.00"),
    ]
    assert summary(figures.top_codes_by_revenue) == [
        ("VIP", 1, "80.00", "20.00"),
        ("SAVE10", 3, "75.50", "9.50"),
        ("TENOFF", 1, "21.50", "10.00"),
    ]
    assert figures.top_codes_by_uses[0].code_id == shop_code_id("SAVE10")


def shop_code_id(code: str) -> int:
    return CartDiscount.objects.filter(code__code=code).values_list("code_id", flat=True)[0]


def test_the_codes_amounts_add_up_to_the_discounted_amount(shop):
    figures = discount_metrics(start=START, end=END)
    by_code = sum(code.discounted_amount for code in figures.top_codes_by_uses)
    assert by_code == figures.discounted_amount


def test_the_period_is_the_checkouts_not_the_creations(shop):
    """A day that holds only the early checkout of a cart created three days before it."""
    day = discount_metrics(start=NOW - timedelta(days=6, hours=1), end=NOW - timedelta(days=5))
    assert (day.checkouts, day.checkouts_with_code, day.discounted_amount) == (
        1,
        1,
        Decimal("2.00"),
    )
    assert summary(day.top_codes_by_uses) == [("SAVE10", 1, "18.00", "2.00")]


def test_the_period_before(shop):
    bounds = [START - timedelta(days=7), START, END]
    before, current = consecutive_discount_metrics(bounds)
    assert (before.checkouts, before.checkouts_with_code) == (1, 1)
    assert before.checkouts_with_code_share == 1.0
    assert before.discounted_amount == Decimal("50.00")
    assert before.top_codes_by_uses == before.top_codes_by_revenue == []  # the last period's
    assert current == discount_metrics(start=START, end=END)
    alone = [discount_metrics(start=start, end=end) for start, end in pairwise(bounds)]
    assert [p.discounted_amount for p in alone] == [Decimal("50.00"), Decimal("39.50")]


def test_an_empty_period(shop):
    figures = discount_metrics(start=NOW + timedelta(days=1), end=NOW + timedelta(days=2))
    assert (figures.checkouts, figures.checkouts_with_code) == (0, 0)
    assert figures.checkouts_with_code_share is None
    assert figures.discounted_amount == Decimal("0.00")
    assert str(figures.discounted_amount) == "0.00"
    assert figures.top_codes_by_uses == figures.top_codes_by_revenue == []


def test_checkouts_without_any_code(products):
    tee, _ = products
    checkout(hours_ago=3, lines=[(tee, 1)])
    figures = discount_metrics(start=START, end=END)
    assert (figures.checkouts, figures.checkouts_with_code) == (1, 0)
    assert figures.checkouts_with_code_share == 0.0
    assert figures.discounted_amount == Decimal("0.00")
    assert figures.top_codes_by_uses == []


def test_only_the_top_codes_and_ties_go_to_the_code(products):
    """12 codes: A01..A12 used i times on 10.00 carts each (revenue 9.00 each use);
    ZED and ZAP used once on a 100.00 cart each."""
    tee, mug = products
    for i in range(1, 13):
        code = DiscountCodeFactory(code=f"A{i:02d}")
        for _ in range(i):
            checkout(hours_ago=i, lines=[(mug, 2)], codes=[(code, Decimal("1.00"))])
    for name in ("ZED", "ZAP"):
        checkout(hours_ago=1, lines=[(tee, 5)], codes=[(DiscountCodeFactory(code=name), 0)])
    figures = discount_metrics(start=START, end=END, top=10)
    assert [c.code for c in figures.top_codes_by_uses] == [f"A{i:02d}" for i in range(12, 2, -1)]
    assert figures.top_codes_by_uses[0].revenue == Decimal("108.00")  # 12 x 9.00
    # A12 108.00, then ZAP and ZED at 100.00 with one use each (by code), then A11 99.00.
    assert [c.code for c in figures.top_codes_by_revenue] == [
        "A12",
        "ZAP",
        "ZED",
        "A11",
        "A10",
        "A09",
        "A08",
        "A07",
        "A06",
        "A05",
    ]
    assert figures.checkouts == 78 + 2
    assert figures.discounted_amount == Decimal("78.00")
    assert discount_metrics(start=START, end=END, top=0).top_codes_by_uses == []


def test_a_fixed_number_of_queries(shop, django_assert_num_queries):
    """The totals of both periods, then the top codes of the last one: none are asked
    when not wanted, or when no checkout of the period used a code."""
    bounds = [START - timedelta(days=7), START, END]
    with django_assert_num_queries(2):
        consecutive_discount_metrics(bounds, top=10)
    with django_assert_num_queries(1):
        consecutive_discount_metrics(bounds, top=0)
    with django_assert_num_queries(1):
        discount_metrics(start=END, end=END + timedelta(days=1))
