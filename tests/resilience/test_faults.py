"""Break real dependencies under a running service and watch it cope (and recover by itself)."""

import os
import signal
import subprocess
import sys

import pytest
import requests
from django.db import connection

from tests.factories import ProductFactory
from tests.health.support import AUTHORIZED, HEALTH_TOKEN
from tests.live import ROOT, Guest, gunicorn, private_postgres, private_redis, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def service_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def status_of(url: str) -> int:
    return requests.get(url, timeout=15).status_code


def test_carts_keep_working_while_redis_is_down_and_recover_when_it_returns():
    product = ProductFactory()
    with (
        private_redis() as redis,
        gunicorn(
            REDIS_URL=redis.url, DATABASE_URL=service_database_url(), HEALTH_TOKEN=HEALTH_TOKEN
        ) as service,
    ):
        guest = Guest(service.url)
        assert guest.add(product.pk).status_code == 201

        redis.stop()
        assert guest.add(product.pk).status_code == 201
        assert guest.cart()["items"][0]["quantity"] == 2
        wait_for(lambda: status_of(f"{service.url}/api/v1/health/redis") == 503, what="redis down")
        assert status_of(f"{service.url}/api/v1/health/ready") == 200
        assert (
            requests.get(
                f"{service.url}/api/v1/health/detailed", headers=AUTHORIZED, timeout=15
            ).json()["status"]
            == "degraded"
        )

        redis.start()
        wait_for(lambda: status_of(f"{service.url}/api/v1/health/redis") == 200, what="redis back")
        assert guest.add(product.pk).status_code == 201
        assert guest.cart()["items"][0]["quantity"] == 3
    assert "Traceback" not in service.output()


def test_a_hung_redis_slows_requests_but_fails_none():
    product = ProductFactory()
    with (
        private_redis() as redis,
        gunicorn(REDIS_URL=redis.url, DATABASE_URL=service_database_url()) as service,
    ):
        guest = Guest(service.url)
        assert guest.add(product.pk).status_code == 201
        os.kill(redis.process.pid, signal.SIGSTOP)
        try:
            assert guest.add(product.pk).status_code == 201
            assert status_of(f"{service.url}/api/v1/health/redis") == 503
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)
        assert guest.cart()["items"][0]["quantity"] == 2


def test_flushall_loses_no_cart_line_or_quantity():
    products = ProductFactory.create_batch(3)
    with (
        private_redis() as redis,
        gunicorn(REDIS_URL=redis.url, DATABASE_URL=service_database_url()) as service,
    ):
        guests = [Guest(service.url) for _ in range(3)]
        for number, guest in enumerate(guests, start=1):
            for product in products[:number]:
                assert guest.add(product.pk, quantity=number).status_code == 201
        before = [guest.cart() for guest in guests]

        assert redis.cli("FLUSHALL").strip() == "OK"

        assert [guest.cart() for guest in guests] == before
        checkout = requests.post(
            f"{service.url}/api/v1/cart/checkout/",
            headers={"X-Session-ID": guests[2].session_id},
            timeout=15,
        )
        assert checkout.status_code == 200
        assert checkout.json()["total_quantity"] == 9


def manage(database_url: str, *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": database_url},
    )


def test_database_outage_answers_503_problems_and_recovers_by_itself():
    with private_postgres() as postgres:
        manage(postgres.url, "migrate", "--no-input")
        manage(postgres.url, "load_demo_catalog")
        with gunicorn(DATABASE_URL=postgres.url, CONN_MAX_AGE="60") as service:
            guest = Guest(service.url)
            assert guest.add(1).status_code == 201

            postgres.stop()
            refused = guest.add(1)
            assert refused.status_code == 503
            assert refused.headers["Content-Type"] == "application/problem+json"
            assert refused.json()["code"] == "database_unavailable"
            assert "Retry-After" in refused.headers
            wait_for(
                lambda: status_of(f"{service.url}/api/v1/health/ready") == 503, what="not ready"
            )
            assert status_of(f"{service.url}/api/v1/health/live") == 200
            assert status_of(f"{service.url}/api/v1/health/database") == 503

            postgres.start()
            wait_for(lambda: status_of(f"{service.url}/api/v1/health/ready") == 200, what="ready")
            assert guest.add(1).status_code == 201
            assert guest.cart()["items"][0]["quantity"] == 2
        assert "Traceback" not in service.output()
