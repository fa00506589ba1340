"""Checkout against a live server, with a payment service that takes its time: no lock is held
while it answers, an authorisation that comes too late is voided, and simultaneous retries
are charged once."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from carts import services
from carts.models import CartStatus, CheckoutAttempt, PaymentState, StockReservation
from tests.carts.test_concurrency import in_parallel, post
from tests.conftest import bearer
from tests.factories import ProductFactory, UserFactory
from tests.live import JsonService

pytestmark = pytest.mark.django_db(transaction=True)


class SlowPayments(JsonService):
    """Approves `POST /payments` once `release` is set; charges each idempotency key once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.waiting = threading.Event()
        self.charges: Counter[str] = Counter()
        self.voided: list[str] = []
        self.before_answer = lambda: None
        super().__init__(self.respond)

    def respond(self, method: str, path: str, body) -> tuple[int, object]:
        if (method, path) == ("POST", "/payments"):
            self.waiting.set()
            self.release.wait(20)
            self.before_answer()
            self.charges[body["idempotency_key"]] += 1
            return 201, {"status": "approved", "id": f"auth-{body['idempotency_key']}"}
        if method == "POST" and path.endswith("/void"):
            self.voided.append(path.split("/")[2])
            return 200, {"status": "voided"}
        return 404, {}


@pytest.fixture
def slow_payments(settings):
    with SlowPayments() as service:
        settings.PAYMENT_SERVICE_URL = service.url
        settings.EXTERNAL_TIMEOUT_MS = 20000
        yield service
        service.release.set()


def checkout_url(live_server) -> str:
    return f"{live_server.url}/api/v1/cart/checkout/"


def test_no_lock_is_held_while_the_payment_service_answers(live_server, slow_payments):
    """Another shopper adds the product being checked out while the payment waits; if the
    checkout held the product's row, the add would wait for a payment that waits for it."""
    product = ProductFactory(stock=10)
    first, second = bearer(UserFactory()), bearer(UserFactory())
    post(f"{live_server.url}/api/v1/cart/items/", first, {"product_id": product.pk})
    result = {}
    worker = threading.Thread(
        target=lambda: result.setdefault("checkout", post(checkout_url(live_server), first))
    )
    worker.start()
    assert slow_payments.waiting.wait(10)

    added = post(f"{live_server.url}/api/v1/cart/items/", second, {"product_id": product.pk})
    cart = requests.get(
        f"{live_server.url}/api/v1/cart/", headers={"Authorization": first}, timeout=10
    )

    assert added.status_code == 201
    assert cart.json()["status"] == "checking_out"
    slow_payments.release.set()
    worker.join(30)
    assert result["checkout"].status_code == 200
    product.refresh_from_db()
    assert product.stock == 9


def test_an_authorisation_after_the_stock_was_released_is_voided(live_server, slow_payments):
    product, user = ProductFactory(stock=5), UserFactory()
    auth = bearer(user)
    post(f"{live_server.url}/api/v1/cart/items/", auth, {"product_id": product.pk})

    def sweep_first():
        """The payment answers after the reservation expired and the sweeper released it."""
        CheckoutAttempt.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert services.checkout_release_expired().resolved == {"released": 1}

    slow_payments.before_answer = sweep_first
    slow_payments.release.set()

    response = post(checkout_url(live_server), auth)

    assert response.status_code == 409
    assert response.json()["code"] == "checkout_expired"
    attempt = CheckoutAttempt.objects.get()
    assert slow_payments.voided == [str(attempt.pk)]
    assert (attempt.status, attempt.payment) == ("released", PaymentState.VOIDED)
    assert user.carts.get().status == CartStatus.ACTIVE
    product.refresh_from_db()
    assert product.stock == 5


def test_ten_simultaneous_checkouts_with_one_key_are_done_and_charged_once(
    live_server, slow_payments
):
    product, user = ProductFactory(stock=5), UserFactory()
    auth = bearer(user)
    post(f"{live_server.url}/api/v1/cart/items/", auth, {"product_id": product.pk})
    answered = []

    def send():
        response = requests.post(
            checkout_url(live_server),
            headers={"Authorization": auth, "Idempotency-Key": "same"},
            timeout=30,
        )
        answered.append(response)
        if len(answered) == 9:  # the nine duplicates were answered while the payment waited
            slow_payments.release.set()
        return response

    responses = in_parallel([send] * 10)
    answers = Counter((r.status_code, r.json().get("code")) for r in responses)

    assert answers == {(409, "idempotency_key_in_use"): 9, (200, None): 1}
    assert all(int(r.headers["Retry-After"]) >= 1 for r in responses if r.status_code == 409)
    assert list(slow_payments.charges.values()) == [1]
    assert not StockReservation.objects.exists()
    product.refresh_from_db()
    assert product.stock == 4
    # Once it is done, every retry replays it.
    assert send().headers["Idempotent-Replayed"] == "true"
