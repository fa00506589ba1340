"""Real processes and a real receiver for the webhook fault tests (test_webhook_faults.py).

- `EventReceiver`: an HTTP server on loopback that records every delivery it is sent, on a
  port it can stop and take again, answering after `delay` seconds (a slow receiver);
- `Worker`: one `manage.py deliver_webhooks` process, its JSON log lines read back;
- `Shopper`: a guest changing a cart through the live service's API;
- `events_of` and `deliveries_of`: what the database holds, read with psycopg2;
- `assert_delivered`: every event received on each endpoint, with its own id, in order per cart.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg2
import requests
from standardwebhooks.webhooks import Webhook

from tests.live import ROOT, service_env, wait_for

# Retries come within seconds (each ±20 %), and a delivery fails only after about 40 s.
RETRY_SCHEDULE = "1s,1s,2s,2s,3s,3s,5s,10s,20s"
TIMEOUT_SECONDS = 3
LEASE_MARGIN_SECONDS = 1  # a dead worker's claims are free again 4 s after it took them


def manage(env: dict[str, str], *args: str) -> str:
    """Run a manage.py command as its own process; what it printed."""
    command = [sys.executable, "manage.py", *args]
    return subprocess.check_output(command, cwd=ROOT, env=env, text=True, timeout=120)


def worker_env(database_url: str, **overrides: str) -> dict[str, str]:
    """What the service and the workers run with: the same database, loopback receivers
    allowed, no worker HTTP port, short retries, timeouts and leases, info log lines."""
    settings = {
        "DATABASE_URL": database_url,
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "WEBHOOK_WORKER_PORT": "0",
        "WEBHOOK_RETRY_SCHEDULE": RETRY_SCHEDULE,
        "WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
        "WEBHOOK_LEASE_MARGIN_SECONDS": str(LEASE_MARGIN_SECONDS),
        "LOG_LEVEL": "info",
    }
    return service_env(**{**settings, **overrides})


@dataclass(frozen=True)
class Received:
    """One delivery as the receiver got it."""

    path: str
    webhook_id: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    @property
    def cart(self) -> str:
        return self.event["data"]["cart"]["id"]

    @property
    def sequence(self) -> int:
        return self.event["sequence"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # several workers' threads connect at once

    def handle_error(self, request, client_address) -> None:
        pass  # a worker killed mid-request hangs up: what some tests do


class EventReceiver:
    """Records each POST in `received`, in arrival order, then answers 200 after `delay` s;
    `answered` lists the ids of the answers sent. `stop()` closes the port; `start(port)` takes it
    again."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.received: list[Received] = []
        self.answered: list[str] = []
        self.lock = threading.Lock()
        self.server: _Server | None = None
        self.port = 0

    def start(self, port: int = 0) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                delivery = Received(self.path, headers.get("webhook-id", ""), headers, body)
                with receiver.lock:
                    receiver.received.append(delivery)
                time.sleep(receiver.delay)
                payload = b'{"received": true}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                with receiver.lock:
                    receiver.answered.append(delivery.webhook_id)

            def log_message(self, *args) -> None:
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_port
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [delivery for delivery in self.received if delivery.path == path]


@contextlib.contextmanager
def event_receiver(delay: float = 0.0) -> Iterator[EventReceiver]:
    receiver = EventReceiver(delay)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


class Worker:
    """`manage.py deliver_webhooks` in a process of its own, its output in `log`."""

    def __init__(self, env: dict[str, str], log: Path, *options: str) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "deliver_webhooks", *options],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def messages(self) -> list[str]:
        """The `message` of each JSON line the worker wrote."""
        found = []
        for line in self.output().splitlines():
            with contextlib.suppress(ValueError):
                found.append(json.loads(line).get("message", ""))
        return found

    def count(self, message: str) -> int:
        return self.messages().count(message)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, seconds: float = 30) -> int:
        """SIGTERM (the sends under way finish), SIGKILL if it outlives `seconds`; the exit
        status."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode


@contextlib.contextmanager
def workers(env: dict[str, str], folder: Path, count: int = 1, *options: str) -> Iterator[list]:
    """`count` workers, each started (its first log line written); all stopped at the end."""
    started = [Worker(env, folder / f"worker-{n}.log", *options) for n in range(count)]
    try:
        for worker in started:
            wait_for(lambda w=worker: w.count("webhook worker started"), what="the worker")
        yield started
    finally:
        for worker in started:
            worker.stop()


def start_worker(env: dict[str, str], folder: Path, name: str, *options: str) -> Worker:
    worker = Worker(env, folder / f"{name}.log", *options)
    wait_for(lambda: worker.count("webhook worker started"), what=f"the worker {name}")
    return worker


def webhook_create(base: str, token: str, url: str) -> dict:
    """An endpoint for every event type, made through the staff API; the answer (its secret)."""
    response = requests.post(
        f"{base}/api/v1/webhooks/",
        json={"url": url, "events": ["*"]},
        headers={"Authorization": token},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _rows(database_url: str, sql: str) -> list[tuple]:
    with contextlib.closing(psycopg2.connect(database_url)) as db, db.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def events_of(database_url: str) -> dict[str, tuple[str, int, str]]:
    """Every event in the database: {webhook-id: (cart id, sequence, type)}."""
    rows = _rows(database_url, "SELECT id, cart_id::text, sequence, type FROM events_event")
    return {f"evt_{pk}": (cart, sequence, kind) for pk, cart, sequence, kind in rows}


def deliveries_of(database_url: str) -> list[tuple[str, str, int, int]]:
    """Every delivery: (webhook-id, status, attempts claimed, attempts recorded)."""
    return _rows(
        database_url,
        "SELECT 'evt_' || d.event_id, d.status, d.attempts, "
        "(SELECT count(*) FROM events_webhookattempt a WHERE a.delivery_id = d.id) "
        "FROM events_webhookdelivery d ORDER BY d.id",
    )


def all_delivered(database_url: str, endpoints: int = 1) -> bool:
    """Every event has its deliveries to the `endpoints`, all delivered (the receiver
    answered each: `assert_delivered` then checks what it received)."""
    ((events, delivered, others),) = _rows(
        database_url,
        "SELECT (SELECT count(*) FROM events_event), "
        "count(*) FILTER (WHERE status = 'delivered'), "
        "count(*) FILTER (WHERE status <> 'delivered') FROM events_webhookdelivery",
    )
    return events > 0 and others == 0 and delivered == events * endpoints


def assert_delivered(
    receiver: EventReceiver, database_url: str, paths: list[str], *, repeats: bool = False
) -> Counter[str]:
    """Each path received every event of the database, each under its own id (the body's,
    signed for the event's cart and sequence), a cart's in its sequence order (a repeat, when
    `repeats` are allowed, right after the first); returns how often each id came on each
    path, summed."""
    events = events_of(database_url)
    assert events, "no event to deliver: the test made no change"
    counts: Counter[str] = Counter()
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for path in paths:
        got = receiver.on(path)
        ids = Counter(d.webhook_id for d in got)
        assert set(ids) == set(events), f"{path}: missing {set(events) - set(ids)}"
        if not repeats:
            assert ids.most_common(1)[0][1] == 1, f"{path}: received twice: {ids.most_common(3)}"
        by_cart: dict[str, list[int]] = defaultdict(list)
        for delivery in got:
            event = delivery.event
            bodies[delivery.webhook_id].add(delivery.body)
            assert event["id"] == delivery.webhook_id
            cart, sequence, kind = events[delivery.webhook_id]
            assert (delivery.cart, delivery.sequence, event["type"]) == (cart, sequence, kind)
            arrived = by_cart[delivery.cart]
            if not (repeats and arrived and arrived[-1] == delivery.sequence):
                arrived.append(delivery.sequence)
        for cart, arrived in by_cart.items():
            assert arrived == list(range(1, len(arrived) + 1)), f"{path}: {cart} got {arrived}"
        counts.update(ids)
    changed = {webhook_id: len(body) for webhook_id, body in bodies.items() if len(body) > 1}
    assert not changed, f"sent with other bodies under the same id: {changed}"
    return counts


def assert_signed(receiver: EventReceiver, path: str, secret: str) -> None:
    """Every delivery on `path` carries a valid Standard Webhooks signature by `secret`."""
    for delivery in receiver.on(path):
        Webhook(secret).verify(delivery.body, delivery.headers)
