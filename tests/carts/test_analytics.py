"""Business metrics against hand-built carts whose figures can be checked by hand."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from carts.analytics import business_metrics, carts_by_status, consecutive_business_metrics
from carts.models import Cart, CartStatus
from tests.factories import ProductFactory, make_cart

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
START, END = NOW - timedelta(days=7), NOW


def cart(**fields):
    return make_cart(now=NOW, **fields)


@pytest.fixture
def shop(db):
    tee = ProductFactory(sku="TEE", price=Decimal("20.00"))
    mug = ProductFactory(sku="MUG", price=Decimal("5.00"))
    cart(hours_ago=30, status=CartStatus.CHECKED_OUT, lines=[(tee, 2)], total=Decimal("40.00"))
    cart(hours_ago=50, status=CartStatus.CHECKED_OUT, lines=[(mug, 4)], total=Decimal("20.00"))
    cart(hours_ago=60, lines=[(tee, 1), (mug, 2)], idle_hours=48)  # abandoned: 30.00
    cart(hours_ago=70, status=CartStatus.ABANDONED, lines=[(mug, 1)], idle_hours=70)  # 5.00
    cart(hours_ago=2, lines=[(tee, 1)], idle_hours=1)  # in progress: 20.00
    cart(hours_ago=3)  # empty: in progress, no items
    cart(hours_ago=24 * 10, status=CartStatus.CHECKED_OUT, lines=[(tee, 9)], total=Decimal("180"))


def test_figures_of_a_week(shop):
    figures = business_metrics(start=START, end=END, now=NOW)
    assert (figures.created, figures.with_items) == (6, 5)
    assert (figures.checked_out, figures.abandoned, figures.in_progress) == (2, 2, 2)
    assert figures.undecided == 1  # the cart of 2 hours ago; the empty one has no items
    assert figures.abandonment_rate == 0.5
    assert figures.conversion_rate == 0.4
    assert figures.carts_holding_lines == 5
    assert figures.average_cart_value == Decimal("23.00")  # (40 + 20 + 30 + 5 + 20) / 5
    assert figures.average_order_value == Decimal("30.00")
    assert figures.revenue == Decimal("60.00")
    assert figures.series_unit == "day"
    assert sum(count for _, count in figures.created_series) == 6
    assert sum(count for _, count in figures.checked_out_series) == 2
    # In carts: MUG 4 + 2 + 1 at 5.00; TEE 2 + 1 + 1 at 20.00.
    assert [(p.sku, p.quantity, p.value) for p in figures.top_by_quantity] == [
        ("MUG", 7, Decimal("35.00")),
        ("TEE", 4, Decimal("80.00")),
    ]
    # Checked out: TEE 2 at 20.00, MUG 4 at 5.00.
    assert [(p.sku, p.quantity, p.value) for p in figures.top_by_revenue] == [
        ("TEE", 2, Decimal("40.00")),
        ("MUG", 4, Decimal("20.00")),
    ]


def test_an_empty_period_has_no_rates(shop):
    figures = business_metrics(start=NOW + timedelta(days=1), end=NOW + timedelta(days=2), now=NOW)
    assert (figures.created, figures.with_items, figures.checked_out) == (0, 0, 0)
    assert figures.abandonment_rate is None
    assert figures.conversion_rate is None
    assert figures.average_cart_value is None
    assert figures.average_order_value is None
    assert figures.revenue == Decimal("0.00")
    assert figures.top_by_quantity == []


def test_a_period_with_only_abandoned_carts(db):
    product = ProductFactory(price=Decimal("3.50"))
    for _ in range(3):
        cart(hours_ago=40, lines=[(product, 2)], idle_hours=40)
    figures = business_metrics(start=START, end=END, now=NOW)
    assert (figures.abandoned, figures.checked_out) == (3, 0)
    assert figures.abandonment_rate == 1.0
    assert figures.conversion_rate == 0.0
    assert figures.average_cart_value == Decimal("7.00")
    assert figures.average_order_value is None


def test_a_day_is_counted_by_the_hour(shop):
    figures = business_metrics(start=NOW - timedelta(hours=24), end=NOW, now=NOW)
    assert figures.series_unit == "hour"
    assert figures.created == 2


def test_carts_by_status_lists_every_status(shop):
    counts = carts_by_status()
    assert set(counts) == set(CartStatus.values)
    assert counts["checked_out"] == 3
    assert sum(counts.values()) == Cart.objects.count()


def test_consecutive_periods_match_each_period_alone(shop):
    """The dashboard reads a period and the one before in one go: same figures, series and
    (for the last period) top products as asking for each period on its own."""
    mug = ProductFactory(sku="OLD", price=Decimal("5.00"))
    cart(hours_ago=24 * 9, lines=[(mug, 4)], idle_hours=24 * 8)  # abandoned, the week before
    bounds = [NOW - timedelta(days=14), NOW - timedelta(days=7), NOW]
    before, current = consecutive_business_metrics(bounds, now=NOW)
    alone = [business_metrics(start=start, end=end, now=NOW) for start, end in pairwise(bounds)]
    assert current == alone[1]
    assert before == replace(alone[0], top_by_quantity=[], top_by_revenue=[])
    assert (before.created, before.checked_out, before.revenue) == (2, 1, Decimal("180.00"))
    assert before.average_cart_value == Decimal("100.00")  # (180 + 20) / 2


def test_without_top_products_the_figures_are_the_same(shop):
    with_top = business_metrics(start=START, end=END, now=NOW)
    assert business_metrics(start=START, end=END, now=NOW, top=0) == replace(
        with_top, top_by_quantity=[], top_by_revenue=[]
    )


def test_a_cart_on_a_boundary_belongs_to_the_later_period(db):
    product = ProductFactory(price=Decimal("2.00"))
    cart(hours_ago=24, lines=[(product, 3)], idle_hours=1)
    before, current = consecutive_business_metrics(
        [NOW - timedelta(hours=48), NOW - timedelta(hours=24), NOW], now=NOW
    )
    assert (before.created, current.created) == (0, 1)
    assert current.average_cart_value == Decimal("6.00")
    assert before.created_series == []
    assert current.series_unit == before.series_unit == "hour"


@pytest.mark.parametrize("carts", [1, 30])
def test_business_metrics_make_four_queries_whatever_the_number_of_carts(
    db, django_assert_num_queries, carts
):
    """Carts by day, checkouts by day, lines by product, top products' names; three without
    top products; and no more for the period before (the dashboard's comparison)."""
    products = ProductFactory.create_batch(3)
    for index in range(carts):
        status = CartStatus.CHECKED_OUT if index % 2 else CartStatus.ACTIVE
        cart(
            hours_ago=index * 5 + 1,
            status=status,
            lines=[(product, index % 3 + 1) for product in products[: index % 3 + 1]],
            total=Decimal("10") if status == CartStatus.CHECKED_OUT else None,
        )
    with django_assert_num_queries(4):
        business_metrics(start=START, end=END, now=NOW)
    with django_assert_num_queries(3):
        business_metrics(start=START, end=END, now=NOW, top=0)
    with django_assert_num_queries(4):
        consecutive_business_metrics([START - timedelta(days=7), START, END], now=NOW)


def test_a_product_table_counts_its_units_and_value_over_the_same_carts(db):
    """The issue's "Grey hoodie: 4 units, 147.00" (3 x 49.00): units in any cart beside the
    revenue of the units checked out. Now each table's two figures count the same lines."""
    hoodie = ProductFactory(sku="HOODIE", price=Decimal("49.00"))
    cap = ProductFactory(sku="CAP", price=Decimal("15.00"))
    cart(hours_ago=5, status=CartStatus.CHECKED_OUT, lines=[(hoodie, 3)], total=Decimal("147"))
    cart(hours_ago=4, lines=[(hoodie, 1), (cap, 2)], idle_hours=1)
    figures = business_metrics(start=START, end=END, now=NOW)
    in_carts = [(p.sku, p.quantity, p.value) for p in figures.top_by_quantity]
    assert in_carts == [("HOODIE", 4, Decimal("196.00")), ("CAP", 2, Decimal("30.00"))]
    sold = [(p.sku, p.quantity, p.value) for p in figures.top_by_revenue]
    assert sold == [("HOODIE", 3, Decimal("147.00"))]  # the cap was never checked out


def test_an_emptied_cart_is_left_out_of_the_average_cart(db):
    """Before: (40 + 20 + 0) / 3 = 20.00, the emptied cart at 0.00. Now (40 + 20) / 2."""
    tee = ProductFactory(price=Decimal("20.00"))
    cart(hours_ago=5, status=CartStatus.CHECKED_OUT, lines=[(tee, 2)], total=Decimal("40"))
    cart(hours_ago=4, lines=[(tee, 1)], idle_hours=1)
    cart(hours_ago=3, lines=[(tee, 3)], idle_hours=1).items.all().delete()
    figures = business_metrics(start=START, end=END, now=NOW)
    assert (figures.with_items, figures.carts_holding_lines) == (3, 2)
    assert figures.average_cart_value == Decimal("30.00")


def test_a_merged_guest_cart_is_counted_in_its_users_cart_only(db):
    """Merging keeps the guest cart's lines as history, and copies them to the user's cart:
    counted once, in the user's cart. Average cart (10 + 10) / 2 (not 30 / 3)."""
    mug = ProductFactory(sku="MUG", price=Decimal("5.00"))
    cart(hours_ago=6, status=CartStatus.MERGED, lines=[(mug, 2)], idle_hours=5)
    cart(hours_ago=5, lines=[(mug, 2)], idle_hours=1)  # the user's, with the guest's lines
    cart(hours_ago=4, lines=[(mug, 2)], idle_hours=1)
    figures = business_metrics(start=START, end=END, now=NOW)
    assert figures.carts_holding_lines == 2
    assert figures.average_cart_value == Decimal("10.00")
    assert [(p.sku, p.quantity) for p in figures.top_by_quantity] == [("MUG", 4)]


def test_open_carts_are_left_out_of_the_abandonment_rate_and_counted_apart(db):
    """The issue's 0.0 % beside 10 open carts: 1 checked out, none abandoned yet, 10 open."""
    tee = ProductFactory(price=Decimal("20.00"))
    cart(hours_ago=30, status=CartStatus.CHECKED_OUT, lines=[(tee, 1)], total=Decimal("20"))
    for hours in range(10):
        cart(hours_ago=hours + 1, lines=[(tee, 1)], idle_hours=0.5)
    figures = business_metrics(start=START, end=END, now=NOW)
    assert (figures.abandonment_rate, figures.abandoned, figures.undecided) == (0.0, 0, 10)
