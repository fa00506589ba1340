"""Migration 0005 hashes the guest sessions already at rest, on PostgreSQL and on SQLite.

A scratch database is migrated to 0004 and filled as the code of before left it (carts named
by their token, idempotency records with session ids in their answers); after `migrate`, no
token is left, and, against a running service, the sessions issued before still find their
carts and a new guest's first write is still replayed with its session id.
"""

import hashlib
import json
import secrets
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg2
import pytest
import requests

from carts.guest_sessions import guest_session_sign, guest_session_unseal
from tests.deploy.test_backup import manage, scratch_postgres
from tests.live import gunicorn

pytestmark = pytest.mark.slow

ITEMS = "/api/v1/cart/items/"
BODY = {"product_id": 1}
FINGERPRINT = hashlib.sha256(
    f"POST {ITEMS}\n{json.dumps(BODY, sort_keys=True)}".encode()
).hexdigest()


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Legacy:
    """Two guests of before the migration: one whose first write (with `first_key`) made its
    cart, one with a later write kept under its session."""

    def __init__(self) -> None:
        self.tokens = [secrets.token_urlsafe(16) for _ in range(2)]
        self.session_ids = [guest_session_sign(token) for token in self.tokens]
        self.carts = [uuid.uuid4().hex for _ in range(2)]
        self.first_key, self.later_key = str(uuid.uuid4()), str(uuid.uuid4())

    def answer(self, n: int) -> tuple[str, str]:
        body = {"id": str(uuid.UUID(self.carts[n])), "session_id": self.session_ids[n]}
        headers = {"ETag": f'"{n}"', "X-Session-ID": self.session_ids[n]}
        return json.dumps(body), json.dumps(headers)

    def fill(self, execute, now) -> None:
        execute(
            "INSERT INTO carts_product (id, sku, name, price, currency, stock, is_active,"
            " created_at, updated_at) VALUES (1, 'SKU-1', 'Mug', 5, 'EUR', 9, %s, %s, %s)",
            (True, now, now),
        )
        for n, (cart, token) in enumerate(zip(self.carts, self.tokens, strict=True)):
            execute(
                "INSERT INTO carts_cart (id, session_id, status, currency, version, created_at,"
                " updated_at, first_item_added_at) VALUES (%s, %s, 'active', 'EUR', 1, %s, %s, %s)",
                (cart, token, now, now, now),
            )
            execute(
                "INSERT INTO carts_cartitem (cart_id, product_id, quantity, unit_price,"
                " created_at, updated_at) VALUES (%s, 1, %s, 5, %s, %s)",
                (cart, n + 1, now, now),
            )
        records = [
            ("new-guest", self.first_key, 201, *self.answer(0)),
            (f"guest:{self.tokens[1]}", self.later_key, 201, *self.answer(1)),
            ("user:1", "user-key", 201, '{"session_id": null}', '{"ETag": "\\"u\\""}'),
            ("new-guest", "in-progress-key", None, None, "{}"),
        ]
        for record in records:
            execute(
                "INSERT INTO carts_idempotencyrecord (owner, key, fingerprint, response_status,"
                " response_body, response_headers, locked_until, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, NULL, %s)",
                (*record[:2], FINGERPRINT, *record[2:], now),
            )

    def check(self, rows: list[tuple], records: dict[str, tuple]) -> None:
        """Rows as text after the migration; records by owner and key."""
        for token in self.tokens:
            assert [row for row in rows if token in str(row)] == []
        assert [row for row in rows if self.first_key in str(row)] == []
        first = records[f"new-guest {digest(self.first_key)}"]
        record_id, body, headers = first[0], json.loads(first[1]), json.loads(first[2])
        assert body["session_id"] is None
        assert headers.keys() == {"ETag", "sealed-session"}
        sealed = headers["sealed-session"]
        unsealed = guest_session_unseal(sealed, secret=self.first_key, context=str(record_id))
        assert unsealed == self.session_ids[0]
        later = records[f"guest:{digest(self.tokens[1])} {self.later_key}"]
        assert (json.loads(later[1])["session_id"], json.loads(later[2])) == (None, {"ETag": '"1"'})
        assert "user:1 user-key" in records
        assert f"new-guest {digest('in-progress-key')}" in records


def read_back(execute_many) -> tuple[list[tuple], dict[str, tuple]]:
    rows = []
    for table in ("carts_cart", "carts_idempotencyrecord", "carts_cartitem"):
        rows += execute_many(f"SELECT * FROM {table}")  # noqa: S608
    records = execute_many(
        "SELECT owner, key, id, response_body, response_headers FROM carts_idempotencyrecord"
    )
    return rows, {f"{owner} {key}": rest for owner, key, *rest in records}


@pytest.fixture
def postgres_scratch() -> Iterator[str]:
    with scratch_postgres("addtocart_hash_test") as url:
        yield url


def test_postgresql_sessions_of_before_are_hashed_and_keep_working(postgres_scratch):
    url, legacy = postgres_scratch, Legacy()
    manage(url, "migrate", "carts", "0004", "--no-input", "-v", "0")
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cursor:
            legacy.fill(cursor.execute, datetime.now(UTC))

        manage(url, "migrate", "--no-input", "-v", "0")

        with conn, conn.cursor() as cursor:

            def execute_many(query: str) -> list[tuple]:
                cursor.execute(query)
                return [
                    tuple(json.dumps(v) if isinstance(v, dict) else v for v in row)
                    for row in cursor.fetchall()
                ]

            rows, records = read_back(execute_many)
            stored = {session for (session,) in execute_many("SELECT session_id FROM carts_cart")}
    finally:
        conn.close()
    legacy.check(rows, records)
    assert stored == {digest(token) for token in legacy.tokens}
    with gunicorn(DATABASE_URL=url, REDIS_URL="") as service:
        replay = requests.post(
            service.url + ITEMS,
            json=BODY,
            headers={"Idempotency-Key": legacy.first_key},
            timeout=10,
        )
        later = requests.post(
            service.url + ITEMS,
            json=BODY,
            headers={"Idempotency-Key": legacy.later_key, "X-Session-ID": legacy.session_ids[1]},
            timeout=10,
        )
        carts = [
            requests.get(
                f"{service.url}/api/v1/cart/", headers={"X-Session-ID": session_id}, timeout=10
            ).json()
            for session_id in legacy.session_ids
        ]
    assert replay.headers["Idempotent-Replayed"] == later.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["X-Session-ID"] == replay.json()["session_id"] == legacy.session_ids[0]
    assert later.headers["X-Session-ID"] == later.json()["session_id"] == legacy.session_ids[1]
    assert [cart["id"] for cart in carts] == [str(uuid.UUID(cart)) for cart in legacy.carts]
    assert [[line["quantity"] for line in cart["items"]] for cart in carts] == [[1], [2]]


def test_sqlite_sessions_of_before_are_hashed(tmp_path):
    path = tmp_path / "db.sqlite3"
    url, legacy = f"sqlite:///{path}", Legacy()
    manage(url, "migrate", "carts", "0004", "--no-input", "-v", "0")
    conn = sqlite3.connect(path)
    try:
        with conn:
            legacy.fill(
                lambda query, params: conn.execute(query.replace("%s", "?"), params),
                datetime.now(UTC).replace(tzinfo=None).isoformat(" "),
            )
    finally:
        conn.close()

    manage(url, "migrate", "--no-input", "-v", "0")

    conn = sqlite3.connect(path)
    try:
        rows, records = read_back(lambda query: conn.execute(query).fetchall())
        stored = {row[0] for row in conn.execute("SELECT session_id FROM carts_cart")}
    finally:
        conn.close()
    legacy.check(rows, records)
    assert stored == {digest(token) for token in legacy.tokens}
