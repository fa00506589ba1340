"""Checkout in phases: reserve, authorise outside any transaction, complete or release; the
sweeper; retries by Idempotency-Key. The payment service is a real HTTP server on loopback."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from carts import services
from carts.domain import CartOwner
from carts.models import (
    AttemptStatus,
    CartStatus,
    CheckoutAttempt,
    IdempotencyRecord,
    PaymentState,
    StockReservation,
)
from integrations.products import product_data_get
from tests.carts.stubs import add, checkout
from tests.carts.test_queries import count_queries
from tests.factories import ProductFactory, cart_get_active

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_breaker")]

ITEMS = "/api/v1/cart/items/"
APPROVED = (201, {"status": "approved", "id": "auth-1"})


@pytest.fixture
def filled(user_api, user):
    """The user's cart holds 2 units of a product that had 10."""
    product = ProductFactory(price=Decimal("4.50"), stock=10)
    add(user_api, product, 2)
    return product


def reserve(owner: CartOwner, request_key: str = "") -> CheckoutAttempt:
    """Phase 1 alone, as a worker that dies right after it leaves it."""
    attempt = services.checkout_reserve(
        owner=owner, if_match=None, request_key=request_key, service_data=None
    )
    assert isinstance(attempt, CheckoutAttempt)
    return attempt


def expire(attempt: CheckoutAttempt) -> None:
    CheckoutAttempt.objects.filter(pk=attempt.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def stock_of(product) -> int:
    product.refresh_from_db()
    return product.stock


def test_a_cart_being_checked_out_shows_it_and_refuses_every_change(
    user_api, owner, filled, payments
):
    before = user_api.get("/api/v1/cart/")
    line_id = before.json()["items"][0]["id"]
    attempt = reserve(owner)

    during = user_api.get("/api/v1/cart/")
    assert during.data["status"] == "checking_out"
    assert during["ETag"] != before["ETag"]
    assert stock_of(filled) == 8
    assert StockReservation.objects.get().quantity == 2
    for response in (
        add(user_api, filled),
        add(user_api, ProductFactory()),
        user_api.patch(f"/api/v1/cart/items/{line_id}/", {"quantity": 1}, format="json"),
        user_api.delete(f"/api/v1/cart/items/{line_id}/"),
        user_api.delete("/api/v1/cart/"),
        checkout(user_api),
    ):
        assert response.status_code == 409, response.content
        assert response.data["code"] == "checkout_in_progress"
        assert response["Retry-After"] == "2"
    assert user_api.get("/api/v1/cart/").content == during.content

    assert services.checkout_release(
        attempt_id=attempt.pk, reason="refused", payment=PaymentState.REFUSED
    )
    after = user_api.get("/api/v1/cart/")
    assert (after.content, after["ETag"]) == (before.content, before["ETag"])
    assert stock_of(filled) == 10
    assert not StockReservation.objects.exists()


def test_a_retry_of_a_finished_checkout_answers_it_even_without_its_record(user_api, filled):
    first = user_api.post("/api/v1/cart/checkout/", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 200
    replay = user_api.post("/api/v1/cart/checkout/", HTTP_IDEMPOTENCY_KEY="k-1")
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.data == first.data

    # The worker died after the sale and before storing the answer: the sale still answers.
    IdempotencyRecord.objects.all().delete()
    again = user_api.post("/api/v1/cart/checkout/", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 200, again.content
    assert (again.data["id"], again.data["status"]) == (first.data["id"], "checked_out")
    assert stock_of(filled) == 8
    # Without the key (or with another) there is nothing left to check out.
    assert checkout(user_api).data["code"] == "cart_empty"


def test_a_retry_of_a_reserved_attempt_resumes_it_and_is_charged_once(
    user_api, owner, filled, payments
):
    attempt = reserve(owner, request_key="k-2")
    payments.answers[("POST", "/payments")] = APPROVED

    response = user_api.post("/api/v1/cart/checkout/", HTTP_IDEMPOTENCY_KEY="k-2")

    assert response.status_code == 200, response.content
    assert response.data["status"] == "checked_out"
    assert [body["idempotency_key"] for _, _, body in payments.requests] == [str(attempt.pk)]
    assert CheckoutAttempt.objects.get().status == AttemptStatus.COMPLETED
    assert stock_of(filled) == 8


def test_the_sweeper_releases_an_expired_attempt_the_payment_service_never_received(
    user_api, owner, filled, payments
):
    before = user_api.get("/api/v1/cart/")
    attempt = reserve(owner)
    assert services.checkout_release_expired().resolved == {}  # not expired yet
    expire(attempt)

    report = services.checkout_release_expired()

    assert report.resolved == {"released": 1}
    assert payments.requests == [("GET", f"/payments/{attempt.pk}", None)]
    attempt.refresh_from_db()
    assert (attempt.status, attempt.release_reason, attempt.payment) == (
        "released",
        "expired",
        "absent",
    )
    assert user_api.get("/api/v1/cart/").content == before.content
    assert stock_of(filled) == 10
    assert services.checkout_release_expired().resolved == {}


def test_the_sweeper_completes_an_expired_attempt_the_payment_service_authorised(
    user_api, owner, filled, payments
):
    attempt = reserve(owner)
    expire(attempt)
    payments.answers[("GET", f"/payments/{attempt.pk}")] = (
        200,
        {"status": "authorised", "authorization_id": "auth-9"},
    )

    assert services.checkout_release_expired().resolved == {"completed": 1}

    attempt.refresh_from_db()
    assert (attempt.status, attempt.authorization_id) == ("completed", "auth-9")
    cart = attempt.cart
    cart.refresh_from_db()
    assert (cart.status, cart.total) == (CartStatus.CHECKED_OUT, Decimal("9.00"))
    assert stock_of(filled) == 8
    assert not StockReservation.objects.exists()


def test_an_unknown_payment_is_asked_again_and_a_late_authorisation_voided(
    user_api, owner, filled, payments
):
    attempt = reserve(owner)
    expire(attempt)
    payments.answers[("GET", f"/payments/{attempt.pk}")] = (500, {})

    report = services.checkout_release_expired()

    assert report.resolved == {"released": 1}
    assert report.payments_settled == {"unknown": 1}  # still failing: asked again next run
    assert stock_of(filled) == 10
    payments.answers[("GET", f"/payments/{attempt.pk}")] = (200, {"status": "approved"})
    payments.answers[("POST", f"/payments/{attempt.pk}/void")] = (200, {"status": "voided"})

    assert services.checkout_release_expired().payments_settled == {"voided": 1}

    assert payments.calls("POST", f"/payments/{attempt.pk}/void") == 1
    assert CheckoutAttempt.objects.get().payment == PaymentState.VOIDED
    assert services.checkout_release_expired().payments_settled == {}


@pytest.mark.parametrize("key", [{}, {"HTTP_IDEMPOTENCY_KEY": "add-after"}])
def test_a_shopper_whose_checkout_expired_need_not_wait_for_the_sweeper(
    user_api, owner, filled, payments, key
):
    """Its worker died: the shopper's next change ends that checkout first, as the sweeper
    would (the payment service never received it), then is made."""
    attempt = reserve(owner)
    expire(attempt)

    response = user_api.post(ITEMS, {"product_id": filled.pk}, format="json", **key)

    assert response.status_code == 201, response.content
    assert response.data["items"][0]["quantity"] == 3
    attempt.refresh_from_db()
    assert (attempt.status, attempt.release_reason) == ("released", "expired")
    assert payments.calls("GET", f"/payments/{attempt.pk}") == 1
    assert stock_of(filled) == 10


def test_without_the_payment_service_an_expired_attempt_is_released(settings, owner, filled):
    settings.PAYMENT_SERVICE_URL = "http://127.0.0.1:9"
    attempt = reserve(owner)
    expire(attempt)
    settings.PAYMENT_SERVICE_URL = ""

    assert services.checkout_release_expired().resolved == {"released": 1}
    assert stock_of(filled) == 10
    assert cart_get_active(owner=owner).status == CartStatus.ACTIVE


def test_an_outside_call_inside_a_transaction_fails_the_test(products):
    """The guard of tests/conftest.py, which every test runs under."""
    failed = pytest.raises(pytest.fail.Exception, match="inside a database transaction")
    with failed, transaction.atomic():
        product_data_get(sku="ANY", fresh=True)


# The product service's stock: what is sold here is never sold twice.


@pytest.fixture
def last_unit(products):
    """A product of which the product service has one unit left."""
    product = ProductFactory(stock=1)
    products.product(product, stock=1)
    return product


def sales_told(products, product) -> int:
    return products.calls("POST", f"/products/{product.sku}/sales")


def test_a_sale_the_product_service_was_not_told_of_is_not_sold_again(
    user_api, api, last_unit, products
):
    products.answers[("POST", f"/products/{last_unit.sku}/sales")] = (500, {})
    add(user_api, last_unit)
    assert checkout(user_api).status_code == 200
    assert sales_told(products, last_unit) == 1  # tried at once, failed

    # The service still says 1 left: the unreported sale is subtracted.
    response = add(api, last_unit)

    assert response.status_code == 409
    assert response.data["code"] == "insufficient_stock"
    assert stock_of(last_unit) == 0
    # Once it takes the sale (and lowers its figure), the sweeper's report is the last.
    products.answers[("POST", f"/products/{last_unit.sku}/sales")] = (200, {})
    assert services.checkout_release_expired().sales_reported == 1
    products.product(last_unit, stock=0)
    assert services.checkout_release_expired().sales_reported == 0
    assert add(api, last_unit).data["code"] == "insufficient_stock"


def test_an_answer_cached_before_a_sale_was_told_still_counts_it(
    user_api, api, last_unit, products
):
    products.answers[("POST", f"/products/{last_unit.sku}/sales")] = (200, {})
    add(api, last_unit)  # caches the service's answer: 1 left
    add(user_api, last_unit)
    assert checkout(user_api).status_code == 200
    products.product(last_unit, stock=0)  # the service counted the sale

    response = add(api, last_unit, 1)  # from the cache, which says 1 left

    assert response.data["code"] == "insufficient_stock"
    assert products.calls("GET", f"/products/{last_unit.sku}") == 2  # the add and the checkout


def test_units_reserved_by_a_checkout_are_not_offered_again(
    user_api, api, owner, last_unit, payments
):
    add(user_api, last_unit)
    reserve(owner)

    response = add(api, last_unit)

    assert response.data["code"] == "insufficient_stock"
    assert response.data["available"] == 0


@pytest.mark.parametrize("lines", [1, 20])
def test_a_paid_checkout_makes_a_fixed_number_of_queries(user_api, owner, payments, lines):
    """The account is still active. Reserve: lock the cart, lock its lines' products, take the
    stock, record the attempt, reserve, mark the cart, its event. Complete: lock the attempt
    and cart, take the reservations, close the attempt, close the cart, read its lines, its
    event."""
    for product in ProductFactory.create_batch(lines):
        services.cart_item_add(owner=owner, product_id=product.pk)
    payments.answers[("POST", "/payments")] = APPROVED

    assert count_queries(lambda: checkout(user_api)) == 14
