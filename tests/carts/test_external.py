"""The product, payment and auth services, played by real HTTP servers on 127.0.0.1."""

import socket
import time
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command
from prometheus_client import REGISTRY

from carts.domain import CartOwner
from carts.models import CartStatus, CheckoutAttempt, PaymentState, StockReservation
from health.external import external_services_status
from integrations import errors
from integrations.http import breaker_states
from integrations.products import product_data_get
from tests.addtocart.test_settings import django_check
from tests.carts.stubs import TIMEOUT_MS, add, checkout
from tests.factories import CartItemFactory, ProductFactory, cart_get_active

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_breaker")]


def cache_lookups(result: str) -> float:
    return REGISTRY.get_sample_value("addtocart_cache_requests_total", {"result": result}) or 0


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fail_product_calls(times: int) -> None:
    for _ in range(times):
        with pytest.raises(errors.ServiceUnavailable):
            product_data_get(sku="ANY", fresh=True)


# The product service.


def test_add_takes_name_price_and_stock_from_the_product_service(user_api, products):
    product = ProductFactory(name="Old name", price=Decimal("10.00"), stock=100)
    products.product(product, name="New name", price="12.50", stock=7)

    response = add(user_api, product, 2)

    assert response.status_code == 201, response.content
    assert response.data["items"][0]["unit_price"] == "12.50"
    assert response.data["items"][0]["product"]["name"] == "New name"
    product.refresh_from_db()
    assert (product.name, product.price, product.stock) == ("New name", Decimal("12.50"), 7)
    assert add(user_api, product, 6).data["code"] == "insufficient_stock"


def test_a_cached_product_is_not_fetched_again(user_api, products):
    product = ProductFactory()
    products.product(product)
    hits, misses = cache_lookups("hit"), cache_lookups("miss")

    assert add(user_api, product).status_code == 201
    assert add(user_api, product).status_code == 201

    assert products.calls("GET", "/products/") == 1
    assert (cache_lookups("hit") - hits, cache_lookups("miss") - misses) == (1, 1)


def test_a_product_the_service_does_not_know_or_sell_is_not_found(user_api, products):
    unknown, inactive = ProductFactory(), ProductFactory()
    products.product(inactive, is_active=False)
    for product in (unknown, inactive):
        response = add(user_api, product)
        assert response.status_code == 404
        assert response.data["code"] == "product_not_found"


def test_an_unusable_answer_is_a_503(user_api, products):
    product = ProductFactory()
    products.product(product, price="-1")
    response = add(user_api, product)
    assert response.status_code == 503
    assert response.data["code"] == "service_unavailable"


def test_checkout_fetches_fresh_data_and_never_trusts_the_cache(user_api, products):
    product = ProductFactory(price=Decimal("10.00"))
    products.product(product)
    add(user_api, product)
    products.product(product, price="11.00")

    response = checkout(user_api)

    assert response.status_code == 409
    assert response.data["lines"][0]["reason"] == "price_changed"
    assert response.data["lines"][0]["current_price"] == "11.00"
    assert products.calls("GET", "/products/") == 2
    # Checkout refreshed the cache: adding again takes the new price, then checkout passes.
    assert add(user_api, product).data["items"][0]["unit_price"] == "11.00"
    assert checkout(user_api).status_code == 200


def test_checkout_sees_stock_sold_elsewhere(user_api, products):
    product = ProductFactory(stock=10)
    products.product(product)
    add(user_api, product, 3)
    products.product(product, stock=2)

    response = checkout(user_api)

    assert response.status_code == 409
    assert response.data["lines"][0]["reason"] == "insufficient_stock"
    assert response.data["lines"][0]["available"] == 2


def test_checkout_with_the_product_service_down_changes_nothing(user, user_api, products):
    product = ProductFactory(stock=10)
    products.product(product)
    add(user_api, product, 2)
    products.answers[("GET", f"/products/{product.sku}")] = (500, {})

    response = checkout(user_api)

    assert response.status_code == 503
    assert response.data["code"] == "service_unavailable"
    product.refresh_from_db()
    assert product.stock == 10
    assert cart_get_active(owner=CartOwner(user_id=user.pk)).status == CartStatus.ACTIVE


# The payment service.


def test_an_approved_payment_checks_out(user, user_api, payments):
    product = ProductFactory(price=Decimal("4.50"), stock=10)
    add(user_api, product, 2)
    cart = cart_get_active(owner=CartOwner(user_id=user.pk))
    payments.answers[("POST", "/payments")] = (201, {"status": "approved", "id": "auth-1"})

    response = checkout(user_api)

    assert response.status_code == 200, response.content
    assert response.data["status"] == "checked_out"
    attempt = CheckoutAttempt.objects.get(cart=cart)
    assert payments.requests == [
        (
            "POST",
            "/payments",
            {
                "cart_id": str(cart.id),
                "amount": "9.00",
                "currency": "EUR",
                "idempotency_key": str(attempt.id),
            },
        )
    ]
    assert (attempt.status, attempt.payment, attempt.authorization_id) == (
        "completed",
        "authorised",
        "auth-1",
    )
    assert not StockReservation.objects.exists()
    product.refresh_from_db()
    assert product.stock == 8


@pytest.mark.parametrize(
    "answer",
    [(402, {"status": "declined"}), (200, {"status": "declined"}), (200, {"approved": False})],
)
def test_a_refused_payment_changes_nothing(user, user_api, payments, answer):
    product = ProductFactory(stock=10)
    add(user_api, product, 2)
    before = user_api.get("/api/v1/cart/")
    payments.answers[("POST", "/payments")] = answer

    response = checkout(user_api)

    assert response.status_code == 402
    assert response.data["code"] == "payment_refused"
    assert response["Content-Type"] == "application/problem+json"
    product.refresh_from_db()
    assert product.stock == 10
    after = user_api.get("/api/v1/cart/")
    assert after.content == before.content
    assert after["ETag"] == before["ETag"]
    attempt = CheckoutAttempt.objects.get()
    assert (attempt.status, attempt.release_reason, attempt.payment) == (
        "released",
        "refused",
        "refused",
    )
    assert not StockReservation.objects.exists()


@pytest.mark.parametrize("outage", ["error", "hang", "refused_connection"])
def test_a_payment_outage_is_a_fast_503_and_changes_nothing(
    settings, user, user_api, payments, outage, caplog
):
    product = ProductFactory(stock=10)
    add(user_api, product, 2)
    if outage == "error":
        payments.answers[("POST", "/payments")] = (500, {})
    elif outage == "hang":
        payments.hang = 5
    else:
        settings.PAYMENT_SERVICE_URL = f"http://127.0.0.1:{unused_port()}"

    started = time.monotonic()
    response = checkout(user_api)

    assert time.monotonic() - started < 2
    assert response.status_code == 503
    assert response.data["code"] == "payment_unavailable"
    product.refresh_from_db()
    assert product.stock == 10
    assert cart_get_active(owner=CartOwner(user_id=user.pk)).status == CartStatus.ACTIVE
    # It may have been authorised all the same: the sweeper asks again.
    assert CheckoutAttempt.objects.get().payment == PaymentState.UNKNOWN
    logged = [r for r in caplog.records if r.levelname == "ERROR" and "payment" in r.getMessage()]
    word = {"error": "HTTP 500", "hang": "timeout", "refused_connection": "connection"}[outage]
    assert word in logged[0].getMessage()


# The circuit breaker, with a hanging product service.


def test_a_hanging_service_opens_the_breaker_then_calls_fail_fast(products, caplog):
    products.hang = 5
    fail_product_calls(10)
    assert products.calls("GET", "/products/") == 10
    assert breaker_states()["product"] == "open"
    assert any("timeout after 200 ms" in r.getMessage() for r in caplog.records)

    started = time.monotonic()
    fail_product_calls(1)

    assert time.monotonic() - started < TIMEOUT_MS / 1000 / 2
    assert products.calls("GET", "/products/") == 10  # not called


def test_while_open_products_come_from_the_cache_or_503(user_api, products):
    cached, uncached = ProductFactory(), ProductFactory()
    products.product(cached)
    products.product(uncached)
    assert add(user_api, cached).status_code == 201
    products.hang = 5
    fail_product_calls(10)

    assert add(user_api, cached).status_code == 201
    response = add(user_api, uncached)
    assert response.status_code == 503
    assert response.data["code"] == "service_unavailable"
    assert checkout(user_api).data["code"] == "service_unavailable"  # never from the cache


def test_after_the_reset_time_a_successful_trial_closes_the_breaker(products):
    product = ProductFactory()
    products.product(product)
    products.hang = 5
    fail_product_calls(10)
    products.hang = 0
    time.sleep(1.1)
    assert breaker_states()["product"] == "half_open"

    assert product_data_get(sku=product.sku)["sku"] == product.sku

    assert breaker_states()["product"] == "closed"


def test_log_lines_never_show_credentials_of_a_service_url(settings, caplog):
    settings.PRODUCT_SERVICE_URL = f"http://user:s3cret@127.0.0.1:{unused_port()}"
    fail_product_calls(1)
    assert "connection failed" in caplog.text
    assert "s3cret" not in caplog.text


# Not configured, status and cache warming.


def test_without_services_nothing_is_called(user_api, fake_services):
    service = fake_services()  # running, but no URL points at it
    product = ProductFactory(stock=5)
    assert add(user_api, product, 2).status_code == 201
    assert checkout(user_api).status_code == 200
    assert service.requests == []
    assert external_services_status() == {
        name: {
            "configured": False,
            "status": "not_configured",
            "latency_ms": None,
            "breaker": "closed",
        }
        for name in ("product", "auth", "payment")
    }


def test_status_reports_each_service(settings, products, payments, fake_services):
    auth = fake_services()
    settings.AUTH_SERVICE_URL = auth.url
    products.answers[("GET", "/health")] = (200, {"status": "ok"})
    payments.answers[("GET", "/health")] = (503, {})
    auth.hang = 5

    started = time.monotonic()
    status = external_services_status()

    assert time.monotonic() - started < 2  # 1 s timeout, checked at the same time
    assert status["product"]["status"] == "up"
    assert isinstance(status["product"]["latency_ms"], float)
    assert status["payment"]["status"] == "down"
    assert status["auth"] == {
        "configured": True,
        "status": "down",
        "latency_ms": None,
        "breaker": "closed",
    }
    assert breaker_states() == {"product": "closed", "auth": "closed", "payment": "closed"}


def test_warm_cache_loads_the_most_added_products(products):
    first, second, third = ProductFactory(), ProductFactory(), ProductFactory()
    CartItemFactory(product=second, quantity=5)
    CartItemFactory(product=first, quantity=2)
    CartItemFactory(product=first, quantity=2)
    CartItemFactory(product=third, quantity=1)
    for product in (first, second, third):
        products.product(product)

    call_command("warm_cache", "--limit", "2")
    call_command("warm_cache", "--limit", "2")

    assert [p["sku"] for p in cache.get("popular_products")] == [second.sku, first.sku]
    assert cache.get(f"product:{second.sku}")["price"] == second.price
    assert cache.get(f"product:{third.sku}") is None
    assert products.calls("GET", "/products/") == 4
    assert cache.ttl("popular_products") > 3500


def test_warm_cache_without_the_product_service_stores_only_the_list(fake_services):
    service = fake_services()
    CartItemFactory()
    call_command("warm_cache")
    assert len(cache.get("popular_products")) == 1
    assert service.requests == []


def test_a_service_url_must_be_http():
    result = django_check(
        DJANGO_SECRET_KEY="a-secret", JWT_SIGNING_KEY="b-secret", PAYMENT_SERVICE_URL="pay:3003"
    )
    assert result.returncode != 0
    assert "PAYMENT_SERVICE_URL must be an http:// or https:// URL" in result.stderr
