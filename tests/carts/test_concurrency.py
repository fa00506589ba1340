"""Real parallel requests against a live server on PostgreSQL."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests

from carts.models import Cart, CartDiscount, CartItem, CartStatus, DiscountCode, Product
from tests.conftest import bearer
from tests.factories import CartFactory, CartItemFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def in_parallel(calls: list) -> list[requests.Response]:
    """Run the calls at once: every thread waits at a barrier before sending."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def post(url: str, auth: str, json=None) -> requests.Response:
    return requests.post(url, json=json, headers={"Authorization": auth}, timeout=30)


def test_twenty_simultaneous_adds_make_one_cart_with_one_line_of_twenty(live_server):
    user, product = UserFactory(), ProductFactory(stock=100)
    url, auth = f"{live_server.url}/api/v1/cart/items/", bearer(user)

    responses = in_parallel([lambda: post(url, auth, {"product_id": product.pk})] * 20)

    assert [r.status_code for r in responses] == [201] * 20
    cart = Cart.objects.get(user=user)
    line = CartItem.objects.get(cart=cart)
    assert line.quantity == 20
    assert cart.version == 21
    assert sorted(r.json()["version"] for r in responses) == list(range(2, 22))


def test_simultaneous_adds_of_different_products_keep_every_line(live_server):
    user, products = UserFactory(), ProductFactory.create_batch(10)
    url, auth = f"{live_server.url}/api/v1/cart/items/", bearer(user)

    responses = in_parallel(
        [lambda p=p: post(url, auth, {"product_id": p.pk, "quantity": 2}) for p in products]
    )

    assert {r.status_code for r in responses} == {201}
    cart = Cart.objects.get(user=user)
    assert sorted(cart.items.values_list("product_id", flat=True)) == sorted(p.pk for p in products)
    assert set(cart.items.values_list("quantity", flat=True)) == {2}


def test_concurrent_checkouts_never_sell_more_than_the_stock(live_server):
    product = ProductFactory(stock=3)
    shoppers = UserFactory.create_batch(8)
    for shopper in shoppers:
        assert (
            post(
                f"{live_server.url}/api/v1/cart/items/", bearer(shopper), {"product_id": product.pk}
            ).status_code
            == 201
        )
    url = f"{live_server.url}/api/v1/cart/checkout/"

    responses = in_parallel([lambda s=s: post(url, bearer(s)) for s in shoppers])

    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 3 + [409] * 5
    refused = [r.json() for r in responses if r.status_code == 409]
    assert {p["lines"][0]["reason"] for p in refused} == {"insufficient_stock"}
    product.refresh_from_db()
    assert product.stock == 0
    assert Cart.objects.filter(status=CartStatus.CHECKED_OUT).count() == 3
    assert Cart.objects.filter(status=CartStatus.ACTIVE).count() == 5


def test_concurrent_checkouts_over_shared_products_do_not_deadlock(live_server):
    first, second = ProductFactory(stock=50), ProductFactory(stock=50)
    shoppers = UserFactory.create_batch(10)
    for index, shopper in enumerate(shoppers):
        order = (first, second) if index % 2 else (second, first)
        for product in order:
            post(
                f"{live_server.url}/api/v1/cart/items/", bearer(shopper), {"product_id": product.pk}
            )
    url = f"{live_server.url}/api/v1/cart/checkout/"

    responses = in_parallel([lambda s=s: post(url, bearer(s)) for s in shoppers])

    assert {r.status_code for r in responses} == {200}
    assert list(Product.objects.order_by("pk").values_list("stock", flat=True)) == [40, 40]


def test_a_checkout_racing_an_add_either_includes_the_line_or_leaves_it_in_a_new_cart(live_server):
    user, first, second = UserFactory(), ProductFactory(), ProductFactory()
    auth = bearer(user)
    post(f"{live_server.url}/api/v1/cart/items/", auth, {"product_id": first.pk})

    checkout, add = in_parallel(
        [
            lambda: post(f"{live_server.url}/api/v1/cart/checkout/", auth),
            lambda: post(f"{live_server.url}/api/v1/cart/items/", auth, {"product_id": second.pk}),
        ]
    )

    assert checkout.status_code == 200
    assert add.status_code == 201
    checked_out = Cart.objects.get(status=CartStatus.CHECKED_OUT)
    lines_after = CartItem.objects.filter(product=second)
    assert lines_after.count() == 1
    sold_second = lines_after.filter(cart=checked_out).exists()
    assert Cart.objects.filter(status=CartStatus.ACTIVE).count() == (0 if sold_second else 1)
    second.refresh_from_db()
    assert second.stock == (99 if sold_second else 100)


@pytest.mark.parametrize("paid", [False, True], ids=["sold_at_once", "paid"])
def test_fifty_checkouts_racing_for_a_codes_last_uses_never_exceed_its_max_uses(
    live_server, settings, fake_services, paid
):
    if paid:
        payments = fake_services()
        payments.answers[("POST", "/payments")] = (201, {"status": "approved", "id": "a-1"})
        settings.PAYMENT_SERVICE_URL = payments.url
    code = DiscountCode.objects.create(code="LAST5", kind="percentage", value=10, max_uses=5)
    shoppers = UserFactory.create_batch(50)
    # A product each: a shared one's row lock would make the checkouts take turns.
    products = ProductFactory.create_batch(50, stock=1, price=Decimal("10.00"))
    for shopper, product in zip(shoppers, products, strict=True):
        cart = CartFactory(user=shopper, discount_count=1)
        CartItemFactory(cart=cart, product=product)
        CartDiscount.objects.create(cart=cart, code=code)
    url = f"{live_server.url}/api/v1/cart/checkout/"
    # Tokens made here: made in the threads, each would hold a database connection of its own.
    tokens = [bearer(shopper) for shopper in shoppers]

    responses = in_parallel([lambda t=t: post(url, t) for t in tokens])

    assert sorted(r.status_code for r in responses) == [200] * 5 + [409] * 45
    sold = [r.json() for r in responses if r.status_code == 200]
    assert {body["total"] for body in sold} == {"9.00"}
    refused = [r.json()["discounts"] for r in responses if r.status_code == 409]
    assert all(faults == [{"code": "LAST5", "reason": "usage_limit_reached"}] for faults in refused)
    code.refresh_from_db()
    assert (code.times_used, code.uses_held, code.discounted_total) == (5, 0, Decimal("5.00"))
    assert Product.objects.filter(stock=0).count() == 5
