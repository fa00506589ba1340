"""Query budgets of the hot endpoints: fixed, whatever the number of lines (no N+1)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from carts.domain import CartOwner
from carts.models import Cart, CartDiscount, DiscountCode
from carts.services import cart_item_add
from tests.factories import ProductFactory, UserFactory, cart_get_active

TRANSACTION_STATEMENTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def statements(capture: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in capture.captured_queries
        if not q["sql"].startswith(TRANSACTION_STATEMENTS)
    ]


def fill_cart(owner, lines: int) -> None:
    for product in ProductFactory.create_batch(lines):
        cart_item_add(owner=owner, product_id=product.pk, quantity=1)


def count_queries(call) -> int:
    with CaptureQueriesContext(connection) as capture:
        response = call()
    assert response.status_code < 300, response.content
    return len(statements(capture))


@pytest.mark.parametrize("lines", [1, 10, 50])
def test_get_cart_makes_one_query_whatever_its_size(user_api, owner, lines):
    fill_cart(owner, lines)
    assert count_queries(lambda: user_api.get("/api/v1/cart/")) == 1


@pytest.mark.parametrize("lines", [1, 10, 50])
def test_add_item_makes_three_queries_whatever_the_cart_size(user_api, owner, lines):
    """Lock and touch the cart, read its lines and the product, write the line and its event
    (one statement: carts/db/statements.py `line_put`)."""
    fill_cart(owner, lines)
    new, existing = ProductFactory(), cart_get_active(owner=owner).items.first().product
    add = lambda product, **more: user_api.post(  # noqa: E731
        "/api/v1/cart/items/", {"product_id": product.pk, **more}, format="json"
    )
    assert count_queries(lambda: add(new)) == 3
    assert count_queries(lambda: add(existing)) == 3
    assert count_queries(lambda: add(existing, attributes={"size": "M"})) == 3


@pytest.mark.parametrize("lines", [1, 10, 50])
def test_changing_or_removing_a_line_makes_a_fixed_number_of_queries(user_api, owner, lines):
    fill_cart(owner, lines)
    line = cart_get_active(owner=owner).items.last()
    url = f"/api/v1/cart/items/{line.pk}/"
    assert count_queries(lambda: user_api.patch(url, {"quantity": 3}, format="json")) == 4
    assert count_queries(lambda: user_api.delete(url)) == 4


@pytest.mark.parametrize("lines", [1, 20])
def test_checkout_makes_a_fixed_number_of_queries(user_api, owner, lines):
    """The account is still active; then, without a payment service, one transaction: lock
    the cart, lock its lines' products, take the stock, record the attempt, the event
    `cart.checkout_started`, close the cart, the event `cart.checked_out`."""
    fill_cart(owner, lines)
    assert count_queries(lambda: user_api.post("/api/v1/cart/checkout/")) == 8


def test_get_cart_without_a_cart_makes_two_queries(user_api):
    assert count_queries(lambda: user_api.get("/api/v1/cart/")) == 2


@pytest.mark.parametrize("carts", [1, 30])
def test_business_metrics_api_makes_a_fixed_number_of_queries(staff_api, carts):
    """The staff check, then business_metrics: carts by day, checkouts by day, lines by
    product, the top products' names; the discount figures (their codes are ranked only when
    a checkout used one); the refused checkouts (totals, by reason, by SKU); the products at
    risk (demand against stock, one grouped query)."""
    products = ProductFactory.create_batch(3)
    for index in range(carts):
        guest = CartOwner(session_token=f"guest-{index}")
        for product in products[: index % 3 + 1]:
            cart_item_add(owner=guest, product_id=product.pk, quantity=1)
    assert count_queries(lambda: staff_api.get("/api/v1/metrics/business/?period=30d")) == 10


@pytest.mark.parametrize("lines", [1, 20])
def test_a_cart_holding_a_code_costs_one_query_more_whatever_its_size(user_api, owner, lines):
    """Its codes with their products are read once (one statement), for the answer and the
    event alike; GET also reads its lines again as rows (the discounts are computed in
    Python); checkout also holds, keeps and counts the code's use."""
    fill_cart(owner, lines)
    cart = cart_get_active(owner=owner)
    code = DiscountCode.objects.create(code="TEN", kind="percentage", value=10)
    CartDiscount.objects.create(cart=cart, code=code)
    Cart.objects.filter(pk=cart.pk).update(discount_count=1)
    new = ProductFactory()
    add = lambda: user_api.post(  # noqa: E731
        "/api/v1/cart/items/", {"product_id": new.pk}, format="json"
    )
    assert count_queries(add) == 3 + 1
    assert count_queries(lambda: user_api.get("/api/v1/cart/")) == 1 + 2
    assert count_queries(lambda: user_api.post("/api/v1/cart/checkout/")) == 8 + 4


def test_the_staff_cart_list_reads_codes_in_a_fixed_number_of_queries(staff_api):
    code = DiscountCode.objects.create(code="TEN", kind="percentage", value=10)
    code.products.set([ProductFactory()])

    def fill(count: int) -> None:
        for _ in range(count):
            owner = CartOwner(user_id=UserFactory().pk)
            fill_cart(owner, 2)
            cart = cart_get_active(owner=owner)
            CartDiscount.objects.create(cart=cart, code=code)
            Cart.objects.filter(pk=cart.pk).update(discount_count=1)

    fill(2)
    few = count_queries(lambda: staff_api.get("/api/v1/carts/"))
    fill(10)
    assert count_queries(lambda: staff_api.get("/api/v1/carts/")) == few
