"""Webhooks against real faults: the service under gunicorn, `manage.py deliver_webhooks`
workers as processes of their own, a receiver on loopback (webhook_support.py) that is stopped,
slowed down or left waiting while a worker is SIGKILLed, PostgreSQL restarted, changes rolled
back, three workers at once.

After each: every event the database holds arrived on every endpoint, under its own
`webhook-id` (the same on each endpoint and each attempt), a cart's in `sequence` order; no
event of a rolled-back change; nothing twice unless a worker died or lost the database
mid-send, and then only the same event again right after itself.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from events.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.conftest import bearer
from tests.factories import ProductFactory, StaffFactory
from tests.live import Guest, gunicorn, http_ok, private_postgres, wait_for
from tests.resilience.webhook_support import (
    Worker,
    all_delivered,
    assert_delivered,
    assert_signed,
    deliveries_of,
    event_receiver,
    events_of,
    manage,
    start_worker,
    webhook_create,
    worker_env,
    workers,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

QUICK = ("--threads", "4", "--idle-seconds", "0.2")
DOWN_SECONDS = 8  # the receiver's outage; a delivery fails only after about 40 s of them


def service_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def shop(shoppers: list[Guest], products: list[int], adds: int, start: int = 0) -> None:
    """Each shopper adds `adds` products one after the other (each add an event of its cart),
    the shoppers side by side."""

    def run(shopper: Guest) -> None:
        for n in range(start, start + adds):
            response = shopper.add(products[n % len(products)])
            assert response.status_code == 201, response.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(run, shoppers))


def test_a_receiver_down_for_a_while_gets_every_event_in_order_once_back(tmp_path):
    database, env = service_database_url(), worker_env(service_database_url())
    products = [p.pk for p in ProductFactory.create_batch(3, stock=1000)]
    token, paths = bearer(StaffFactory()), ["/a", "/b"]
    with event_receiver() as receiver, gunicorn(**env) as service:
        secrets = {p: webhook_create(service.url, token, receiver.url(p))["secret"] for p in paths}
        shoppers = [Guest(service.url, timeout=30) for _ in range(4)]
        with workers(env, tmp_path, 1, *QUICK) as (worker,):
            shop(shoppers, products, 2)
            wait_for(lambda: all_delivered(database, len(paths)), what="the first events")

            receiver.stop()
            down = time.monotonic()
            shoppers += [Guest(service.url, timeout=30) for _ in range(2)]
            shop(shoppers, products, 3, start=2)
            refused = WebhookAttempt.objects.filter(error="connection refused")
            # Each cart's next event tried three times or more to each endpoint while it is down.
            wait_for(lambda: refused.count() >= len(shoppers) * len(paths) * 3, what="retries")
            time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down)))
            assert WebhookEndpoint.objects.filter(is_active=True).count() == len(paths)
            assert not WebhookDelivery.objects.exclude(status__in=["pending", "delivered"])

            receiver.start(receiver.port)  # back where it was
            wait_for(lambda: all_delivered(database, len(paths)), 40, "the rest")
        assert worker.process.returncode == 0  # SIGTERM: it finished, then stopped
    assert len(events_of(database)) == 6 * 3 + 4 * 2
    assert_delivered(receiver, database, paths)
    for path in paths:
        assert_signed(receiver, path, secrets[path])


def test_a_worker_killed_mid_batch_loses_nothing_and_a_redelivery_keeps_its_id(tmp_path):
    database, env = service_database_url(), worker_env(service_database_url())
    products = [p.pk for p in ProductFactory.create_batch(2, stock=1000)]
    with event_receiver(delay=1.5) as receiver, gunicorn(**env) as service:
        webhook_create(service.url, bearer(StaffFactory()), receiver.url("/hook"))
        guests = [Guest(service.url, timeout=30) for _ in range(12)]
        shop(guests, products, 2)  # 24 events, 12 carts

        # It claims four events (of four carts) and sends them at once: each takes 1.5 s.
        first = start_worker(env, tmp_path, "first", "--threads", "4")
        try:
            wait_for(lambda: len(receiver.received) >= 4, what="the first sends")
            with receiver.lock:  # sent, not answered: the worker is waiting for these
                cut_off = {d.webhook_id for d in receiver.received} - set(receiver.answered)
            first.kill()
        finally:
            first.stop()
        leased = WebhookDelivery.objects.filter(leased_until__isnull=False, status="pending")
        claimed = {f"evt_{pk}" for pk in leased.values_list("event_id", flat=True)}
        assert cut_off  # killed with its sends under way
        assert cut_off <= claimed

        receiver.delay = 0
        second = start_worker(env, tmp_path, "second", *QUICK)
        try:
            wait_for(lambda: all_delivered(database), 40, "every event")
        finally:
            assert second.stop() == 0
    received = assert_delivered(receiver, database, ["/hook"], repeats=True)
    assert {webhook_id for webhook_id, n in received.items() if n > 1} == cut_off
    for webhook_id, _, attempts, recorded in deliveries_of(database):
        # What the first worker claimed was claimed again, and recorded once, by the second.
        assert (attempts, recorded) == ((2, 1) if webhook_id in claimed else (1, 1))


SEED = """
import json
from carts.models import Product
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import RefreshToken
staff = get_user_model().objects.create_user(username="hooks", password=None, is_staff=True)
products = [Product.objects.create(sku=f"HOOK-{n}", name=f"Hook {n}", price="5.00",
                                   currency="EUR", stock=1000) for n in range(3)]
print("SEED " + json.dumps({"token": f"Bearer {RefreshToken.for_user(staff).access_token}",
                            "products": [p.pk for p in products]}))
"""


def failed_or_died(worker: Worker) -> bool:
    return bool(worker.count("webhook worker: database error")) or not worker.alive()


def test_postgres_restarted_under_a_worker_which_goes_on_and_delivers_everything(tmp_path):
    """PostgreSQL stops while the worker waits for the receiver's answers: it cannot record
    them, goes on, and once the database is back sends them again (same ids) and the rest."""
    with private_postgres() as postgres, event_receiver(delay=2.5) as receiver:
        env = worker_env(postgres.url, CONN_MAX_AGE="60", WEBHOOK_TIMEOUT_SECONDS="5")
        manage(env, "migrate", "--no-input")
        seeded = json.loads(manage(env, "shell", "-c", SEED).split("SEED ", 1)[1])
        token, products = seeded["token"], seeded["products"]
        with gunicorn(**env) as service:
            webhook_create(service.url, token, receiver.url("/hook"))
            shoppers = [Guest(service.url, timeout=30) for _ in range(6)]
            with workers(env, tmp_path, 1, *QUICK) as (worker,):
                shop(shoppers, products, 2)
                wait_for(lambda: receiver.received, what="the first sends")
                with receiver.lock:
                    under_way = {d.webhook_id for d in receiver.received}
                postgres.stop()
                assert not under_way & set(receiver.answered), "PostgreSQL took 2.5 s to stop"
                wait_for(lambda: under_way <= set(receiver.answered), what="the answers")
                wait_for(lambda: failed_or_died(worker), what="the worker's database error")
                assert worker.alive(), worker.output()[-3000:]
                receiver.delay = 0
                postgres.start()
                wait_for(lambda: http_ok(f"{service.url}/api/v1/health/ready"), what="ready")
                shop(shoppers, products, 2, start=2)
                wait_for(lambda: all_delivered(postgres.url), 40, "all")
                assert worker.alive()
            assert worker.process.returncode == 0
        assert len(events_of(postgres.url)) == 6 * 4
        received = assert_delivered(receiver, postgres.url, ["/hook"], repeats=True)
        assert under_way <= {webhook_id for webhook_id, n in received.items() if n > 1}
        assert "Traceback" not in worker.output()


REFUSE_AT_COMMIT = """
CREATE FUNCTION webhook_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM carts_product WHERE id = NEW.product_id AND sku LIKE 'ROLLBACK-%')
    THEN RAISE EXCEPTION 'refused at commit by a test' USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER webhook_test_refuse AFTER INSERT OR UPDATE ON carts_cartitem
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION webhook_test_refuse();
"""


@pytest.fixture
def refused_at_commit():
    """A line of a product whose SKU starts with ROLLBACK- fails its transaction at COMMIT,
    after every statement of the change, the event's INSERT included, has run."""
    with connection.cursor() as cursor:
        cursor.execute(REFUSE_AT_COMMIT)
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER webhook_test_refuse ON carts_cartitem")
        cursor.execute("DROP FUNCTION webhook_test_refuse()")


def test_a_change_rolled_back_is_never_announced(tmp_path, refused_at_commit):
    database, env = service_database_url(), worker_env(service_database_url())
    scarce, plenty = ProductFactory(stock=1), ProductFactory(stock=100)
    poison = ProductFactory(sku="ROLLBACK-1", stock=100)
    with event_receiver() as receiver, gunicorn(**env) as service:
        webhook_create(service.url, bearer(StaffFactory()), receiver.url("/hook"))
        with workers(env, tmp_path, 1, *QUICK):
            first, second = Guest(service.url, timeout=30), Guest(service.url, timeout=30)
            assert first.add(scarce.pk).status_code == 201
            refused = first.add(scarce.pk, 5)
            assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_stock")
            assert first.add(poison.pk).status_code == 503  # its commit failed
            assert first.add(plenty.pk).status_code == 201
            assert second.add(poison.pk).status_code == 503  # a new cart, rolled back
            assert second.add(plenty.pk).status_code == 201
            carts = [first.cart()["id"], second.cart()["id"]]
            wait_for(lambda: all_delivered(database), what="the events")
    assert_delivered(receiver, database, ["/hook"])
    told = {}
    for delivery in receiver.on("/hook"):
        cart = delivery.event["data"]["cart"]
        lines = {item["product"]["sku"]: item["quantity"] for item in cart["items"]}
        told.setdefault(cart["id"], []).append((delivery.event["type"], lines))
    assert told == {
        carts[0]: [
            ("cart.created", {scarce.sku: 1}),
            ("cart.updated", {scarce.sku: 1, plenty.sku: 1}),
        ],
        carts[1]: [("cart.created", {plenty.sku: 1})],
    }
    assert b"ROLLBACK-" not in b"".join(d.body for d in receiver.received)


def test_three_workers_deliver_every_event_once_in_order(tmp_path):
    """Half the events wait for the workers (a backlog they contend for), half come while
    they run."""
    database, env = service_database_url(), worker_env(service_database_url())
    products = [p.pk for p in ProductFactory.create_batch(3, stock=100_000)]
    options = ("--threads", "4", "--idle-seconds", "0.1")
    with event_receiver() as receiver, gunicorn(workers=3, **env) as service:
        webhook_create(service.url, bearer(StaffFactory()), receiver.url("/hook"))
        shoppers = [Guest(service.url, timeout=30) for _ in range(50)]
        shop(shoppers, products, 3)
        with workers(env, tmp_path, 3, *options) as running:
            shop(shoppers, products, 3, start=3)  # 300 events in all, of 50 carts
            wait_for(lambda: all_delivered(database), 60, "every event")
    assert [worker.process.returncode for worker in running] == [0, 0, 0]
    assert len(events_of(database)) == 300
    assert_delivered(receiver, database, ["/hook"])  # each once: none by two workers
    assert len(receiver.received) == 300
    tries = {(attempts, recorded) for _, _, attempts, recorded in deliveries_of(database)}
    assert tries == {(1, 1)}
    sent = [worker.count("webhook delivered") for worker in running]
    assert sum(sent) == 300
    assert min(sent) > 0, f"a worker sent nothing ({sent}): they did not run side by side"
