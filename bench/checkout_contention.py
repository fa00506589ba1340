"""Six shoppers check out the same product at once while the payment service takes 2 s to
authorise (issue 16, "Measure and report"; results in docs/performance.md).

The service runs as production runs it (gunicorn, 3 sync workers, PostgreSQL, Redis), with
PAYMENT_SERVICE_URL pointing at a stub on loopback (bench/payment_stub.py) that approves
every payment after `--delay` seconds. Each run measures two things:

1. six shoppers: six signed-in shoppers, each with 1 unit of the same product in their cart,
   send POST cart/checkout/ at the same moment; the total is the time until the last answer.
   Half a second later a seventh shopper adds that product to their cart: its time to answer.
   Every worker is busy with a checkout then, so it waits for a worker as well as for locks.
2. one worker free: the same with two checkouts, so that a worker is free for the seventh
   shopper's add and its time is what the checkouts cost it (their locks).

    .venv/bin/python -m bench.checkout_contention [--root PATH] [--runs N] [--json FILE]

`--root` is the project to serve (default: this one): a worktree of an older commit measures
that code with this script (`git worktree add /tmp/before <commit>`, then `--root
/tmp/before`). It takes `make bench`'s database and Redis database (BENCH_DATABASE_URL,
BENCH_REDIS_URL, or `--database-url` and `--redis-url`): the database is dropped, recreated
and migrated by the served project's own migrations, the Redis database emptied.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis

from bench import harness
from bench.config import DATABASE_URL, REDIS_URL, RESULTS, SERVICE_ENV
from bench.data import recreate_database
from bench.payment_stub import payment_stub

STOCK = 100
SHOPPERS = 6
ADD_AFTER = 0.5  # seconds from the checkouts to the seventh shopper's add
# Run by the served project's manage.py shell (its own models): a product, and signed-in
# shoppers' access tokens.
SEED = """
import json
from decimal import Decimal
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken
from carts.models import Product
product = Product.objects.create(sku="HOT-1", name="Hot product", price=Decimal("25.00"),
                                 stock={stock})
users = [get_user_model().objects.create_user(username=f"contention-{{n}}", password=None)
         for n in range({users})]
print("SEED " + json.dumps({{"product": product.pk,
                             "tokens": [str(AccessToken.for_user(u)) for u in users]}}))
"""
STOCK_LEFT = """
from carts.models import Product
print("STOCK", Product.objects.get(sku="HOT-1").stock)
"""


def environment(root: Path, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The benchmark's service environment, with production's settings module."""
    return {
        **os.environ,
        **SERVICE_ENV,
        "DJANGO_SETTINGS_MODULE": "addtocart.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "warning",
        "PYTHONPATH": str(root),
        **extra,
    }


def manage(root: Path, env: dict[str, str], *args: str) -> str:
    """Run the served project's manage.py; its output."""
    finished = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if finished.returncode:
        sys.exit(f"manage.py {args[0]} failed:\n{finished.stdout}\n{finished.stderr}")
    return finished.stdout


def shell(root: Path, env: dict[str, str], code: str, marker: str) -> str:
    """What `code` printed after `marker`, run in the served project's manage.py shell."""
    for line in manage(root, env, "shell", "-c", code).splitlines():
        if line.startswith(marker + " "):
            return line.removeprefix(marker + " ")
    sys.exit(f"manage.py shell printed no {marker} line")


class Client:
    """One shopper on its own connection, as through the ingress."""

    def __init__(self, url: str, token: str, number: int) -> None:
        self.port = int(url.rsplit(":", 1)[1])
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": f"10.0.0.{number + 1}",
        }

    def post(self, path: str, body: dict, **headers: str) -> tuple[int, float, float]:
        """The answer's status, and when the request was sent and answered (monotonic)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.connect()
            sent = time.monotonic()
            connection.request("POST", path, json.dumps(body), self.headers | headers)
            response = connection.getresponse()
            response.read()
            return response.status, sent, time.monotonic()
        finally:
            connection.close()

    def add(self, product: int) -> tuple[int, float, float]:
        return self.post("/api/v1/cart/items/", {"product_id": product, "quantity": 1})

    def checkout(self) -> tuple[int, float, float]:
        key = str(uuid.uuid4())  # as a client would: one key per checkout it means to make
        return self.post("/api/v1/cart/checkout/", {}, **{"Idempotency-Key": key})


def contend(url: str, tokens: list[str], product: int, checkouts: int) -> dict:
    """`checkouts` shoppers (the first tokens) check out at once; ADD_AFTER s later the next
    one adds the product. Times in seconds from the checkouts' start."""
    shoppers = [Client(url, token, n) for n, token in enumerate(tokens[: checkouts + 1])]
    for shopper in shoppers[:checkouts]:
        status, _, _ = shopper.add(product)
        if status != 201:
            sys.exit(f"filling a cart answered {status}")
    results: dict[int, tuple[int, float, float]] = {}
    start = threading.Barrier(checkouts + 2)

    def checkout(n: int) -> None:
        start.wait()
        results[n] = shoppers[n].checkout()

    def add() -> None:
        start.wait()
        time.sleep(ADD_AFTER)
        results[checkouts] = shoppers[checkouts].add(product)

    threads = [threading.Thread(target=checkout, args=(n,)) for n in range(checkouts)]
    threads.append(threading.Thread(target=add))
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    answers = [results[n] for n in range(checkouts)]
    add_status, add_sent, add_done = results[checkouts]
    return {
        "checkouts": checkouts,
        "total_s": round(max(done for _, _, done in answers) - began, 2),
        "checkout_answers_s": sorted(round(done - began, 2) for _, _, done in answers),
        "checkout_statuses": sorted(status for status, _, _ in answers),
        "add_s": round(add_done - add_sent, 3),
        "add_status": add_status,
    }


def measure(root: Path, runs: int, delay: float, database_url: str, redis_url: str) -> dict:
    recreate_database(database_url)
    redis.Redis.from_url(redis_url).flushdb()
    metrics_dir = tempfile.mkdtemp(prefix="addtocart-contention-prometheus-")
    per_run = SHOPPERS + 1 + 2 + 1
    with payment_stub(delay) as stub:
        env = environment(
            root,
            database_url,
            redis_url,
            PAYMENT_SERVICE_URL=stub.url,
            WEB_CONCURRENCY="3",
            PROMETHEUS_MULTIPROC_DIR=metrics_dir,
            GUNICORN_ACCESS_LOG="",
        )
        manage(root, env, "migrate", "--no-input", "-v", "0")
        seeded = json.loads(
            shell(root, env, SEED.format(stock=STOCK, users=per_run * runs), "SEED")
        )
        tokens, product = seeded["tokens"], seeded["product"]
        log = RESULTS / "contention.log"
        rows = []
        try:
            with harness.gunicorn(env, log, workers=3, cwd=root) as server:
                for number in range(runs):
                    mine = tokens[number * per_run : (number + 1) * per_run]
                    six = contend(server.url, mine[: SHOPPERS + 1], product, SHOPPERS)
                    free = contend(server.url, mine[SHOPPERS + 1 :], product, 2)
                    rows.append({"six": six, "one_worker_free": free})
                    print(f"  run {number + 1}: {json.dumps(rows[-1])}", flush=True)
        except harness.NotReady as error:
            sys.exit(f"{error}; see {log}")
        finally:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        stock = int(shell(root, env, STOCK_LEFT, "STOCK"))
        authorisations = stub.authorisations
    sold = (SHOPPERS + 2) * runs
    return {
        "root": str(root),
        "commit": git_commit(root),
        "runs": rows,
        "payment_delay_s": delay,
        "workers": 3,
        "six_total_s": statistics.median(r["six"]["total_s"] for r in rows),
        "six_add_s": statistics.median(r["six"]["add_s"] for r in rows),
        "free_add_s": statistics.median(r["one_worker_free"]["add_s"] for r in rows),
        "stock_left": stock,
        "stock_expected": STOCK - sold,
        "payments_asked": authorisations,
        "payments_expected": sold,
    }


def git_commit(root: Path) -> str:
    finished = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return finished.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=harness.ROOT, help="the project to serve")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--delay", type=float, default=2.0, help="the payment stub's wait, s")
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    root = args.root.resolve()
    print(f"Serving {root} (commit {git_commit(root)}), payment delay {args.delay} s", flush=True)
    result = measure(root, args.runs, args.delay, args.database_url, args.redis_url)
    print(
        f"Six shoppers: {result['six_total_s']} s in all; the seventh shopper's add "
        f"{result['six_add_s']} s (every worker busy), {result['free_add_s']} s with a worker "
        f"free; stock left {result['stock_left']} (expected {result['stock_expected']}), "
        f"{result['payments_asked']} payments asked (expected {result['payments_expected']}); "
        f"medians of {args.runs} run(s)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    ok = all(
        r[k]["checkout_statuses"] == [200] * r[k]["checkouts"] and r[k]["add_status"] == 201
        for r in result["runs"]
        for k in ("six", "one_worker_free")
    )
    return 0 if ok and result["stock_left"] == result["stock_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
