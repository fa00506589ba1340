"""Three replicas behind a load balancer, sharing one PostgreSQL and one Redis, as deployed.

HAProxy stands in for the Kubernetes Service: round robin, a readiness check on
/api/v1/health/ready, and a failed connection retried on another server. It adds an
`X-Replica` header naming the replica that answered. Nothing a replica keeps in its own memory
may matter: carts, rate-limit counts and circuit breakers live in PostgreSQL and Redis.
"""

import contextlib
import csv
import io
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.db import connection
from django.db.models import Sum

from carts.models import Cart, CartItem, CartStatus
from tests.factories import ProductFactory
from tests.health.support import AUTHORIZED, HEALTH_TOKEN
from tests.live import (
    ROOT,
    JsonService,
    Redis,
    Service,
    free_port,
    gunicorn,
    private_redis,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPLICAS = 3


def service_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def haproxy_binary() -> str:
    """HAProxy, installed by scripts/ensure-debian-packages.sh if missing; skips if it cannot be."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "ensure-debian-packages.sh"), "haproxy=haproxy"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if result.returncode != 0 or not os.access(binary, os.X_OK):
        pytest.skip(f"HAProxy cannot be installed here: {result.stderr.strip()}")
    return binary


SERVER_CHECKS = (
    "inter 500ms fastinter 200ms downinter 500ms rise 1 fall 2 "
    "observe layer4 error-limit 1 on-error mark-down"
)


def haproxy_config(port: int, stats_port: int, replicas: list[Service]) -> str:
    """Round robin over the replicas. A refused or reset connection is retried (up to three
    times, each on another server): before a request reaches a worker it did nothing, and
    after, the `Idempotency-Key` clients send makes a repeat harmless. A server is taken out
    at its first refused connection (observe layer4) or two failed readiness checks."""
    servers = "\n".join(
        f"    server r{number} 127.0.0.1:{replica.port} check"
        for number, replica in enumerate(replicas)
    )
    return f"""\
global
    maxconn 512
    log stdout format raw local0 info

defaults
    mode http
    log global
    log-format "%ci:%cp %b/%s %ST retries=%rc %tsc %Tt ms %HM %HU"
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
    option http-buffer-request

frontend web
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk
    http-check send meth GET uri /api/v1/health/ready ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    http-response set-header X-Replica %[srv_name]
    default-server {SERVER_CHECKS}
{servers}

listen stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
"""


@dataclass
class Proxy:
    url: str
    stats_url: str
    log: Path

    def server_states(self) -> dict[str, str]:
        text = requests.get(f"{self.stats_url};csv", timeout=5).text.removeprefix("# ")
        return {
            row["svname"]: row["status"]
            for row in csv.DictReader(io.StringIO(text))
            if row["pxname"] == "replicas" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def retried(self) -> list[str]:
        """Log lines of requests HAProxy had to retry (`retries=+1`: once, on another server)."""
        return [
            line
            for line in self.log.read_text().splitlines()
            if "retries=" in line and "retries=0 " not in line
        ]


@contextlib.contextmanager
def haproxy(replicas: list[Service]) -> Iterator[Proxy]:
    binary = haproxy_binary()
    port, stats_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config, log = Path(tmp) / "haproxy.cfg", Path(tmp) / "haproxy.log"
        config.write_text(haproxy_config(port, stats_port, replicas))
        checked = subprocess.run(
            [binary, "-c", "-q", "-f", str(config)], capture_output=True, text=True, timeout=30
        )
        assert checked.returncode == 0, checked.stderr
        with log.open("w") as out:
            process = subprocess.Popen(
                [binary, "-db", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        proxy = Proxy(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{stats_port}/stats", log)
        try:
            wait_for(
                lambda: set(proxy.server_states().values()) == {"UP"}, what="haproxy's servers"
            )
            yield proxy
        finally:
            process.terminate()
            process.wait(timeout=10)


@dataclass
class Cluster:
    redis: Redis
    replicas: list[Service]
    proxy: Proxy


@contextlib.contextmanager
def cluster(**env: str) -> Iterator[Cluster]:
    """Three gunicorn replicas (two workers each) on one database and one private Redis."""
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(private_redis())
        shared = {
            "DATABASE_URL": service_database_url(),
            "REDIS_URL": redis.url,
            "HEALTH_TOKEN": HEALTH_TOKEN,
            **env,
        }
        starting = [gunicorn(workers=2, **shared) for _ in range(REPLICAS)]
        with ThreadPoolExecutor(REPLICAS) as pool:  # start together: each takes a second or two
            replicas = list(pool.map(stack.enter_context, starting))
        stack.callback(stop_together, replicas)
        yield Cluster(redis, replicas, stack.enter_context(haproxy(replicas)))


def stop_together(replicas: list[Service]) -> None:
    """SIGTERM every replica at once; each one's context then only waits for its end."""
    for replica in replicas:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(replica.process.pid, signal.SIGTERM)


class Guest:
    """A guest shopper; remembers the session id and which replica answered each request."""

    def __init__(self, base: str) -> None:
        self.base, self.session_id = base, ""
        self.http = requests.Session()
        self.replicas: list[str] = []

    def send(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"X-Session-ID": self.session_id, **kwargs.pop("headers", {})}
        response = self.http.request(
            method, f"{self.base}/api/v1/{path}", headers=headers, timeout=30, **kwargs
        )
        self.session_id = response.headers.get("X-Session-ID", self.session_id)
        self.replicas.append(response.headers.get("X-Replica", ""))
        return response

    def add(self, product_id: int, quantity: int = 1, key: str = "") -> requests.Response:
        headers = {"Idempotency-Key": key} if key else {}
        body = {"product_id": product_id, "quantity": quantity}
        return self.send("POST", "cart/items/", json=body, headers=headers)


def test_a_guest_cart_built_across_replicas_stays_one_cart():
    shirt, mug = ProductFactory(price="19.90"), ProductFactory(price="12.00")
    with cluster() as c:
        guest = Guest(c.proxy.url)
        answers = [guest.add(product.pk) for product in (shirt, mug, shirt, mug, shirt, shirt)]

        assert [answer.status_code for answer in answers] == [201] * 6
        assert len({answer.json()["id"] for answer in answers}) == 1
        assert len(set(guest.replicas)) == REPLICAS  # round robin: every replica served some
        cart = guest.send("GET", "cart/").json()
        assert {item["product"]["id"]: item["quantity"] for item in cart["items"]} == {
            shirt.pk: 4,
            mug.pk: 2,
        }
        assert cart["subtotal"] == "103.60"
        for replica in c.replicas:  # any replica, asked directly, serves the same cart
            direct = requests.get(
                f"{replica.url}/api/v1/cart/",
                headers={"X-Session-ID": guest.session_id},
                timeout=10,
            )
            assert direct.json() == cart
    assert Cart.objects.count() == 1


def start_of_a_window(seconds: int = 60, needed: float = 15) -> None:
    """Wait, if need be, until `needed` seconds are left in the rate limits' fixed window: a
    burst that crossed into the next window would be counted twice from zero."""
    left = seconds - time.time() % seconds
    if left < needed:
        time.sleep(left + 0.1)


def test_rate_limits_count_across_replicas():
    with cluster(THROTTLE_ANON="10/min") as c:
        guest = Guest(c.proxy.url)
        start_of_a_window()
        statuses = [guest.send("GET", "products/").status_code for _ in range(14)]

        assert statuses == [200] * 10 + [429] * 4
        assert len(set(guest.replicas[:10])) == REPLICAS  # the ten were spread over all three
        assert set(guest.replicas[10:]) == {f"r{n}" for n in range(REPLICAS)}  # all refuse
        throttled = guest.send("GET", "products/")
        assert throttled.headers["Content-Type"] == "application/problem+json"
        assert throttled.json()["code"] == "throttled"
        assert int(throttled.headers["Retry-After"]) > 0


class PaymentService(JsonService):
    """A stand-in payment service whose `POST /payments` answers after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay, self.calls = delay, 0
        self.called = threading.Event()
        super().__init__(self.respond)

    def respond(self, method: str, path: str, body: object | None) -> tuple[int, object]:
        if method == "GET":  # /health: up, at once
            return 200, {"status": "ok"}
        self.calls += 1
        self.called.set()
        time.sleep(self.delay)
        return 200, {"status": "approved", "id": f"auth-{self.calls}"}


def test_a_replica_stopped_under_load_finishes_its_requests_and_none_is_lost():
    """SIGTERM to one replica's gunicorn master while four shoppers add through HAProxy, and
    while that replica waits on a slow payment service for a checkout."""
    product = ProductFactory(stock=1_000_000)
    threads, adds_each = 4, 75
    with (
        PaymentService(delay=1.0) as payments,
        cluster(
            PAYMENT_SERVICE_URL=payments.url, CART_MAX_QUANTITY_PER_LINE="1000", LOG_LEVEL="info"
        ) as c,
    ):
        stopped = c.replicas[0]
        buyer = Guest(stopped.url)  # straight to the replica that will be stopped
        buyer_cart = buyer.add(product.pk, quantity=2).json()["id"]
        shoppers = [Guest(c.proxy.url) for _ in range(threads)]
        # A guest's first add opens its session, so it has no session to key a retry by.
        carts = [shopper.add(product.pk).json()["id"] for shopper in shoppers]

        results: list[tuple[int, str, bool]] = []  # (status, replica, replayed); 0: no answer

        def load(shopper: Guest, number: int) -> None:
            for n in range(adds_each):
                try:
                    answer = shopper.add(product.pk, key=f"load-{number}-{n}")
                except requests.RequestException as exc:
                    results.append((0, repr(exc), False))
                    continue
                replayed = answer.headers.get("Idempotent-Replayed") == "true"
                results.append((answer.status_code, shopper.replicas[-1], replayed))

        with ThreadPoolExecutor(threads + 1) as pool:
            running = [pool.submit(load, shopper, n) for n, shopper in enumerate(shoppers)]
            wait_for(lambda: len(results) >= adds_each, what="a quarter of the load")
            checkout = pool.submit(buyer.send, "POST", "cart/checkout/")
            assert payments.called.wait(10)  # the checkout is in flight on the stopped replica
            os.kill(stopped.process.pid, signal.SIGTERM)
            stopped_at = len(results)
            for future in running:
                future.result()
            checked_out = checkout.result()
        assert stopped.process.wait(timeout=30) == 0

        statuses = Counter(status for status, _, _ in results)
        served = Counter(replica for _, replica, _ in results)
        after_stop = Counter(replica for _, replica, _ in results[stopped_at:])
        replayed = sum(1 for _, _, was_replayed in results if was_replayed)
        summary = (
            f"{len(results)} adds, statuses {dict(statuses)}, by replica {dict(served)}, "
            f"after SIGTERM {dict(after_stop)}, retried by haproxy {len(c.proxy.retried())}, "
            f"answered from an idempotency record {replayed}"
        )
        print(summary)
        assert statuses == {201: threads * adds_each}, summary
        assert served["r0"] > 0  # the stopped replica was taking its share until the signal
        assert checked_out.status_code == 200, checked_out.text  # finished, though stopping
        assert c.proxy.server_states()["r0"].startswith("DOWN")
        log = stopped.output()
        assert "Handling signal: term" in log
        assert "Shutting down: Master" in log
        assert "WORKER TIMEOUT" not in log
        assert "Traceback" not in log

    assert Cart.objects.get(pk=buyer_cart).status == CartStatus.CHECKED_OUT
    for cart in carts:  # every 201 is in the database, once: 1 + 75 units in each cart
        units = CartItem.objects.filter(cart=cart).aggregate(units=Sum("quantity"))["units"]
        assert units == 1 + adds_each


def test_a_circuit_opened_by_one_replica_is_open_for_all():
    product = ProductFactory()
    with (
        PaymentService(delay=5) as payments,
        cluster(
            PAYMENT_SERVICE_URL=payments.url,
            EXTERNAL_TIMEOUT_MS="200",
            BREAKER_MIN_CALLS="3",
            BREAKER_RESET_SECONDS="60",
            BUSINESS_METRICS_CACHE_SECONDS="0",  # no figure reused: read the breaker afresh
            HEALTH_CACHE_SECONDS="0",
        ) as c,
    ):
        first, *others = c.replicas

        def breaker(replica: Service) -> str:
            answer = requests.get(
                f"{replica.url}/api/v1/health/external", headers=AUTHORIZED, timeout=10
            )
            return answer.json()["services"]["payment"]["breaker"]

        assert [breaker(replica) for replica in c.replicas] == ["closed"] * REPLICAS
        guest = Guest(first.url)  # every request to the first replica, on its own port
        assert guest.add(product.pk).status_code == 201
        for _ in range(3):
            failed = guest.send("POST", "cart/checkout/")
            assert failed.status_code == 503
            assert failed.json()["code"] == "payment_unavailable"
        assert payments.calls == 3

        for replica in others:
            assert breaker(replica) == "open"
            scrape = requests.get(f"{replica.url}/metrics", headers=AUTHORIZED, timeout=10).text
            assert 'addtocart_circuit_breaker_state{service="payment",state="open"} 1.0' in scrape
            refused_at_once = Guest(replica.url)
            assert refused_at_once.add(product.pk).status_code == 201
            started = time.monotonic()
            answer = refused_at_once.send("POST", "cart/checkout/")
            assert answer.status_code == 503
            assert answer.json()["code"] == "payment_unavailable"
            assert time.monotonic() - started < 0.2  # no wait for the 200 ms timeout
        assert payments.calls == 3  # the other replicas never called the payment service
    assert not Cart.objects.filter(status=CartStatus.CHECKED_OUT).exists()
