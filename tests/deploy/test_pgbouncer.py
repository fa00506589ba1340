"""The service behind a real PgBouncer in transaction mode, under concurrent shoppers.

Four gunicorn workers share two server connections, handed round robin, so each worker's
transactions run on whichever server session is free: a statement prepared on one session is
missing from the next ("prepared statement does not exist"), or already there from another
worker ("already exists"), and a cursor held across transactions is gone. With the default
settings the service finds the pooler by itself; with DATABASE_POOL_MODE=transaction it is
told. Either way no request may fail, and every cart must come out right.
"""

import csv
import io
import re
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from carts.models import Cart, CartItem, CartStatus, Product
from tests.conftest import bearer
from tests.factories import PASSWORD, ProductFactory, StaffFactory, UserFactory
from tests.live import gunicorn, private_redis
from tests.pgbouncer import pgbouncer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKERS, GUESTS, USERS, ROUNDS = 4, 4, 4, 5
POOLER_FOUND = "reached through a connection pooler"


class Shopper:
    """A guest (no token) or a signed-in shopper, noting what went wrong instead of raising."""

    def __init__(self, base: str, token: str = "") -> None:
        self.base, self.session_id = base, ""
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = token
        self.problems: list[str] = []
        self.statuses: Counter = Counter()

    def send(self, method: str, path: str, headers: dict | None = None, **kwargs):
        headers = headers if headers is not None else self.headers()
        answer = self.http.request(
            method, f"{self.base}/api/v1/{path}", headers=headers, timeout=30, **kwargs
        )
        self.session_id = answer.headers.get("X-Session-ID", self.session_id)
        self.statuses[answer.status_code] += 1
        return answer

    def headers(self) -> dict:
        return {"X-Session-ID": self.session_id} if self.session_id else {}

    def expect(self, answer, status: int, what: str) -> dict:
        if answer.status_code != status:
            self.problems.append(f"{what}: {answer.status_code} {answer.text[:300]}")
            return {}
        return answer.json()

    def twice(self, path: str, body: dict, status: int, what: str) -> dict:
        """POST with an Idempotency-Key, then the same request again: answered from the
        record, the same cart."""
        headers = {**self.headers(), "Idempotency-Key": str(uuid.uuid4())}
        first = self.expect(self.send("POST", path, headers, json=body), status, what)
        again = self.send("POST", path, headers, json=body)
        replayed = self.expect(again, status, f"{what}, retried")
        if again.headers.get("Idempotent-Replayed") != "true" or replayed.get("id") != first.get(
            "id"
        ):
            self.problems.append(f"{what}, retried: not replayed ({again.headers})")
        return first

    def lines(self, cart: dict) -> dict[int, tuple[int, int]]:
        """product id: (line id, quantity)."""
        return {i["product"]["id"]: (i["id"], i["quantity"]) for i in cart.get("items", [])}

    def shop(self, shirt: int, mug: int) -> None:
        """Each round: add (and retry), add, read, change, remove, read, check out (and retry)."""
        for round_ in range(ROUNDS):
            self.twice("cart/items/", {"product_id": shirt}, 201, f"round {round_}: add shirt")
            self.expect(
                self.send("POST", "cart/items/", json={"product_id": mug, "quantity": 2}),
                201,
                "add mugs",
            )
            lines = self.lines(self.expect(self.send("GET", "cart/"), 200, "read"))
            if {product: quantity for product, (_, quantity) in lines.items()} != {
                shirt: 1,
                mug: 2,
            }:
                self.problems.append(f"round {round_}: cart read {lines}")
                continue
            self.expect(
                self.send("PATCH", f"cart/items/{lines[mug][0]}/", json={"quantity": 3}),
                200,
                "change mugs",
            )
            self.expect(self.send("DELETE", f"cart/items/{lines[shirt][0]}/"), 200, "remove")
            cart = self.expect(self.send("GET", "cart/"), 200, "read again")
            if cart and [(i["product"]["id"], i["quantity"]) for i in cart["items"]] != [(mug, 3)]:
                self.problems.append(f"round {round_}: cart after changes {cart['items']}")
            done = self.twice("cart/checkout/", {}, 200, f"round {round_}: checkout")
            if done and done["status"] != CartStatus.CHECKED_OUT:
                self.problems.append(f"round {round_}: checked out as {done['status']}")


def admin_export(base: str) -> list[list[str]]:
    """Every cart as the admin's CSV export streams it, signed in as staff."""
    staff = StaffFactory(is_superuser=True)
    # Hashed as the service hashes, not with the tests' fast hasher.
    staff.password = PBKDF2PasswordHasher().encode(PASSWORD, "pgbouncer", iterations=1_000)
    staff.save(update_fields=["password"])
    web = requests.Session()
    web.get(f"{base}/admin/login/", timeout=30)
    signed_in = web.post(
        f"{base}/admin/login/?next=/admin/",
        data={
            "username": staff.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": web.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/admin/login/"},
        timeout=30,
    )
    assert signed_in.status_code == 200, signed_in.text[:500]
    assert "sessionid" in web.cookies, signed_in.text[:500]
    exported = web.post(
        f"{base}/admin/carts/cart/",
        data={
            "action": "export_csv",
            "index": "0",
            "select_across": "1",
            "_selected_action": [str(Cart.objects.first().pk)],
            "csrfmiddlewaretoken": web.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/admin/carts/cart/"},
        timeout=30,
    )
    assert exported.status_code == 200, exported.text[:500]
    return list(csv.reader(io.StringIO(exported.text)))


def run_shoppers(base: str, shirt: int, mug: int) -> list[Shopper]:
    users = [UserFactory() for _ in range(USERS)]
    shoppers = [Shopper(base) for _ in range(GUESTS)]
    shoppers += [Shopper(base, bearer(user)) for user in users]
    with ThreadPoolExecutor(len(shoppers)) as pool:
        for done in [pool.submit(shopper.shop, shirt, mug) for shopper in shoppers]:
            done.result()
    return shoppers


def assert_served_behind_pgbouncer(**settings: str) -> str:
    """Run the shoppers through PgBouncer; return the service's output."""
    shirt = ProductFactory(price="19.90", stock=1_000)
    mug = ProductFactory(price="12.00", stock=1_000)
    database = connection.settings_dict
    with (
        pgbouncer(database, pool_mode="transaction", pool_size=2) as bouncer,
        private_redis() as redis,
        gunicorn(
            workers=WORKERS,
            DATABASE_URL=bouncer.url(database["NAME"]),
            REDIS_URL=redis.url,
            LOG_LEVEL="warning",
            **settings,
        ) as service,
    ):
        shoppers = run_shoppers(service.url, shirt.pk, mug.pk)
        rows = admin_export(service.url)
        clients = [c for c in bouncer.show("CLIENTS") if c["database"] == database["NAME"]]
        servers = [s for s in bouncer.show("SERVERS") if s["database"] == database["NAME"]]

    statuses = sum((shopper.statuses for shopper in shoppers), Counter())
    problems = [problem for shopper in shoppers for problem in shopper.problems]
    summary = f"statuses {dict(statuses)}; {len(problems)} problems: {problems[:5]}"
    print(summary)
    assert not problems, summary
    assert all(status < 500 for status in statuses), summary
    # The pool was shared: the workers' connections outnumbered the server connections.
    assert len(clients) >= WORKERS, clients
    assert len(servers) <= 2, servers

    shoppers_count = GUESTS + USERS
    checked_out = Cart.objects.filter(status=CartStatus.CHECKED_OUT)
    assert checked_out.count() == shoppers_count * ROUNDS
    assert set(CartItem.objects.values_list("product_id", "quantity")) == {(mug.pk, 3)}
    assert CartItem.objects.count() == shoppers_count * ROUNDS
    assert Product.objects.get(pk=mug.pk).stock == 1_000 - 3 * shoppers_count * ROUNDS
    assert Product.objects.get(pk=shirt.pk).stock == 1_000
    by_user = Counter(checked_out.exclude(user=None).values_list("user", flat=True))
    assert len(by_user) == USERS
    assert set(by_user.values()) == {ROUNDS}
    assert len(rows) == 1 + Cart.objects.count()  # the export streamed every cart
    assert {row[2] for row in rows[1:]} <= {CartStatus.CHECKED_OUT, CartStatus.ACTIVE}
    output = service.output()
    assert not re.search(r"Traceback|prepared statement|cursor .* does not exist", output), output
    return output


def test_default_settings_find_the_pooler_and_fail_no_request():
    output = assert_served_behind_pgbouncer()
    assert POOLER_FOUND in output  # and the service said to declare it


def test_the_declared_pool_mode_fails_no_request():
    output = assert_served_behind_pgbouncer(DATABASE_POOL_MODE="transaction")
    assert POOLER_FOUND not in output  # told, it checks nothing
