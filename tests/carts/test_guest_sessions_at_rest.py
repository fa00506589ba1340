"""Guest session ids at rest, against a running service: a guest shops, retries with an
Idempotency-Key, checks out, and another guest's cart is merged into a user's; then not one
row of the database, key or value of Redis, or line of the service's log holds a session's
token, and every flow still answered the client its session id."""

import hashlib
import uuid

import psycopg2
import pytest
import redis
import requests
from django.conf import settings
from psycopg2 import sql

from tests.conftest import bearer
from tests.factories import ProductFactory, UserFactory
from tests.live import gunicorn
from tests.resilience.test_faults import service_database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SESSION = "X-Session-ID"


def token_of(session_id: str) -> str:
    return session_id.rsplit(":", 1)[0]


def database_rows(url: str) -> list[str]:
    """Every row of every table, each as PostgreSQL writes a whole row as text."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = [name for (name,) in cursor.fetchall()]
            rows = []
            for table in tables:
                query = sql.SQL("SELECT t::text FROM {} AS t").format(sql.Identifier(table))
                cursor.execute(query)
                rows += [f"{table}: {row}" for (row,) in cursor.fetchall()]
            return rows
    finally:
        conn.close()


def redis_contents(url: str) -> list[bytes]:
    """Every key of the service's Redis database and its value, whatever its type."""
    client = redis.Redis.from_url(url)
    try:
        return [part for key in client.scan_iter() for part in (key, client.dump(key) or b"")]
    finally:
        client.close()


class Guest:
    def __init__(self, base: str) -> None:
        self.api, self.session_id = f"{base}/api/v1", ""
        self.keys: list[str] = []

    def send(self, method: str, path: str, key: str = "", **kwargs) -> requests.Response:
        headers = {SESSION: self.session_id} if self.session_id else {}
        if key:
            headers["Idempotency-Key"] = key
        headers.update(kwargs.pop("headers", {}))
        response = requests.request(
            method, f"{self.api}/{path}", headers=headers, timeout=15, **kwargs
        )
        assert response.status_code < 300 or response.status_code == 304, response.text
        return response

    def add_twice(self, product_id: int) -> tuple[requests.Response, requests.Response]:
        """An add with a new key, then its retry (replayed), both with the session known
        before; a first add takes the session id it is given."""
        key = str(uuid.uuid4())
        self.keys.append(key)
        first = self.send("POST", "cart/items/", key, json={"product_id": product_id})
        retry = self.send("POST", "cart/items/", key, json={"product_id": product_id})
        self.session_id = first.headers[SESSION]
        return first, retry


def assert_same_answer(first: requests.Response, retry: requests.Response, session_id: str):
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert first.headers[SESSION] == retry.headers[SESSION] == session_id
    assert first.json()["session_id"] == retry.json()["session_id"] == session_id
    assert retry.json() == first.json()
    assert retry.headers["ETag"] == first.headers["ETag"]


def test_no_guest_session_token_is_kept_at_rest_and_every_flow_still_works():
    product, user = ProductFactory(stock=20), UserFactory()
    database, cache = service_database_url(), settings.REDIS_URL
    with gunicorn(DATABASE_URL=database, REDIS_URL=cache, LOG_LEVEL="debug") as service:
        shopper, other = Guest(service.url), Guest(service.url)
        # A first add that creates the session, retried without it: the same session back.
        first, retry = shopper.add_twice(product.pk)
        assert_same_answer(first, retry, shopper.session_id)
        assert first.status_code == 201
        # Later adds with the session, retried: the session id the request sent, back.
        again, again_retry = shopper.add_twice(product.pk)
        assert_same_answer(again, again_retry, shopper.session_id)
        read = shopper.send("GET", "cart/")
        assert (read.json()["id"], read.json()["session_id"]) == (
            first.json()["id"],
            shopper.session_id,
        )
        assert [line["quantity"] for line in read.json()["items"]] == [2]
        unchanged = shopper.send("GET", "cart/", headers={"If-None-Match": read.headers["ETag"]})
        assert unchanged.status_code == 304
        # Checkout, retried.
        key = str(uuid.uuid4())
        paid = shopper.send("POST", "cart/checkout/", key, json={})
        paid_again = shopper.send("POST", "cart/checkout/", key, json={})
        assert paid.json()["status"] == "checked_out"
        assert_same_answer(paid, paid_again, shopper.session_id)
        # Another guest's cart merged into a user's when they sign in.
        other.add_twice(product.pk)
        merged = other.send("POST", "cart/merge/", json={}, headers={"Authorization": bearer(user)})
        assert [line["quantity"] for line in merged.json()["items"]] == [1]
        rows, cached = database_rows(database), redis_contents(cache)
    logs = service.final_output

    tokens = [token_of(shopper.session_id), token_of(other.session_id)]
    cart_rows = [row for row in rows if row.startswith("carts_cart: ")]
    for token in tokens:
        assert [row for row in rows if token in row] == []
        assert [part for part in cached if token.encode() in part] == []
        assert token not in logs
        digest = hashlib.sha256(token.encode()).hexdigest()
        assert any(digest in row for row in cart_rows), "the cart keeps the token's digest"
    for guest in (shopper, other):  # a first write's key would replay its session id
        assert [row for row in rows if guest.keys[0] in row] == []
    records = [row for row in rows if row.startswith("carts_idempotencyrecord: ")]
    assert len(records) == 4  # two first adds, a later add and a checkout
    assert sum("new-guest" in row for row in records) == 2
