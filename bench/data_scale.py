"""Business metrics and retention at scale: generate N carts in PostgreSQL, time the reads.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/addtocart_scale \\
        .venv/bin/python -m bench.data_scale --carts 100000 [--purge]

Recreates the database named in DATABASE_URL (it must end in `_scale`, as a guard), generates
guest carts over the last 60 days (about 80 % with items, 3 lines on average; a third of
those checked out, a quarter idle long enough to count as abandoned), then times
`business_metrics` for 24 h / 7 d / 30 d, the `/dashboard/` page and the staff JSON, and prints
EXPLAIN ANALYZE of the heaviest statements. `--purge` then ages every abandoned and merged cart
and times `purge_carts` with the longest single batch (the longest any lock is held).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta

GENERATE = """
INSERT INTO carts_product (sku, name, price, currency, stock, is_active, created_at, updated_at)
SELECT 'SCALE-' || g, 'Scale product ' || g, (1 + g % 97)::numeric(12, 2) + 0.99, 'EUR',
       1000000, true, now(), now()
FROM generate_series(1, 200) AS g;

CREATE TEMP TABLE plan AS
SELECT g, gen_random_uuid() AS id,
       now() - random() * interval '60 days' AS created,
       random() AS fate
FROM generate_series(1, %(carts)s) AS g;

INSERT INTO carts_cart (id, user_id, session_id, status, currency, version, created_at,
                        updated_at, checked_out_at, first_item_added_at, total)
SELECT id, NULL, 'scale-' || g,
       CASE WHEN fate < 0.27 THEN 'checked_out'
            WHEN fate < 0.47 THEN 'abandoned'
            WHEN fate < 0.52 THEN 'merged'
            ELSE 'active' END,
       'EUR', 1, created,
       CASE WHEN fate < 0.27 THEN created + interval '20 minutes'
            WHEN fate < 0.60 THEN created + interval '5 minutes'
            ELSE least(now(), created + interval '3 hours') END,
       CASE WHEN fate < 0.27 THEN created + interval '20 minutes' END,
       CASE WHEN fate < 0.80 THEN created END,
       CASE WHEN fate < 0.27 THEN 0 END
FROM plan;

INSERT INTO carts_cartitem (cart_id, product_id, quantity, unit_price, created_at, updated_at)
SELECT p.id, products.id, 1 + (p.g + k) % 4, products.price, p.created, p.created
FROM plan AS p
CROSS JOIN LATERAL generate_series(1, 1 + (p.g % 5)) AS k
JOIN carts_product AS products ON products.sku = 'SCALE-' || (1 + (p.g * 7 + k * 13) % 200)
WHERE p.fate < 0.80;

UPDATE carts_cart AS c SET total = s.total
FROM (SELECT cart_id, sum(quantity * unit_price) AS total FROM carts_cartitem GROUP BY cart_id) AS s
WHERE c.id = s.cart_id AND c.status = 'checked_out';

ANALYZE;
"""


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], check=True, env=os.environ)


def recreate_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    if not name.endswith("_scale"):
        sys.exit("DATABASE_URL must name a database ending in _scale: it is dropped and recreated.")
    server = url.rsplit("/", 1)[0] + "/postgres"
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", server, "-q", "-c", sql], check=True)


def timed(call, runs: int = 5) -> float:
    """Median wall time in milliseconds (the first call warms caches and is not counted)."""
    call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--carts", type=int, default=100_000)
    parser.add_argument("--purge", action="store_true")
    parser.add_argument("--keep", action="store_true", help="reuse the generated database")
    options = parser.parse_args()

    os.environ.setdefault("LOG_LEVEL", "error")
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret")
    os.environ.setdefault("JWT_SIGNING_KEY", "bench-only-jwt-key")
    os.environ["DJANGO_SETTINGS_MODULE"] = "addtocart.settings"
    url = os.environ["DATABASE_URL"]
    if not options.keep:
        recreate_database(url)
        manage("migrate", "--no-input", "-v", "0")

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from carts.analytics import business_metrics
    from carts.models import Cart, CartItem

    if not options.keep:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(GENERATE.replace("%(carts)s", str(options.carts)))
        print(f"generated {options.carts} carts in {time.perf_counter() - started:.1f} s")
    print(f"carts: {Cart.objects.count()}, lines: {CartItem.objects.count()}")

    now = timezone.now()
    print("\n| period | business_metrics (median ms) |\n| --- | --- |")
    for label, span in (
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("30d", timedelta(days=30)),
    ):
        ms = timed(lambda span=span: business_metrics(start=now - span, end=now))
        print(f"| {label} | {ms:.0f} |")

    staff, _ = get_user_model().objects.get_or_create(
        username="scale-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(staff)
    for path in ("/dashboard/?period=30d", "/api/v1/metrics/business/?period=30d"):
        status = client.get(path).status_code
        ms = timed(lambda path=path: client.get(path))
        print(f"GET {path}: {status}, median {ms:.0f} ms")

    month = now - timedelta(days=30)
    with connection.cursor() as cursor:
        for sql in (
            "SELECT count(*), count(*) FILTER (WHERE first_item_added_at IS NOT NULL), "
            "count(*) FILTER (WHERE status = 'checked_out'), avg(total), sum(total) "
            "FROM carts_cart WHERE created_at >= %s AND created_at < %s",
            "SELECT product_id, sum(quantity) FROM carts_cartitem i JOIN carts_cart c "
            "ON c.id = i.cart_id WHERE c.created_at >= %s AND c.created_at < %s "
            "GROUP BY product_id ORDER BY 2 DESC LIMIT 10",
        ):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql, [month, now])
            print("\n" + "\n".join(row[0] for row in cursor.fetchall()))

    if options.purge:
        purge(now)


def purge(now) -> None:
    from django.db import connection

    from carts.services import cart_purge_old

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE carts_cart SET updated_at = now() - interval '400 days' "
            "WHERE status IN ('abandoned', 'merged')"
        )
        aged = cursor.rowcount
    longest = 0.0
    deleted = 0
    started = time.perf_counter()
    while True:
        batch_started = time.perf_counter()
        count = cart_purge_old(older_than=timedelta(days=365), batch_size=1000, max_batches=1)
        longest = max(longest, time.perf_counter() - batch_started)
        deleted += count
        if not count:
            break
    total = time.perf_counter() - started
    print(
        f"\npurge: {deleted} of {aged} aged carts deleted in {total:.1f} s, "
        f"longest batch (lock held) {longest * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
