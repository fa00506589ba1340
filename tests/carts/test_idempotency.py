"""Idempotency-Key as the IETF draft has it: done once, replayed after, 409 while in progress."""

from collections import Counter
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from carts.models import Cart, CartItem, IdempotencyRecord
from tests.carts.test_concurrency import in_parallel
from tests.conftest import bearer
from tests.factories import ProductFactory, UserFactory

ITEMS = "/api/v1/cart/items/"


def in_progress(owner: str, key: str, seconds: int) -> IdempotencyRecord:
    """A request with `key` whose worker is still at it (or, `seconds` < 0, died)."""
    return IdempotencyRecord.objects.create(
        owner=owner,
        key=key,
        fingerprint="unknown",
        locked_until=timezone.now() + timedelta(seconds=seconds),
    )


@pytest.mark.django_db
def test_a_repeat_while_the_first_is_in_progress_is_told_to_retry(user_api, user, product):
    record = in_progress(f"user:{user.pk}", "k", 30)
    body = {"product_id": product.pk}
    record.fingerprint = _fingerprint_of(user_api, body)
    record.save()

    response = user_api.post(ITEMS, body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 409
    assert response.data["code"] == "idempotency_key_in_use"
    assert 29 <= int(response["Retry-After"]) <= 30
    assert not CartItem.objects.exists()
    # Another body with the same key is a client error, in progress or not.
    other = user_api.post(
        ITEMS, {"product_id": product.pk, "quantity": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert other.data["code"] == "idempotency_key_reused"


def _fingerprint_of(api, body) -> str:
    """The fingerprint the service computes, read from the record of a real request."""
    api.post(ITEMS, body, format="json", HTTP_IDEMPOTENCY_KEY="probe")
    record = IdempotencyRecord.objects.get(key="probe")
    CartItem.objects.all().delete()
    return record.fingerprint


@pytest.mark.django_db
def test_a_repeat_after_the_worker_died_takes_the_key_over(user_api, user, product):
    body = {"product_id": product.pk}
    fingerprint = _fingerprint_of(user_api, body)
    IdempotencyRecord.objects.filter(key="k").delete()
    dead = in_progress(f"user:{user.pk}", "k", -1)
    dead.fingerprint = fingerprint
    dead.save()

    response = user_api.post(ITEMS, body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    dead.refresh_from_db()
    assert (dead.response_status, dead.locked_until) == (201, None)
    replay = user_api.post(ITEMS, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert replay["Idempotent-Replayed"] == "true"
    assert CartItem.objects.get().quantity == 1


@pytest.mark.django_db
def test_a_failed_request_frees_its_key(user_api):
    product = ProductFactory(stock=0)
    body = {"product_id": product.pk}
    response = user_api.post(ITEMS, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.data["code"] == "insufficient_stock"
    assert not IdempotencyRecord.objects.exists()
    product.stock = 5
    product.save()

    retry = user_api.post(ITEMS, body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert retry.status_code == 201  # run again, not replayed
    assert "Idempotent-Replayed" not in retry


@pytest.mark.django_db
def test_a_guests_first_write_retried_without_a_session_is_replayed(api, product):
    body = {"product_id": product.pk}
    first = api.post(ITEMS, body, format="json", HTTP_IDEMPOTENCY_KEY="first-write")
    retry = api.post(ITEMS, body, format="json", HTTP_IDEMPOTENCY_KEY="first-write")

    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry["X-Session-ID"] == first["X-Session-ID"]
    assert retry.json()["id"] == first.json()["id"]
    assert Cart.objects.count() == 1
    assert CartItem.objects.get().quantity == 1
    # With the session it was given, the same key is a new request of that guest.
    again = api.post(
        ITEMS,
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY="first-write",
        HTTP_X_SESSION_ID=first["X-Session-ID"],
    )
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert CartItem.objects.get().quantity == 2


@pytest.mark.django_db(transaction=True)
def test_ten_simultaneous_adds_with_one_key_add_once(live_server):
    user, product = UserFactory(), ProductFactory(stock=100)
    headers = {"Authorization": bearer(user), "Idempotency-Key": "same"}

    def send():
        return requests.post(
            f"{live_server.url}{ITEMS}",
            json={"product_id": product.pk},
            headers=headers,
            timeout=30,
        )

    responses = in_parallel([send] * 10)

    kinds = Counter(
        "done"
        if r.status_code == 201 and "Idempotent-Replayed" not in r.headers
        else "replayed"
        if r.status_code == 201
        else r.json()["code"]
        for r in responses
    )
    assert kinds["done"] == 1
    assert kinds["done"] + kinds["replayed"] + kinds["idempotency_key_in_use"] == 10
    assert CartItem.objects.get(cart__user=user).quantity == 1
    assert send().headers["Idempotent-Replayed"] == "true"
