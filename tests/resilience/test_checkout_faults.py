"""Checkout in phases against real faults: the service under gunicorn, a payment service on
loopback (payment_stub.py) that hangs, refuses, fails, hangs up or dies, a worker killed
between phases, PostgreSQL restarted between them.

After each, once the sweeper (`manage.py release_expired_reservations`, run as cron runs it)
has run: no reservation is left, the stock is the start minus what was sold, and every cart is
either checked out (its payment authorised, and charged once) or active with its lines
unchanged (nothing authorised left standing). The database is read directly to check.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

import psycopg2
import pytest
import requests
from django.db import connection

from tests.factories import ProductFactory
from tests.live import ROOT, Service, free_port, gunicorn, private_postgres, wait_for
from tests.resilience.payment_stub import PaymentStub, ledger_read, process_of, stub_process

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

RESERVATION_SECONDS = 2
ATTEMPT = ("id", "cart", "status", "payment", "expired")


def checkout_settings(payment_url: str, database_url: str) -> dict[str, str]:
    """What the service and the sweeper run with: short reservations and timeouts (2 s), and an
    Idempotency-Key claim a retry may take over after 1 s (its worker is dead)."""
    return {
        "DATABASE_URL": database_url,
        "PAYMENT_SERVICE_URL": payment_url,
        "PRODUCT_SERVICE_URL": "",
        "CHECKOUT_RESERVATION_SECONDS": str(RESERVATION_SECONDS),
        "EXTERNAL_TIMEOUT_MS": "2000",
        "IDEMPOTENCY_LOCK_SECONDS": "1",
    }


def manage(env: dict[str, str], *args: str) -> str:
    """Run a manage.py command as its own process; what it printed."""
    command, env = [sys.executable, "manage.py", *args], {**os.environ, **env}
    return subprocess.check_output(command, cwd=ROOT, env=env, text=True, timeout=120)


def sweep(env: dict[str, str]) -> str:
    return manage(env, "release_expired_reservations")


class Shopper:
    """A guest shopper talking to a live service."""

    def __init__(self, base: str) -> None:
        self.base, self.session_id = base, ""

    def send(self, method: str, path: str, key: str = "", **kwargs) -> requests.Response:
        headers = {"X-Session-ID": self.session_id, **({"Idempotency-Key": key} if key else {})}
        response = requests.request(
            method, f"{self.base}/api/v1/cart/{path}", headers=headers, timeout=30, **kwargs
        )
        self.session_id = response.headers.get("X-Session-ID", self.session_id)
        return response

    def add(self, product_id: int, quantity: int = 1) -> requests.Response:
        return self.send("POST", "items/", json={"product_id": product_id, "quantity": quantity})

    def checkout(self, key: str = "") -> requests.Response:
        return self.send("POST", "checkout/", key=key)

    def look(self) -> dict:
        """What the shopper sees of the cart: its id, status, ETag and lines."""
        response = self.send("GET", "")
        cart = {**response.json(), "etag": response.headers["ETag"]}
        cart["lines"] = [
            (i["product"]["id"], i["quantity"], i["unit_price"]) for i in cart["items"]
        ]
        return {key: cart[key] for key in ("id", "status", "etag", "lines")}


def shop(database_url: str) -> dict:
    """The stock, carts, lines, attempts and reservations, read from the database."""
    with contextlib.closing(psycopg2.connect(database_url)) as db, db.cursor() as cursor:

        def rows(sql: str) -> list[tuple]:
            cursor.execute(sql)
            return cursor.fetchall()

        lines = rows(
            "SELECT cart_id::text, json_agg(json_build_array(product_id, quantity, "
            "unit_price::text) ORDER BY product_id) FROM carts_cartitem GROUP BY cart_id"
        )
        attempts = rows(
            "SELECT id::text, cart_id::text, status, payment, expires_at < now() "
            "FROM carts_checkoutattempt ORDER BY created_at"
        )
        return {
            "stock": dict(rows("SELECT id, stock FROM carts_product")),
            "reservations": rows("SELECT count(*) FROM carts_stockreservation")[0][0],
            "carts": dict(rows("SELECT id::text, status FROM carts_cart")),
            "lines": dict(lines),  # cart: [[product, quantity, unit price], ...]
            "attempts": [dict(zip(ATTEMPT, row, strict=True)) for row in attempts],
        }


def assert_settled(before: dict, after: dict, ledger: dict) -> None:
    """The issue's invariant, once the sweeper has run (`before`: the shop before checkout)."""
    assert after["reservations"] == 0
    assert not [a for a in after["attempts"] if a["status"] == "reserved"]
    sold: Counter[int] = Counter()
    for cart, status in after["carts"].items():
        lines = after["lines"].get(cart, [])
        assert lines == before["lines"].get(cart, [])
        attempts = [a for a in after["attempts"] if a["cart"] == cart]
        recorded = {a["id"]: ledger["payments"].get(a["id"], {}).get("status") for a in attempts}
        charged = [key for key, state in recorded.items() if state == "authorised"]
        if status == "checked_out":
            assert charged == [a["id"] for a in attempts if a["status"] == "completed"]
            assert len(charged) == 1
            payment = ledger["payments"][charged[0]]
            assert payment["charges"] == 1
            assert payment["amount"] == f"{sum(q * Decimal(price) for _, q, price in lines):.2f}"
            sold.update({product: quantity for product, quantity, _ in lines})
        else:
            assert status == "active"
            assert charged == []  # nothing charged for a cart the shopper still has
            assert all(a["status"] == "released" for a in attempts)
            assert all(a["payment"] != "unknown" for a in attempts)  # the sweeper asked
    assert after["stock"] == {pk: units - sold[pk] for pk, units in before["stock"].items()}


def wait_for_expiry(database_url: str) -> None:
    def expired() -> bool:
        return all(
            a["expired"] for a in shop(database_url)["attempts"] if a["status"] == "reserved"
        )

    wait_for(expired, what="the reservations' expiry")


def problem_code(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json().get("code", "")


@dataclass
class Scene:
    """A shopper about to check out a cart of one product (`units` of it) on a live service."""

    service: Service
    env: dict[str, str]  # the service's settings, the sweeper's too
    database: str
    shopper: Shopper
    seen: dict  # what the shopper sees of the cart
    before: dict  # the shop, as `shop` reads it


@contextlib.contextmanager
def scene(
    payment_url: str, units: int, database: str = "", product: int = 0, **settings: str
) -> Iterator[Scene]:
    """The service (its output free of tracebacks at the end), a product (of stock 10 unless
    given) and a shopper with `units` of it in the cart."""
    db = connection.settings_dict  # the test's database, unless told otherwise
    database = database or f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    product = product or ProductFactory(stock=10).pk
    env = {**checkout_settings(payment_url, database), **settings}
    with gunicorn(**env) as service:
        shopper = Shopper(service.url)
        assert shopper.add(product, units).status_code == 201
        yield Scene(service, env, database, shopper, shopper.look(), shop(database))
    assert "Traceback" not in service.output()


# The stub's mode and hold; what the shopper is told, the stub records, the sweeper settles.
FAULTS = {
    "hung": ("approve", True, (503, "payment_unavailable"), ["authorised"], "voided"),
    "refusing": ("refuse", False, (402, "payment_refused"), ["declined"], "refused"),
    "answering_500": ("fail", False, (503, "payment_unavailable"), [], "absent"),
    "hanging_up": ("hangup", False, (503, "payment_unavailable"), ["authorised"], "voided"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_payment_service_gives_the_cart_back_unchanged(fault):
    """Hung (it authorises, but answers after the timeout), refusing, answering 500, hanging
    up without an answer (after authorising): the shopper is told why, at once the cart is
    active as it was (same ETag) and the stock back; the sweeper voids an authorisation made
    all the same; a retry with the same key, the service well again, checks out."""
    mode, hold, told, recorded, settled = FAULTS[fault]
    with PaymentStub(mode=mode, hold=hold) as stub, scene(stub.url, 2) as s:
        assert problem_code(s.shopper.checkout("try-1")) == told
        assert s.shopper.look() == s.seen
        assert shop(s.database)["stock"] == s.before["stock"]
        assert len(stub.ledger()["received"]) == 1
        assert [p["status"] for p in stub.ledger()["payments"].values()] == recorded

        sweep(s.env)
        assert [a["payment"] for a in shop(s.database)["attempts"]] == [settled]
        assert_settled(s.before, shop(s.database), stub.ledger())

        stub.mode = "approve"
        stub.release()
        retried = s.shopper.checkout("try-1")  # a failed answer is not kept for its key
        assert retried.status_code == 200
        assert retried.json()["status"] == "checked_out"
        after = shop(s.database)
        assert [a["payment"] for a in after["attempts"]] == [settled, "authorised"]
        assert_settled(s.before, after, stub.ledger())


def test_a_payment_service_killed_mid_request_is_settled_once_it_is_back(tmp_path):
    port, ledger = free_port(), tmp_path / "ledger.json"
    with scene(f"http://127.0.0.1:{port}", 2) as s:
        with stub_process(port, ledger, "--hold") as stub, ThreadPoolExecutor(1) as pool:
            checkout = pool.submit(s.shopper.checkout)
            wait_for(lambda: ledger_read(ledger)["received"], what="the payment request")
            stub.kill()  # with the request in flight, authorised but not answered
            assert problem_code(checkout.result()) == (503, "payment_unavailable")
        assert s.shopper.look() == s.seen
        assert shop(s.database)["stock"] == s.before["stock"]

        sweep(s.env)  # the payment service is down: what became of the payment is not known
        assert [a["payment"] for a in shop(s.database)["attempts"]] == ["unknown"]

        with stub_process(port, ledger):  # back, with what it recorded
            sweep(s.env)
        assert [a["payment"] for a in shop(s.database)["attempts"]] == ["voided"]
        assert_settled(s.before, shop(s.database), ledger_read(ledger))


def test_an_authorisation_answered_after_the_sweeper_released_the_stock_is_voided():
    """The payment service answers only after the reservation expired and the sweeper, told
    it had no record of the payment, released the stock: the worker voids the authorisation
    and tells the shopper the checkout expired."""
    with (
        PaymentStub(mode="late", hold=True) as stub,
        scene(stub.url, 2, EXTERNAL_TIMEOUT_MS="20000") as s,
        ThreadPoolExecutor(1) as pool,
    ):
        checkout = pool.submit(s.shopper.checkout)
        assert stub.arrived.wait(30)
        wait_for_expiry(s.database)
        sweep(s.env)
        released = shop(s.database)
        assert released["carts"] == {s.seen["id"]: "active"}
        assert [a["payment"] for a in released["attempts"]] == ["absent"]
        assert released["stock"] == s.before["stock"]

        stub.release()
        assert problem_code(checkout.result()) == (409, "checkout_expired")
        assert s.shopper.look() == s.seen
        ledger = stub.ledger()
        assert [p["status"] for p in ledger["payments"].values()] == ["voided"]
        after = shop(s.database)
        assert [a["payment"] for a in after["attempts"]] == ["voided"]
        assert_settled(s.before, after, ledger)


def checkout_until_not_in_use(shopper: Shopper, key: str) -> requests.Response:
    """Retry a checkout whose worker died until its Idempotency-Key claim may be taken over."""
    for _ in range(50):
        response = shopper.checkout(key)
        if problem_code(response) != (409, "idempotency_key_in_use"):
            return response
        time.sleep(0.2)
    pytest.fail("the Idempotency-Key stayed in use")


@pytest.mark.parametrize("ending", ["authorised", "never_authorised", "retried"])
def test_a_worker_killed_between_phases_leaves_nothing_stranded(ending):
    """The worker dies while the payment service holds its request. The sweeper completes
    the checkout the payment service authorised and releases the other; or the client retries
    with the same Idempotency-Key, which resumes the attempt (and is not charged again)."""
    mode = "fail" if ending == "never_authorised" else "approve"
    with (
        PaymentStub(mode=mode, hold=True) as stub,
        scene(stub.url, 3) as s,
        ThreadPoolExecutor(1) as pool,
    ):
        checkout = pool.submit(s.shopper.checkout, "the-key")
        assert stub.arrived.wait(30)
        ((key, port),) = stub.ledger()["peers"].items()
        os.kill(process_of(port, s.service.workers()), signal.SIGKILL)
        with pytest.raises(requests.ConnectionError):
            checkout.result()
        stub.release()

        assert s.shopper.look()["status"] == "checking_out"
        product = s.seen["lines"][0][0]
        assert problem_code(s.shopper.add(product)) == (409, "checkout_in_progress")
        stranded = shop(s.database)
        assert [a["status"] for a in stranded["attempts"]] == ["reserved"]
        assert stranded["reservations"] == 1
        assert stranded["stock"] == {product: 7}

        if ending == "retried":
            answer = checkout_until_not_in_use(s.shopper, "the-key")
            assert answer.status_code == 200
            assert answer.json()["status"] == "checked_out"
            assert stub.ledger()["received"] == {key: 2}  # asked twice, charged once
        else:
            wait_for_expiry(s.database)
        sweep(s.env)

        after = shop(s.database)
        assert_settled(s.before, after, stub.ledger())
        final = "active" if ending == "never_authorised" else "checked_out"
        assert after["carts"] == {s.seen["id"]: final}
        if final == "active":
            assert s.shopper.look() == s.seen
            assert [a["payment"] for a in after["attempts"]] == ["absent"]


def test_postgres_restarted_between_phases_leaves_nothing_stranded():
    with private_postgres() as postgres, PaymentStub(hold=True) as stub:
        env = checkout_settings(stub.url, postgres.url)
        manage(env, "migrate", "--no-input")
        manage(env, "load_demo_catalog")
        with (
            scene(stub.url, 2, postgres.url, product=1, CONN_MAX_AGE="60") as s,
            ThreadPoolExecutor(1) as pool,
        ):
            checkout = pool.submit(s.shopper.checkout)
            assert stub.arrived.wait(30)
            postgres.stop()
            postgres.start()
            stub.release()  # authorised, answered to a worker whose connection is gone
            assert problem_code(checkout.result()) == (503, "database_unavailable")

            assert s.shopper.look()["status"] == "checking_out"
            wait_for_expiry(postgres.url)
            sweep(env)
            after = shop(postgres.url)
            assert_settled(s.before, after, stub.ledger())
            assert after["carts"] == {s.seen["id"]: "checked_out"}
