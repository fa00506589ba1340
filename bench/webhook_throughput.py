"""How fast the webhook workers deliver: events per second to a receiver on loopback (issue 18,
"Measure and report"; results in docs/performance.md).

`--events` cart events (five per cart, each with a cart of three lines, as the service writes
them) are seeded into the outbox, positioned by the relay, and given their deliveries to
`--endpoints` endpoints on one local receiver (a process of its own that answers 200 at once).
For each number of workers in `--workers`, that many `manage.py deliver_webhooks` processes
are started (`--threads` sends at once each; their log in bench-results/); once every one is
up, all the deliveries are made due at the same moment, and the clock runs until none is
pending. The deliveries are then reset for the next run. Each run checks that the receiver got
every delivery, and none twice. The receiver, the workers and PostgreSQL share the machine.

    .venv/bin/python -m bench.webhook_throughput [--events N] [--endpoints M]
        [--workers 1,3] [--threads 8] [--json FILE]

It takes `make bench`'s database and Redis database (BENCH_DATABASE_URL, BENCH_REDIS_URL, or
`--database-url` and `--redis-url`): the database is dropped, recreated and migrated, the
Redis database emptied.
"""

import argparse
import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg2
import redis

from bench import checkout_contention, harness
from bench.config import DATABASE_URL, REDIS_URL, RESULTS, SERVICE_ENV
from bench.data import recreate_database

# Run by manage.py shell: the endpoints, then the events, positioned (which makes their
# deliveries), their deliveries due only tomorrow, until the clock starts.
SEED = """
import uuid
from datetime import timedelta
from django.utils import timezone
from events.models import Event, WebhookDelivery
from events.relay import events_position
from events.webhooks import webhook_endpoint_create
for url in {urls!r}:
    webhook_endpoint_create(url=url, events=["*"])
now = timezone.now()
def document(cart, sequence):
    items = [{{"id": n, "quantity": sequence, "unit_price": "12.50",
               "line_total": f"{{12.5 * sequence:.2f}}",
               "product": {{"id": n, "sku": f"BENCH-{{n:05d}}", "name": f"Product {{n}}"}}}}
             for n in range(1, 4)]
    cart_doc = {{"id": str(cart), "status": "active", "items": items,
                "total_quantity": 3 * sequence, "subtotal": f"{{37.5 * sequence:.2f}}",
                "currency": "EUR", "version": sequence, "created_at": now.isoformat(),
                "updated_at": now.isoformat(), "checked_out_at": None, "total": None}}
    return {{"cart": cart_doc, "owner": {{"user_id": None}}}}
events = []
for _ in range({carts}):
    cart = uuid.uuid4()
    for sequence in range(1, 6):
        kind = "cart.created" if sequence == 1 else "cart.updated"
        events.append(Event(type=kind, cart_id=cart, sequence=sequence,
                            data=document(cart, sequence), created_at=now))
Event.objects.bulk_create(events, batch_size=1000)
while events_position():
    pass
print("SEEDED", WebhookDelivery.objects.update(next_attempt_at=now + timedelta(days=1)))
"""
RESET = (
    "DELETE FROM events_webhookattempt; UPDATE events_webhookdelivery SET status = 'pending', "
    "attempts = 0, leased_until = NULL, finished_at = NULL, "
    "next_attempt_at = now() + interval '1 day'"
)


def environment(database_url: str, redis_url: str) -> dict[str, str]:
    """The workers' environment: production's settings, loopback targets allowed."""
    return {
        **os.environ,
        **SERVICE_ENV,
        "DJANGO_SETTINGS_MODULE": "addtocart.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "info",  # as production: a line per delivery
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "WEBHOOK_WORKER_PORT": "0",
    }


def manage(env: dict[str, str], *args: str) -> str:
    """The project's manage.py, as the checkout benchmark runs it."""
    return checkout_contention.manage(harness.ROOT, env, *args)


def _receive(port: int) -> None:
    """The receiver's process: 200 to every POST; `GET /stats` answers how many came and how
    many distinct (path, webhook-id) since the last `GET /stats`, and starts counting anew."""
    seen: set[tuple[str, str]] = set()
    count = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                count[0] += 1
                seen.add((self.path, self.headers.get("webhook-id", "")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            with lock:
                body = json.dumps({"received": count[0], "distinct": len(seen)}).encode()
                count[0] = 0
                seen.clear()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    Server(("127.0.0.1", port), Handler).serve_forever()


@contextlib.contextmanager
def receiver() -> Iterator[str]:
    """The receiver's URL, while its process runs."""
    port = harness.free_port()
    process = multiprocessing.Process(target=_receive, args=(port,), daemon=True)
    process.start()
    try:
        harness.wait_until(lambda: stats(f"http://127.0.0.1:{port}") is not None, 10, "receiver")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.join(10)


def stats(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/stats", timeout=10) as answer:  # noqa: S310 (loopback)
        return json.loads(answer.read())


def workers(env: dict[str, str], count: int, threads: int, log: Path) -> list:
    """`count` worker processes, once each has written its first line."""
    options = ["--threads", str(threads), "--idle-seconds", "0.2"]
    with log.open("w") as out:
        started = [
            subprocess.Popen(
                [sys.executable, "manage.py", "deliver_webhooks", *options],
                cwd=harness.ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            for _ in range(count)
        ]
    harness.wait_until(
        lambda: log.read_text().count('"webhook worker started"') == count, 60, "the workers"
    )
    return started


def scalar(database_url: str, sql: str) -> int:
    with contextlib.closing(psycopg2.connect(database_url)) as db, db, db.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0] if cursor.description else cursor.rowcount


def run(env: dict, database_url: str, url: str, count: int, threads: int) -> dict:
    """One run of `count` workers over every delivery: seconds until none is pending, and
    what the receiver got."""
    scalar(database_url, RESET)
    stats(url)  # counting from here
    started = workers(env, count, threads, RESULTS / f"webhook-throughput-{count}.log")
    pending = "SELECT count(*) FROM events_webhookdelivery WHERE status <> 'delivered'"
    try:
        total = scalar(database_url, "UPDATE events_webhookdelivery SET next_attempt_at = now()")
        began = time.monotonic()
        while scalar(database_url, pending):
            if time.monotonic() - began > 600:
                sys.exit("the deliveries took over 10 minutes")
            time.sleep(0.05)
        seconds = time.monotonic() - began
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            process.wait(60)
    return {"workers": count, "deliveries": total, "seconds": round(seconds, 2), **stats(url)}


def measure(args: argparse.Namespace) -> dict:
    recreate_database(args.database_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    env = environment(args.database_url, args.redis_url)
    manage(env, "migrate", "--no-input", "-v", "0")
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    with receiver() as url:
        urls = [f"{url}/endpoint-{n}" for n in range(args.endpoints)]
        seed = SEED.format(urls=urls, carts=args.events // 5)
        seeded = int(manage(env, "shell", "-c", seed).split("SEEDED ", 1)[1].split()[0])
        print(f"Seeded {args.events // 5 * 5} events, {seeded} deliveries", flush=True)
        for count in args.workers:
            row = run(env, args.database_url, url, count, args.threads)
            row["deliveries_per_s"] = round(row["deliveries"] / row["seconds"], 1)
            row["events_per_s"] = round(row["deliveries"] / args.endpoints / row["seconds"], 1)
            rows.append(row)
            print(f"  {json.dumps(row)}", flush=True)
    return {
        "commit": checkout_contention.git_commit(harness.ROOT),
        "cpus": os.cpu_count(),
        "events": args.events // 5 * 5,
        "endpoints": args.endpoints,
        "threads": args.threads,
        "runs": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--endpoints", type=int, default=2)
    parser.add_argument("--workers", type=lambda s: [int(n) for n in s.split(",")], default=[1, 3])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    result = measure(args)
    for row in result["runs"]:
        print(
            f"{row['workers']} worker(s) x {args.threads} threads: {row['deliveries']} "
            f"deliveries in {row['seconds']} s, {row['deliveries_per_s']} deliveries/s, "
            f"{row['events_per_s']} events/s (each to {args.endpoints} endpoints); "
            f"received {row['received']}, {row['distinct']} distinct"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    complete = all(
        row["received"] == row["distinct"] == row["deliveries"] for row in result["runs"]
    )
    print("Every delivery received once." if complete else "Deliveries missing or repeated!")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
