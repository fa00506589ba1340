"""Webhook endpoints (staff API) and deliveries by the worker to a real receiver on loopback:
signed per Standard Webhooks, retried with backoff, in order per cart, never twice at once."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from events.delivery import deliveries_claim, delivery_record
from events.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from events.relay import events_position
from events.worker import run_once
from integrations.webhooks import WebhookResult
from tests.carts.stubs import add
from tests.conftest import bearer
from tests.factories import ProductFactory, UserFactory
from tests.integrations.receiver import Receiver
from tests.schema import assert_ok, assert_problem

WEBHOOKS = "/api/v1/webhooks/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    with Receiver() as server:
        yield server


def create(staff_api, url: str, events=("*",)) -> dict:
    return assert_ok(
        staff_api.post(WEBHOOKS, {"url": url, "events": list(events)}, format="json"), 201
    )


def deliver_all(rounds: int = 5) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(rounds):
            if not run_once(pool, threads=4):
                return


def test_endpoints_are_for_staff(api, user_api):
    assert_problem(api.get(WEBHOOKS), 401)
    assert_problem(
        user_api.post(WEBHOOKS, {"url": "https://example.com/", "events": ["*"]}, format="json"),
        403,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://example.com/hook", "events": ["*"]}, "url"),
        ({"url": "https://127.0.0.1/hook", "events": ["*"]}, "url"),
        ({"url": "https://169.254.169.254/latest", "events": ["*"]}, "url"),
        ({"url": "https://example.com/hook", "events": ["cart.nope"]}, "events"),
        ({"url": "https://example.com/hook", "events": []}, "events"),
        ({"url": "https://example.com/hook", "events": ["*"], "secret": "mine"}, "secret"),
    ],
)
def test_a_bad_endpoint_is_refused(staff_api, settings, body, field):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    problem = assert_problem(staff_api.post(WEBHOOKS, body, format="json"), 400, "invalid")
    assert field in problem["errors"]


def test_the_secret_is_shown_at_creation_and_rotation_only(staff_api):
    created = create(staff_api, "https://example.com/hook")
    assert created["secret"].startswith("whsec_")
    shown = assert_ok(staff_api.get(f"{WEBHOOKS}{created['id']}/"))
    assert "secret" not in shown
    rotated = assert_ok(staff_api.post(f"{WEBHOOKS}{created['id']}/rotate-secret/"))
    assert rotated["secret"] != created["secret"]
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert endpoint.previous_secret == created["secret"]
    assert endpoint.previous_secret_expires_at > timezone.now() + timedelta(hours=23)


@pytest.mark.django_db(transaction=True)
def test_events_are_delivered_signed_and_in_order(staff_api, user_api, receiver):
    created = create(staff_api, f"{receiver.url}/hooks")
    product = ProductFactory(stock=50)
    for _ in range(3):
        assert add(user_api, product).status_code == 201
    deliver_all()
    assert len(receiver.requests) == 3
    verifier = Webhook(created["secret"])
    sequences = []
    for request in receiver.requests:
        payload = verifier.verify(request["body"], request["headers"])
        assert payload["id"] == request["headers"]["webhook-id"]
        sequences.append(payload["sequence"])
    assert sequences == [1, 2, 3]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    deliveries = assert_ok(staff_api.get(f"{WEBHOOKS}{created['id']}/deliveries/"))
    assert deliveries["results"][0]["tries"][0]["status_code"] == 200


@pytest.mark.django_db(transaction=True)
def test_after_a_rotation_both_secrets_sign(staff_api, user_api, receiver):
    created = create(staff_api, f"{receiver.url}/hooks")
    rotated = assert_ok(staff_api.post(f"{WEBHOOKS}{created['id']}/rotate-secret/"))
    assert add(user_api, ProductFactory(stock=5)).status_code == 201
    deliver_all()
    (request,) = receiver.requests
    for secret in (created["secret"], rotated["secret"]):
        Webhook(secret).verify(request["body"], request["headers"])
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2


@pytest.mark.django_db(transaction=True)
def test_only_subscribed_types_are_delivered(staff_api, user_api, receiver):
    create(staff_api, f"{receiver.url}/hooks", events=["cart.checked_out"])
    assert add(user_api, ProductFactory(stock=5)).status_code == 201
    assert user_api.post("/api/v1/cart/checkout/").status_code == 200
    deliver_all()
    assert [json.loads(r["body"])["type"] for r in receiver.requests] == ["cart.checked_out"]


@pytest.mark.django_db(transaction=True)
def test_a_failure_is_retried_and_a_later_event_of_the_cart_waits(staff_api, user_api, receiver):
    created = create(staff_api, f"{receiver.url}/status/503")
    product = ProductFactory(stock=50)
    for _ in range(2):
        assert add(user_api, product).status_code == 201
    deliver_all()
    assert len(receiver.requests) == 1  # the second waits behind the first
    first = WebhookDelivery.objects.order_by("position").first()
    assert first.status == DeliveryStatus.PENDING
    assert timedelta(seconds=3) < first.next_attempt_at - timezone.now() < timedelta(seconds=7)
    WebhookEndpoint.objects.filter(pk=created["id"]).update(url=f"{receiver.url}/hooks")
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    deliver_all()
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert ids[0] == ids[1]  # the retry keeps its webhook-id
    assert [json.loads(r["body"])["sequence"] for r in receiver.requests[1:]] == [1, 2]


def test_the_last_failure_gives_up_and_disables_a_failing_endpoint(staff_api, user_api, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [timedelta(seconds=1)]
    created = create(staff_api, "https://example.com/hook")
    assert add(user_api, ProductFactory(stock=5)).status_code == 201
    events_position()
    failure = WebhookResult(status=500, duration_ms=3.0, error="HTTP 500")
    for expected in (DeliveryStatus.PENDING, DeliveryStatus.FAILED):
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        (claimed,) = deliveries_claim()
        assert delivery_record(delivery_id=claimed.delivery_id, result=failure) == expected
    endpoint = assert_ok(staff_api.get(f"{WEBHOOKS}{created['id']}/"))
    assert endpoint["is_active"] is False
    assert "HTTP 500" in endpoint["disabled_reason"]
    enabled = assert_ok(
        staff_api.patch(f"{WEBHOOKS}{created['id']}/", {"is_active": True}, format="json")
    )
    assert (enabled["is_active"], enabled["disabled_reason"]) == (True, "")


@pytest.mark.django_db(transaction=True)
def test_workers_at_once_never_claim_the_same_delivery(staff_api, user_api, receiver):
    create(staff_api, f"{receiver.url}/hooks")
    products = ProductFactory.create_batch(5, stock=100)
    for _ in range(6):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=bearer(UserFactory()))
        for product in products:
            assert add(client, product).status_code == 201
    events_position()
    claims: list[list[int]] = []
    barrier = threading.Barrier(3)

    def claim() -> None:
        barrier.wait()
        try:
            claims.append([c.delivery_id for c in deliveries_claim(limit=100)])
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [delivery for batch in claims for delivery in batch]
    assert len(claimed) == len(set(claimed)) == 6  # one per cart: the others wait their turn
