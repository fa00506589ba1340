"""Business metrics and retention at scale: generate N carts in PostgreSQL, time the reads.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/addtocart_scale \\
        .venv/bin/python -m bench.data_scale --carts 100000 [--purge] [--keep]

Recreates the database named in DATABASE_URL (it must end in `_scale`, as a guard), migrates,
generates guest carts over the last 60 days (about 80 % with items, 3 lines on average, the
first product twice in two sizes; a third of those checked out, a quarter idle long enough to
count as abandoned; 200 products, a third of them short of the units in active carts), then runs
VACUUM ANALYZE, as autovacuum would have on a long-lived database (statistics, and the
visibility map that index-only scans need). `--keep` reuses the database as it is.

It prints a Markdown summary: the budgets (issue: under 300 ms at 100 000 carts, under 2 s
at 1 000 000), the median time of `business_metrics`, `GET /dashboard/` (this period and the
one before) and `GET /api/v1/metrics/business/` for 24h, 7d and 30d; then each SQL statement
of `business_metrics` and of the dashboard over 30 days with its time and EXPLAIN (ANALYZE,
BUFFERS, TIMING OFF) plan (per-node timing is left off: its overhead would double the times).
Then demand against stock (carts/demand.py): the median time of `products_at_risk` and of the
admin's product list (by name, by shortfall, filtered to demand exceeding stock), and the
plans of their statements that read the lines (`--demand-only` skips the metrics before).
The generator never runs `mark_abandoned_carts`, so half the carts stay active; with
`--abandon-idle` the carts the job would mark are marked first (its rule, in one UPDATE
without its events), leaving the active carts of a real "now". It changes the data for good.
`--purge` then ages every abandoned and merged cart by 400 days and deletes them as
`purge_carts` does, one batch of 1 000 at a time, timing each (a batch is one transaction:
the longest batch is the longest any lock is held). Purge last: it deletes a quarter of the
carts, so a later `--keep` run reads a smaller database.
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
       ((g * 7919) % 30000)::bigint * %(carts)s / 1000000, true, now(), now()
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

-- Lines 1 and 2 are the same product in two sizes (one cart, two lines); attributes_key as
-- carts/attributes.py computes it, the SHA-256 of the canonical JSON.
INSERT INTO carts_cartitem (cart_id, product_id, quantity, unit_price, attributes, attributes_key,
                            created_at, updated_at)
SELECT p.id, products.id, 1 + (p.g + k) % 4, products.price, size.attributes::jsonb,
       CASE WHEN k <= 2 THEN encode(sha256(convert_to(size.attributes, 'UTF8')), 'hex') ELSE '' END,
       p.created, p.created
FROM plan AS p
CROSS JOIN LATERAL generate_series(1, 1 + (p.g % 5)) AS k
CROSS JOIN LATERAL (SELECT CASE k WHEN 1 THEN '{"size":"M"}' WHEN 2 THEN '{"size":"L"}'
                               ELSE '{}' END AS attributes) AS size
JOIN carts_product AS products
  ON products.sku = 'SCALE-' || (1 + (p.g * 7 + greatest(k - 1, 1) * 13) % 200)
WHERE p.fate < 0.80;

UPDATE carts_cart AS c SET total = s.total
FROM (SELECT cart_id, sum(quantity * unit_price) AS total FROM carts_cartitem GROUP BY cart_id) AS s
WHERE c.id = s.cart_id AND c.status = 'checked_out';
"""

PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
SETTINGS = (
    "server_version",
    "max_parallel_workers_per_gather",
    "work_mem",
    "shared_buffers",
    "jit",
)
PURGE_BATCH = 1000


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


def budget_ms(carts: int) -> float | None:
    """The issue's budget for this many carts: 300 ms at 100 000, 2 s at 1 000 000."""
    return {100_000: 300.0, 1_000_000: 2000.0}.get(carts)


def verdict(ms: float, budget: float | None) -> str:
    if budget is None:
        return ""
    return "PASS" if ms < budget else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--carts", type=int, default=100_000)
    parser.add_argument("--purge", action="store_true", help="then time purge_carts")
    parser.add_argument("--keep", action="store_true", help="reuse the generated database")
    parser.add_argument("--runs", type=int, default=5, help="timed calls per figure (median)")
    parser.add_argument(
        "--old-carts",
        type=int,
        default=0,
        help="with --purge: first add this many abandoned carts, with lines, idle 400 days",
    )
    parser.add_argument("--no-reads", action="store_true", help="skip the metrics timings")
    parser.add_argument("--demand-only", action="store_true", help="time the demand reads only")
    parser.add_argument(
        "--abandon-idle", action="store_true", help="first mark idle carts abandoned"
    )
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
    from django.db import connection

    from carts.models import Cart, CartItem

    print(f"# Data scale: {options.carts:,} carts requested\n")
    if not options.keep:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(GENERATE.replace("%(carts)s", str(options.carts)))
        generated = time.perf_counter() - started
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(
            f"Generated in {generated:.1f} s, VACUUM ANALYZE in "
            f"{time.perf_counter() - started:.1f} s."
        )
    carts, lines = Cart.objects.count(), CartItem.objects.count()
    print(f"Carts: {carts:,}; lines: {lines:,} ({lines / max(carts, 1):.2f} per cart).\n")
    print_environment(connection)
    if options.abandon_idle:
        abandon_idle()
    if not options.no_reads:
        if not options.demand_only:
            reads(options, carts)
        demand(options)
    if options.purge:
        if options.old_carts:
            add_old_carts(options.old_carts)
        purge()


def print_environment(connection) -> None:
    with connection.cursor() as cursor:
        values = []
        for name in SETTINGS:
            cursor.execute(f"SHOW {name}")
            values.append(f"{name} {cursor.fetchone()[0]}")
        cursor.execute(
            "SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relname LIKE 'cart%%' AND c.relkind IN ('r', 'i') "
            "ORDER BY c.relkind DESC, pg_relation_size(c.oid) DESC"
        )
        sizes = ", ".join(f"{name} {size}" for name, size in cursor.fetchall())
    print(f"PostgreSQL: {'; '.join(values)}.\n")
    print(f"Sizes: {sizes}.\n")
    print(f"Load average (1, 5, 15 min; {os.cpu_count()} CPUs, shared): {load()}.\n")


def abandon_idle() -> None:
    """Mark abandoned what `mark_abandoned_carts` would (`abandoned_q`), in one UPDATE."""
    from django.db import connection
    from django.utils import timezone

    from carts.analytics import abandoned_q
    from carts.models import Cart

    idle = Cart.objects.filter(abandoned_q(timezone.now()), status="active")
    print(f"Marked {idle.update(status='abandoned'):,} idle carts abandoned.\n")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE carts_cart")


def staff_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    staff, _ = get_user_model().objects.get_or_create(
        username="scale-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(staff)
    return client


def reads(options, carts: int) -> None:
    from django.utils import timezone

    from carts.analytics import business_metrics

    client = staff_client()
    budget = budget_ms(carts)
    limit = f"under {budget:.0f} ms at {carts:,} carts" if budget else "no budget at this size"
    print(f"## Reads (median of {options.runs} calls after one warm-up; budget: {limit})\n")
    print("| Period | business_metrics ms | GET /dashboard/ ms | GET metrics JSON ms | Budget |")
    print("| --- | ---: | ---: | ---: | --- |")
    for label, span in PERIODS.items():
        now = timezone.now()
        direct = timed(
            lambda span=span, now=now: business_metrics(start=now - span, end=now), options.runs
        )
        pages = []
        for path in (f"/dashboard/?period={label}", f"/api/v1/metrics/business/?period={label}"):
            response = client.get(path)
            if response.status_code != 200:
                sys.exit(f"GET {path}: {response.status_code}")
            pages.append(timed(lambda path=path: client.get(path), options.runs))
        verdicts = {verdict(ms, budget) for ms in pages} - {""}
        overall = "FAIL" if "FAIL" in verdicts else "PASS" if verdicts else ""
        print(f"| {label} | {direct:.0f} | {pages[0]:.0f} | {pages[1]:.0f} | {overall} |")
    print(f"\nLoad average after the timings: {load()}.")
    explain_statements()


def load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def explain_statements() -> None:
    """Each statement of business_metrics (30d) and of the dashboard (30d and the 30 days
    before): its time as Django runs it, and its plan."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from carts.analytics import business_metrics, consecutive_business_metrics

    now = timezone.now()
    month = PERIODS["30d"]
    calls = {
        "business_metrics, 30d": lambda: business_metrics(start=now - month, end=now, now=now),
        "dashboard: consecutive_business_metrics, 30d and the 30 days before": lambda: (
            consecutive_business_metrics([now - 2 * month, now - month, now], now=now)
        ),
    }
    for title, call in calls.items():
        call()
        with CaptureQueriesContext(connection) as captured:
            call()
        print(f"\n## Statements of {title}\n")
        for number, query in enumerate(captured.captured_queries, 1):
            sql = query["sql"]
            print(f"{number}. {describe(sql)}: {float(query['time']) * 1000:.0f} ms\n")
            print(f"```\n{sql}\n\n{plan_of(sql)}\n```\n")


def plan_of(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def demand(options) -> None:
    """`products_at_risk` and the admin's product list, timed; the plans of their statements
    that read the lines (the admin's count of its page, then the page)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from carts.demand import products_at_risk
    from carts.models import Cart
    from carts.product_admin import ProductAdmin

    active = Cart.objects.filter(status="active")
    holding = active.filter(first_item_added_at__isnull=False).count()
    print(f"\n## Demand against stock (median of {options.runs} calls after one warm-up)\n")
    print(f"Active carts: {active.count():,}, {holding:,} of them ever held a line.\n")
    client = staff_client()
    short_by = ProductAdmin.list_display.index("short_by") + 1  # 0: the selection boxes
    calls = {"`products_at_risk()`": products_at_risk}
    for path in ("", f"?o=-{short_by}", "?demand=exceeds_stock"):
        if client.get(f"/admin/carts/product/{path}").status_code != 200:
            sys.exit(f"GET /admin/carts/product/{path} failed")
        calls[f"`GET /admin/carts/product/{path}`"] = lambda p=path: client.get(
            f"/admin/carts/product/{p}"
        )
    print("| Read | ms | SQL ms (one call) | Statements | Reading the lines |")
    print("| --- | ---: | ---: | ---: | ---: |")
    plans = {}
    for title, call in calls.items():
        ms = timed(call, options.runs)
        with CaptureQueriesContext(connection) as captured:
            call()
        lines = [q["sql"] for q in captured.captured_queries if "carts_cartitem" in q["sql"]]
        plans[title] = lines
        sql_ms = sum(float(q["time"]) for q in captured.captured_queries) * 1000
        print(f"| {title} | {ms:.0f} | {sql_ms:.0f} | {len(captured)} | {len(lines)} |")
    for title in list(plans)[:2]:
        for sql in plans[title]:
            print(f"\n{title}:\n\n```\n{sql}\n\n{plan_of(sql)}\n```")


def describe(sql: str) -> str:
    if "carts_cartitem" in sql:
        return "lines by product"
    if "carts_product" in sql:
        return "names of the top products"
    if '"checked_out_at" AT TIME ZONE' in sql:
        return "checkouts by hour or day"
    return "carts by hour or day"


OLD_CARTS = """
CREATE TEMP TABLE old_plan AS
SELECT g, gen_random_uuid() AS id FROM generate_series(1, %(carts)s) AS g;

INSERT INTO carts_cart (id, user_id, session_id, status, currency, version, created_at,
                        updated_at, checked_out_at, first_item_added_at, total)
SELECT id, NULL, 'old-' || g, 'abandoned', 'EUR', 1, now() - interval '430 days',
       now() - interval '400 days', NULL, now() - interval '430 days', NULL
FROM old_plan;

INSERT INTO carts_cartitem (cart_id, product_id, quantity, unit_price, attributes, attributes_key,
                            created_at, updated_at)
SELECT o.id, products.id, 1 + (o.g + k) % 4, products.price, '{}', '', now() - interval '430 days',
       now() - interval '430 days'
FROM old_plan AS o
CROSS JOIN LATERAL generate_series(1, 1 + (o.g % 5)) AS k
JOIN carts_product AS products ON products.sku = 'SCALE-' || (1 + (o.g * 7 + k * 13) % 200);

DROP TABLE old_plan;
"""


def add_old_carts(count: int) -> None:
    """`count` abandoned carts (3 lines on average) idle for 400 days: purge material."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(OLD_CARTS.replace("%(carts)s", str(count)))
        cursor.execute("VACUUM ANALYZE carts_cart")
        cursor.execute("VACUUM ANALYZE carts_cartitem")
    print(f"Added {count:,} old abandoned carts in {time.perf_counter() - started:.1f} s.")


def purge() -> None:
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from carts.models import Cart
    from carts.services import cart_purge_old

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE carts_cart SET updated_at = now() - interval '400 days' "
            "WHERE status IN ('abandoned', 'merged')"
        )
        aged = cursor.rowcount
        cursor.execute("VACUUM ANALYZE carts_cart")
    before = Cart.objects.count()

    def batch() -> tuple[int, float]:
        started = time.perf_counter()
        count = cart_purge_old(
            older_than=timedelta(days=365), batch_size=PURGE_BATCH, max_batches=1
        )
        return count, (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with CaptureQueriesContext(connection) as first:
        count, ms = batch()
    times = [ms]
    while count:
        count, ms = batch()
        times.append(ms)
    total = time.perf_counter() - started
    deleted = before - Cart.objects.count()
    left = dict(Cart.objects.values_list("status").annotate(n=Count("pk")).order_by())
    work = times[:-1] or times  # the last call only finds nothing left
    print(f"\n## Purge ({PURGE_BATCH:,} carts a batch, each batch its own transaction)\n")
    print("| Aged carts | Deleted | Batches | Total s | Median batch ms | Longest batch ms |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {aged:,} | {deleted:,} | {len(work)} | {total:.1f} | "
        f"{statistics.median(work):.0f} | {max(work):.0f} |"
    )
    print(f"\nThe longest batch is the longest any lock is held. Carts left: {left}.\n")
    statements = [query["sql"] for query in first.captured_queries]
    shown = "\n".join(shorten(sql) for sql in statements)
    print(f"Statements of the first batch (id lists cut short):\n\n```\n{shown}\n```\n")
    for sql in statements:
        if "FOR UPDATE" in sql:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            print(f"Plan of that batch selection, now that nothing is left:\n\n```\n{plan}\n```")


def shorten(sql: str, keep: int = 3) -> str:
    """The statement with its list of ids cut to the first `keep`."""
    start = sql.find(" IN ('")
    if start < 0:
        return sql
    end = sql.find(")", start + 5)
    ids = sql[start + 4 : end].split(", ")
    if len(ids) <= keep:
        return sql
    return f"{sql[: start + 4]}{', '.join(ids[:keep])}, ... {len(ids)} ids{sql[end:]}"


if __name__ == "__main__":
    main()
