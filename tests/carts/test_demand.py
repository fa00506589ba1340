"""Demand against stock (carts/demand.py): units in active carts, the carts holding them and
stock, per product, checked by hand; the dashboard's "Products most at risk" and the API's
`products_at_risk`. The admin's product list: tests/carts/test_admin.py."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from carts import services
from carts.demand import ProductDemand, products_at_risk, products_with_demand
from carts.domain import CartOwner
from carts.models import CartStatus, Product
from tests.factories import CartFactory, CartItemFactory, ProductFactory, UserFactory
from tests.schema import assert_ok

pytestmark = pytest.mark.django_db

DASHBOARD = "/dashboard/"
API = "/api/v1/metrics/business/"


def cart_holding(status: str, *lines: tuple[Product, int, dict], **fields):
    """A cart that holds `lines` (product, quantity, attributes), as every cart that ever held
    a line has `first_item_added_at` set."""
    cart = CartFactory(status=status, first_item_added_at=timezone.now(), **fields)
    for product, quantity, attributes in lines:
        CartItemFactory(cart=cart, product=product, quantity=quantity, attributes=attributes)
    return cart


@pytest.fixture
def shop(db) -> CartOwner:
    """Per product, by hand (units in active carts, active carts holding it, stock, short by):

    BAG 4 + 2 = 6, 2 carts, stock 4, short by 2;
    MUG 2 + 1 (one cart, two colours) + 2 = 5, 2 carts, stock 3, short by 2;
    TEE 4, 1 cart, stock 10, -6 (9 abandoned and 3 merged do not count);
    OLD 1, 1 cart, stock 0, short by 1, but deactivated: not at risk, it cannot be sold;
    PEN only in a cart being checked out and an abandoned one: 0, 0, stock 5, -5;
    CAP in no cart: 0, 0, stock 0, 0.
    The checked-out cart's 7 mugs and the checking-out cart's 5 count nowhere.
    Returns the shopper whose cart was filled through the service, as the API fills it.
    """
    bag = ProductFactory(sku="BAG", name="Weekend bag", stock=4)  # after "Mug" by name
    mug = ProductFactory(sku="MUG", name="Mug", stock=3)
    tee = ProductFactory(sku="TEE", name="T-shirt", stock=10)
    old = ProductFactory(sku="OLD", name="Old mug", stock=1)
    pen = ProductFactory(sku="PEN", name="Pen", stock=5)
    ProductFactory(sku="CAP", name="Cap", stock=0)
    shopper = CartOwner(user_id=UserFactory().pk)
    for product, quantity, attributes in [
        (mug, 2, {"colour": "blue"}),
        (mug, 1, {"colour": "red"}),
        (tee, 4, None),
        (bag, 4, None),
    ]:
        services.cart_item_add(
            owner=shopper, product_id=product.pk, quantity=quantity, attributes=attributes
        )
    guest = {"user": None, "session_id": "a" * 64}
    cart_holding(CartStatus.ACTIVE, (mug, 2, {}), (old, 1, {}), (bag, 2, {"size": "L"}), **guest)
    Product.objects.filter(pk=old.pk).update(is_active=False, stock=0)
    cart_holding(CartStatus.CHECKING_OUT, (mug, 5, {}), (pen, 1, {"colour": "black"}))
    cart_holding(CartStatus.ABANDONED, (tee, 9, {}), (pen, 2, {}))
    cart_holding(
        CartStatus.CHECKED_OUT,
        (mug, 7, {}),
        total=Decimal("70.00"),
        checked_out_at=timezone.now(),
    )
    cart_holding(CartStatus.MERGED, (tee, 3, {}))
    CartFactory(status=CartStatus.ACTIVE)  # empty
    return shopper


def figures() -> dict[str, tuple[int, int, int, int]]:
    products = products_with_demand(Product.objects.all())
    return {p.sku: (p.in_carts, p.carts, p.stock, p.short_by) for p in products}


def test_units_carts_stock_and_shortfall_of_every_product(shop):
    assert figures() == {
        "BAG": (6, 2, 4, 2),
        "MUG": (5, 2, 3, 2),
        "TEE": (4, 1, 10, -6),
        "OLD": (1, 1, 0, 1),
        "PEN": (0, 0, 5, -5),
        "CAP": (0, 0, 0, 0),
    }


def test_at_risk_most_short_first_then_most_units_active_products_in_carts_only(shop):
    assert products_at_risk() == [
        ProductDemand(Product.objects.get(sku="BAG").pk, "BAG", "Weekend bag", 4, 6, 2, 2),
        ProductDemand(Product.objects.get(sku="MUG").pk, "MUG", "Mug", 3, 5, 2, 2),
        ProductDemand(Product.objects.get(sku="TEE").pk, "TEE", "T-shirt", 10, 4, 1, -6),
    ]
    assert [p.sku for p in products_at_risk(limit=1)] == ["BAG"]


def test_a_checkout_takes_its_units_out_of_demand_and_out_of_stock(shop):
    services.cart_checkout(owner=shop)
    # The shopper's 3 mugs, 4 bags and 4 T-shirts left both; the guest's are still there.
    assert {sku: row for sku, row in figures().items() if sku in {"BAG", "MUG", "TEE"}} == {
        "BAG": (2, 1, 0, 2),
        "MUG": (2, 1, 0, 2),
        "TEE": (0, 0, 6, -6),
    }


def test_one_statement_however_many_carts_and_lines(shop, django_assert_num_queries):
    with django_assert_num_queries(1):
        products_at_risk()
    with django_assert_num_queries(1):
        figures()
    products = list(Product.objects.filter(is_active=True))
    for index in range(30):
        cart_holding(
            CartStatus.ACTIVE,
            *[(product, 1, {"n": str(index)}) for product in products],
            session_id=f"{index:064d}",
            user=None,
        )
    with django_assert_num_queries(1):
        assert products_at_risk()[0].in_carts == 36  # BAG: 6 + 30
    with django_assert_num_queries(1):
        assert figures()["MUG"] == (35, 32, 3, 32)


# The dashboard and the API


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True))
    return client


@pytest.fixture(autouse=True)
def _static_files_without_manifest(settings):
    """The dashboard links its CSS with {% static %}: no `collectstatic` needed first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


ROW = re.compile(
    r'<tr data-sku="(\w+)">.*?data-in-carts="(-?\d+)".*?data-carts="(\d+)".*?'
    r'data-stock="(\d+)".*?data-short-by="(-?\d+)">(.*?)</td>',
    re.S,
)


def demand_section(html: str) -> str:
    start = html.index('<section class="demand" id="demand"')
    return html[start : html.index("\n</section>", start)]  # the inner ones are indented


def test_the_dashboard_lists_the_products_most_at_risk_now(staff_client, shop):
    html = staff_client.get(f"{DASHBOARD}?period=24h").content.decode()
    section = demand_section(html)
    assert "Products most at risk" in section
    assert "Now, whatever the period above" in section
    assert ROW.findall(section) == [
        ("BAG", "6", "2", "4", "2", "2"),
        ("MUG", "5", "2", "3", "2", "2"),
        ("TEE", "4", "1", "10", "-6", '<span aria-label="none">—</span>'),
    ]
    assert 'href="/admin/carts/product/?demand=exceeds_stock"' in section
    # Whatever the period: the same products for a past month.
    past = staff_client.get(f"{DASHBOARD}?from=2020-01-01&to=2020-02-01").content.decode()
    assert ROW.findall(demand_section(past)) == ROW.findall(section)


def test_the_dashboard_says_so_when_no_product_is_in_an_active_cart(staff_client, db):
    ProductFactory(sku="MUG")
    cart_holding(CartStatus.ABANDONED, (ProductFactory(), 2, {}))
    section = demand_section(staff_client.get(DASHBOARD).content.decode())
    assert "No active product is in an active cart now." in section
    assert "<table" not in section


def test_the_api_answers_the_products_at_risk_as_documented(staff_api, shop):
    body = assert_ok(staff_api.get(API, {"period": "24h"}))
    assert [
        (p["sku"], p["name"], p["in_carts"], p["carts"], p["stock"], p["short_by"])
        for p in body["products_at_risk"]
    ] == [
        ("BAG", "Weekend bag", 6, 2, 4, 2),
        ("MUG", "Mug", 5, 2, 3, 2),
        ("TEE", "T-shirt", 4, 1, 10, -6),
    ]
    assert body["products_at_risk"][0]["product_id"] == Product.objects.get(sku="BAG").pk
    past = assert_ok(staff_api.get(API, {"from": "2020-01-01", "to": "2020-02-01"}))
    assert past["products_at_risk"] == body["products_at_risk"]


def test_the_api_answers_an_empty_list_when_no_product_is_in_an_active_cart(staff_api, db):
    cart_holding(CartStatus.ABANDONED, (ProductFactory(stock=0), 2, {}))
    assert assert_ok(staff_api.get(API))["products_at_risk"] == []
