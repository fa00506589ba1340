"""`make bench`: load the service as production runs it, beside bare baselines, and check the
budgets (docs/performance.md).

It recreates the benchmark database and Redis database, migrates and seeds, then starts two
gunicorns with the same settings (addtocart/gunicorn.conf.py's, read under this environment),
both up at once:

- the service, with `bench.settings`: production's settings plus the in-stack baselines
  (`health`, and `write` in bench/views.py) and a per-request SQL counter;
- the bare baselines (bench/bare/): Django + DRF with no middleware but that counter, a DRF
  write (`bare_write`: a primary-key SELECT and an UPDATE in a transaction) and a plain
  `JsonResponse` (`bare_json`).

Each scenario gets its data, a warm-up and measured wrk runs at fixed concurrency, in
BENCH_ROUNDS rounds that take every scenario in turn (the report gives the median of the
rounds). The budgets' ratios come from runs in alternation: BENCH_PAIRS groups of 1-second
runs of the scenario, its bare baseline and its in-stack baseline, the order rotating; each
ratio is the median of the groups'. Then a leak check with one worker, and a profile: one
worker, one connection, py-spy sampling the worker, the time of add and `GET cart/` summed
into the stack's parts (bench/profiling.py).

    python -m bench.run              the whole benchmark (make bench)
    python -m bench.run profile      only the profile (make bench-profile)
    python -m bench.run recycling    worker recycling on, off, larger (make bench-recycling)
    python -m bench.run workers      sync vs gthread, 2 to 5 workers (make bench-workers)

Results go to bench-results/<time>[-mode].md and .json; budgets print as PASS/FAIL lines.
"""

import contextlib
import http.client
import itertools
import json
import math
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench import harness, profiling

ROOT = harness.ROOT
RESULTS = ROOT / "bench-results"
POOLS = RESULTS / "pools"
PROFILES = RESULTS / "profile"  # py-spy's samples, one file per scenario (flamegraph.pl reads them)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


SECONDS = env_int("BENCH_SECONDS", 5)  # per round
ROUNDS = env_int("BENCH_ROUNDS", 3)
WARMUP = env_int("BENCH_WARMUP", 2)
CONNECTIONS = env_int("BENCH_CONNECTIONS", 16)
THREADS = 2
USERS = env_int("BENCH_USERS", 200)
PRODUCTS = 500
ADD_PRODUCTS = 50  # adds pick one of the first 50 products: carts stay under 100 lines
# The leak check's first reading comes once the worker's window of recent requests (10 000,
# addtocart/observability/metrics.py) is full: its growth up to there is by design.
LEAK_FIRST = 10_000
LEAK_TOTAL = LEAK_FIRST + env_int("BENCH_LEAK_REQUESTS", 20_000)
# The budgets' ratios: PAIRS groups of PAIR_SECONDS runs of a scenario and its two baselines.
PAIRS = env_int("BENCH_PAIRS", 20)
PAIR_SECONDS = 1
JUDGED = ("add_user", "get_cart_1", "get_cart_10", "get_cart_50")
# The baselines of each kind of request: (bare, in-stack).
BASELINES = {"read": ("bare_json", "health"), "write": ("bare_write", "write")}
PROFILED = (
    "add_user",
    "get_cart_1",
    "get_cart_10",
    "get_cart_50",
    "write",
    "health",
    "bare_write",
    "bare_json",
)
PROFILE_SECONDS = env_int("BENCH_PROFILE_SECONDS", 8)
PROFILE_RATE = env_int("BENCH_PROFILE_RATE", 500)  # py-spy's samples per second
RECYCLING = {  # label: GUNICORN_MAX_REQUESTS, GUNICORN_MAX_REQUESTS_JITTER
    "5000 (+500)": ("5000", "500"),
    "off": ("0", "0"),
    "50000 (+5000)": ("50000", "5000"),
}
RECYCLING_ROUNDS = env_int("BENCH_RECYCLING_ROUNDS", 8)
RECYCLED = ("get_cart_10", "add_user")
STRICT = os.environ.get("BENCH_STRICT") == "1"
# A comma-separated subset of scenario names, for quick iterations (no leak check, no budgets
# and no profile then, unless BENCH_PROFILE=1). Alternation takes a chosen scenario's
# baselines along.
ONLY = [name for name in os.environ.get("BENCH_SCENARIOS", "").split(",") if name]
PROFILE = os.environ.get("BENCH_PROFILE", "0" if ONLY else "1") == "1"
DATABASE_URL = (
    os.environ.get("BENCH_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/addtocart_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/8"
LIMIT = "100000000/min"

# The service's environment: production's settings (behind one proxy, the ingress, whose
# X-Forwarded-For and X-Forwarded-Proto the load scripts send), but for rate limits that a
# benchmark never reaches (the throttles still run) and a per-line limit rotating adds never
# reach.
SERVICE_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "TRUSTED_PROXIES": "1",
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "CONN_MAX_AGE": "60",
    "DEBUG": "false",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
    "JWT_ACCESS_MINUTES": "720",
    "LOG_LEVEL": "info",
    "THROTTLE_ANON": LIMIT,
    "THROTTLE_USER": LIMIT,
    "THROTTLE_LOGIN": LIMIT,
    "CART_MAX_QUANTITY_PER_LINE": "100000",
    "PRODUCT_SERVICE_URL": "",
    "PAYMENT_SERVICE_URL": "",
    "AUTH_SERVICE_URL": "",
}
# The bare baselines' (bench/bare/settings.py): the same database and kept connections.
BARE_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.bare.settings",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DATABASE_URL": DATABASE_URL,
    "CONN_MAX_AGE": "60",
    "DJANGO_SECRET_KEY": SERVICE_ENV["DJANGO_SECRET_KEY"],
}


# -- Database, Redis and data -------------------------------------------------------------


def recreate_database() -> None:
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    params = dj_database_url.parse(DATABASE_URL)
    if "bench" not in params["NAME"]:
        sys.exit(f"The benchmark drops its database: {params['NAME']!r} must contain 'bench'.")
    admin = psycopg2.connect(
        dbname="postgres",
        user=params["USER"],
        password=params["PASSWORD"],
        host=params["HOST"],
        port=params["PORT"] or None,
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        name = sql.Identifier(params["NAME"])
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(name))
    admin.close()


def setup_django() -> None:
    """Empty the Redis database and migrate, from this process, with the service's settings."""
    os.environ.update(SERVICE_ENV)
    os.environ["LOG_LEVEL"] = "error"  # the harness's own lines (seeding is slow SQL)
    import django
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def close_db() -> None:
    """No connection of the harness stays open while the service is loaded."""
    from django.db import connections

    connections.close_all()


def callers(pool: list[tuple]) -> list[tuple]:
    """One entry per caller (a pool of cart lines names each caller once per line)."""
    return list(dict.fromkeys((header, value, "") for header, value, _ in pool))


class Data:
    """The seeded data and each scenario's `prepare(seconds)`, which returns its pool file."""

    def __init__(self) -> None:
        from bench import seed

        self.seed = seed
        products = seed.catalog(PRODUCTS)
        self.products, self.first_id = products, products[0].pk
        self.shoppers = seed.shoppers("shopper", USERS, products)
        self.guests = seed.guests(USERS)
        self.carts = {
            n: callers(seed.shoppers(f"cart{n}", USERS, products, n)) for n in (1, 10, 50)
        }
        self.patch = seed.shoppers("patch", 100, products, lines=10)
        self.deletes = 0
        self.rate = 500.0  # requests per second the DELETE pool is sized for, until measured

    def fresh_carts(self, pool: list[tuple], name: str) -> Path:
        self.seed.empty_carts(pool)
        return self.seed.write_pool(POOLS / f"{name}.txt", pool)

    def add_user(self, seconds: float) -> Path:
        return self.fresh_carts(self.shoppers, "shoppers")

    def add_guest(self, seconds: float) -> Path:
        return self.fresh_carts(self.guests, "guests")

    def cart(self, lines: int) -> Callable[[float], Path]:
        return lambda seconds: self.seed.write_pool(POOLS / f"cart{lines}.txt", self.carts[lines])

    def update(self, seconds: float) -> Path:
        return self.seed.write_pool(POOLS / "patch.txt", self.patch, shuffle=True)

    def delete(self, seconds: float) -> Path:
        """Three times the lines the PATCH scenario's rate would delete, in 10-line carts."""
        lines = max(1000, math.ceil(self.rate * seconds * 3))
        self.deletes += 1
        pool = self.seed.shoppers(
            f"delete{self.deletes}", math.ceil(lines / 10), self.products, lines=10
        )
        return self.seed.write_pool(POOLS / "delete.txt", pool, shuffle=True)


# -- The servers -----------------------------------------------------------------------


@contextlib.contextmanager
def service(**env: str) -> Iterator[harness.Gunicorn]:
    """The service under gunicorn as production runs it, with `env` on top."""
    metrics_dir = tempfile.mkdtemp(prefix="addtocart-bench-prometheus-")
    full = {**os.environ, **SERVICE_ENV, "PROMETHEUS_MULTIPROC_DIR": metrics_dir, **env}
    workers = harness.config_settings(full)["workers"]
    try:
        with harness.gunicorn(full, RESULTS / "service.log", workers=workers) as running:
            yield running
    except harness.NotReady as error:
        sys.exit(f"{error}; see bench-results/service.log")
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


@contextlib.contextmanager
def bare(settings: dict, **env: str) -> Iterator[harness.Gunicorn]:
    """The bare baselines under gunicorn with the service's gunicorn `settings`."""
    full = {**os.environ, **BARE_ENV, "BENCH_GUNICORN_SETTINGS": json.dumps(settings), **env}
    try:
        with harness.gunicorn(
            full,
            RESULTS / "bare.log",
            app="bench.bare.wsgi",
            config="bench/bare/gunicorn.conf.py",
            ready="/bench/json/",
            workers=settings["workers"],
        ) as running:
            yield running
    except harness.NotReady as error:
        sys.exit(f"{error}; see bench-results/bare.log")


@contextlib.contextmanager
def servers(**env: str) -> Iterator[dict]:
    """The service and the bare baselines, both up, with the same gunicorn settings."""
    settings = harness.config_settings({**os.environ, **SERVICE_ENV, **env})
    with service(**env) as running, bare(settings) as baselines:
        yield {"service": running, "bare": baselines, "settings": settings}


# -- Load ------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    title: str
    script: str
    path: str = "/"
    prepare: Callable[[float], Path | None] = lambda seconds: None
    one_connection_per_thread: bool = False  # for scripts that chain requests
    warm_up: bool = True
    min_seconds: int = 0
    in_rounds: bool = True  # False: measured once, after the rounds
    server: str = "service"  # or "bare"
    kind: str = "write"  # which baselines it is compared with: "read" or "write"


def wrk(
    url: str,
    scenario: Scenario,
    seconds: float,
    pool: Path | None,
    first_id: int,
    connections: int = CONNECTIONS,
) -> dict:
    threads = connections if scenario.one_connection_per_thread else min(THREADS, connections)
    env = {
        **os.environ,
        "BENCH_POOL": str(pool or ""),
        "BENCH_THREADS": str(threads),
        "BENCH_PRODUCTS": f"{first_id}:{ADD_PRODUCTS}",
        "BENCH_TAG": secrets.token_hex(4),
    }
    command = [shutil.which("wrk") or "wrk", f"-t{threads}", f"-c{connections}"]
    command += [f"-d{seconds}s", "--timeout", "30s", "-s", f"bench/lua/{scenario.script}.lua"]
    finished = subprocess.run(
        [*command, url + scenario.path],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    for line in finished.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    sys.exit(f"wrk failed on {scenario.name}:\n{finished.stdout}\n{finished.stderr}")


def summary(scenario: Scenario, raw: dict) -> dict:
    duration = raw["duration_us"] / 1e6
    errors = raw["non2xx"] + raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    row = {
        "scenario": scenario.name,
        "title": scenario.title,
        "server": scenario.server,
        "kind": scenario.kind,
        "requests": int(raw["requests"]),
        "rps": round(raw["requests"] / duration, 1),
        "mean_ms": round(raw["mean_us"] / 1000, 2),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p95_ms": round(raw["p95_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "p999_ms": round(raw["p999_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "errors": int(errors),
        "sql_per_request": round(raw["queries"] / raw["counted"], 2) if raw["counted"] else None,
    }
    if scenario.one_connection_per_thread:
        row["paths_per_s"] = round(raw["paths"] / duration, 2)
    return row


def measure(running: dict, scenario: Scenario, data: Data, warm_up: bool = True) -> dict:
    """Warm up, then measure. The data is prepared afresh before each of the two runs."""
    measured = max(SECONDS, scenario.min_seconds)
    url = running[scenario.server].url
    for seconds in (WARMUP, measured) if warm_up and scenario.warm_up else (measured,):
        pool = scenario.prepare(seconds)
        close_db()
        raw = wrk(url, scenario, seconds, pool, data.first_id)
    row = summary(scenario, raw)
    print(
        f"  {scenario.name:<14} {row['rps']:>8} req/s  p99 {row['p99_ms']:>8} ms  "
        f"errors {row['errors']}  SQL/req {row['sql_per_request']}",
        flush=True,
    )
    return row


def alternated(running: dict, scenario: Scenario, by_name: dict, data: Data) -> dict:
    """`scenario` against its bare and its in-stack baseline, from runs in alternation.

    This machine's speed changes from one second to the next (health gave 730 and 1 677 req/s
    in two 3-second runs 20 s apart), so a ratio of two runs a minute apart, or even ten
    seconds apart, measures the machine as much as the service. Here each group runs the
    scenario and both baselines for PAIR_SECONDS each, PAIRS times, in each of the six orders
    in turn; each ratio (of throughput, of p99) is the median of the groups' ratios.
    """
    bare_name, stack_name = BASELINES[scenario.kind]
    runs = (scenario, by_name[bare_name], by_name[stack_name])
    pools = {run.name: run.prepare(PAIRS * PAIR_SECONDS) for run in runs}
    close_db()
    orders = list(itertools.permutations(runs))
    totals = {run.name: [0.0, 0.0] for run in runs}  # requests, seconds
    groups = []
    for group in range(PAIRS):
        rows = {}
        for run in orders[group % len(orders)]:
            url = running[run.server].url
            if run is scenario and scenario.kind == "write":
                # Fresh carts for every run, as in the rounds: carts that grew over all the
                # groups would make a later add dearer than an earlier one.
                pools[run.name] = run.prepare(PAIR_SECONDS)
                close_db()
            raw = wrk(url, run, PAIR_SECONDS, pools[run.name], data.first_id)
            totals[run.name][0] += raw["requests"]
            totals[run.name][1] += raw["duration_us"] / 1e6
            rows[run.name] = summary(run, raw)
        groups.append(rows)

    def median_ratio(key: str, name: str, base: str) -> float:
        return round(statistics.median(g[name][key] / g[base][key] for g in groups), 3)

    def median_tail_ratio(name: str, base: str) -> float:
        """p99 over the base's, times throughput over the base's: at a fixed number of
        connections the mean latency is the connections over the throughput (Little's law), so
        this compares the tails once that share of the latency is taken out."""
        return round(
            statistics.median(
                g[name]["p99_ms"] / g[base]["p99_ms"] * g[name]["rps"] / g[base]["rps"]
                for g in groups
            ),
            3,
        )

    def median_of(key: str, name: str) -> float:
        return round(statistics.median(g[name][key] for g in groups), 2)

    name = scenario.name
    row = {
        "scenario": name,
        "bare": bare_name,
        "in_stack": stack_name,
        **{
            f"{label}rps": round(totals[run][0] / totals[run][1], 1)
            for label, run in (("", name), ("bare_", bare_name), ("in_stack_", stack_name))
        },
        "ratio_bare": median_ratio("rps", name, bare_name),
        "ratio_in_stack": median_ratio("rps", name, stack_name),
        "in_stack_vs_bare": median_ratio("rps", stack_name, bare_name),
        "p99_ms": median_of("p99_ms", name),
        "bare_p99_ms": median_of("p99_ms", bare_name),
        "in_stack_p99_ms": median_of("p99_ms", stack_name),
        "p99_ratio_bare": median_ratio("p99_ms", name, bare_name),
        "p99_ratio_in_stack": median_ratio("p99_ms", name, stack_name),
        "tail_ratio_bare": median_tail_ratio(name, bare_name),
        "tail_ratio_in_stack": median_tail_ratio(name, stack_name),
        "group_ratios_bare": [round(g[name]["rps"] / g[bare_name]["rps"], 3) for g in groups],
        "errors": sum(g[run.name]["errors"] for g in groups for run in runs),
    }
    ratios = row["group_ratios_bare"]
    print(
        f"  {name}: {row['ratio_bare']} of {bare_name} (groups {min(ratios)} to "
        f"{max(ratios)}), {row['ratio_in_stack']} of {stack_name}; p99 "
        f"{row['p99_ratio_bare']}x {bare_name}'s, {row['p99_ratio_in_stack']}x {stack_name}'s",
        flush=True,
    )
    return row


def scenarios(data: Data) -> list[Scenario]:
    return [
        # The read baselines get the load GET cart/ gets: the same script and callers (a
        # shopper's token, a forwarded address), so wrk spends as much on each request.
        Scenario(
            "bare_json",
            "Bare: GET plain JsonResponse",
            "get",
            "/bench/json/",
            data.cart(1),
            server="bare",
            kind="read",
        ),
        Scenario("bare_write", "Bare: DRF PK SELECT + UPDATE", "write", server="bare"),
        Scenario(
            "health", "In-stack: GET health", "get", "/api/v1/health", data.cart(1), kind="read"
        ),
        Scenario("write", "In-stack: DRF PK SELECT + UPDATE", "write"),
        Scenario("add_user", "POST cart/items/, signed in", "add", prepare=data.add_user),
        Scenario("add_guest", "POST cart/items/, guest", "add", prepare=data.add_guest),
        *(
            Scenario(
                f"get_cart_{n}",
                f"GET cart/, {n} line(s)",
                "get",
                "/api/v1/cart/",
                data.cart(n),
                kind="read",
            )
            for n in (1, 10, 50)
        ),
        Scenario("patch", "PATCH cart/items/{id}/ quantity", "patch", prepare=data.update),
        Scenario("delete", "DELETE cart/items/{id}/", "delete", prepare=data.delete),
        # Each path hashes a password twice (sign-up, sign-in): a few paths a second per
        # core, so it runs at least 30 s. No warm-up: its queued sign-ups would outlive it.
        Scenario(
            "path",
            "Register, sign in, add, check out (per request)",
            "path",
            one_connection_per_thread=True,
            warm_up=False,
            min_seconds=30,
            in_rounds=False,
        ),
    ]


def python_load(url: str, pool: list[tuple], first_id: int, total: int) -> int:
    """`total` adds, exactly, over CONNECTIONS threads; returns the non-201 answers."""
    parts = urlsplit(url)

    def shopper(n: int) -> int:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        choose = random.Random(n)
        failed = 0
        for index in range(n, total, CONNECTIONS):
            caller = index % len(pool)
            header, value, _ = pool[caller]
            product = choose.randrange(first_id, first_id + ADD_PRODUCTS)
            body = json.dumps({"product_id": product, "quantity": 1})
            headers = {header: value, "Content-Type": "application/json"}
            headers |= {"X-Forwarded-For": f"10.0.{caller // 256 % 256}.{caller % 256}"}
            headers |= {"X-Forwarded-Proto": "https"}
            connection.request("POST", "/api/v1/cart/items/", body, headers)
            response = connection.getresponse()
            response.read()
            failed += response.status != 201
        connection.close()
        return failed

    with ThreadPoolExecutor(CONNECTIONS) as pool_of_threads:
        return sum(pool_of_threads.map(shopper, range(CONNECTIONS)))


def leak_check(data: Data) -> dict:
    """One worker, never recycled: its RSS after LEAK_FIRST adds and after LEAK_TOTAL.

    The carts already hold a line of every product the adds choose from, so they do not grow
    during the check: only quantities change, and a growing RSS means a leak.
    """
    pool = callers(data.seed.shoppers("leak", USERS, data.products, ADD_PRODUCTS))
    close_db()
    with service(WEB_CONCURRENCY="1", GUNICORN_MAX_REQUESTS="0") as running:
        (pid,) = running.memory()
        failed = python_load(running.url, pool, data.first_id, LEAK_FIRST)
        first = harness.rss_mb(pid)
        failed += python_load(running.url, pool, data.first_id, LEAK_TOTAL - LEAK_FIRST)
        last = harness.rss_mb(pid)
        same_worker = list(running.memory()) == [pid]
    print(f"  leak: RSS {first:.1f} MB after {LEAK_FIRST}, {last:.1f} MB after {LEAK_TOTAL}")
    return {
        "requests": LEAK_TOTAL,
        "rss_after_first_mb": round(first, 1),
        "rss_after_all_mb": round(last, 1),
        "growth_percent": round((last - first) / first * 100, 1),
        "errors": failed,
        "same_worker": same_worker,
    }


# -- Profile ---------------------------------------------------------------------------


def py_spy() -> str:
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not found:
        sys.exit("py-spy is not installed (requirements-dev.txt: make install-dev)")
    return found


def profile(data: Data) -> list[dict]:
    """Per request, the time of each part of the stack, from one worker serving one connection.

    For each scenario: a warm-up, a run without the profiler (its mean latency as wrk saw it),
    then a run during which py-spy samples the worker for PROFILE_SECONDS (bench/profiling.py).
    The samples stay in bench-results/profile/<scenario>.txt.
    """
    chosen = [s for s in scenarios(data) if s.name in PROFILED and (not ONLY or s.name in ONLY)]
    chosen.sort(key=lambda s: PROFILED.index(s.name))
    rows = []
    print(
        f"Profile: one worker, one connection, py-spy at {PROFILE_RATE} samples/s for "
        f"{PROFILE_SECONDS} s per scenario",
        flush=True,
    )
    PROFILES.mkdir(parents=True, exist_ok=True)
    with servers(WEB_CONCURRENCY="1", GUNICORN_MAX_REQUESTS="0") as running:
        for scenario in chosen:
            server = running[scenario.server]
            (pid,) = server.workers()

            def run(seconds: float, scenario: Scenario = scenario, url: str = server.url) -> dict:
                pool = scenario.prepare(seconds)
                close_db()
                return wrk(url, scenario, seconds, pool, data.first_id, connections=1)

            run(WARMUP)
            plain = summary(scenario, run(PROFILE_SECONDS))
            pool = scenario.prepare(PROFILE_SECONDS)
            close_db()
            output = PROFILES / f"{scenario.name}.txt"
            command = [py_spy(), "record", "-p", str(pid), "-d", str(PROFILE_SECONDS)]
            command += ["-r", str(PROFILE_RATE), "--idle", "--nonblocking", "--full-filenames"]
            spy = subprocess.Popen(
                [*command, "-f", "raw", "-o", str(output)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            # Longer than py-spy's window, which opens once it has attached.
            raw = wrk(server.url, scenario, PROFILE_SECONDS + 2, pool, data.first_id, 1)
            said, _ = spy.communicate(timeout=120)
            if spy.returncode or not output.exists():
                sys.exit(f"py-spy failed on {scenario.name}:\n{said}")
            profiled = summary(scenario, raw)
            counts = profiling.breakdown(profiling.samples(output.read_text()))
            parts = profiling.per_request_ms(counts, profiled["rps"])
            rows.append(
                {
                    "scenario": scenario.name,
                    "title": scenario.title,
                    "samples": sum(counts.values()),
                    "sql_per_request": profiled["sql_per_request"],
                    "rps": plain["rps"],
                    "mean_ms": plain["mean_ms"],
                    "profiled_rps": profiled["rps"],
                    "parts_ms": parts,
                }
            )
            print(
                f"  {scenario.name:<12} {parts['total']:.3f} ms per request in the worker "
                f"(mean latency {plain['mean_ms']} ms unprofiled, {profiled['mean_ms']} ms "
                "profiled): "
                + ", ".join(f"{k} {v:.3f}" for k, v in parts.items() if v and k != "total"),
                flush=True,
            )
    return rows


# -- Worker recycling ------------------------------------------------------------------


def compare_recycling(data: Data) -> list[dict]:
    """Workers recycled every 5 000 requests (+ up to 500), never, and every 50 000, all three
    up at once, measured in alternation: RECYCLING_ROUNDS rounds of SECONDS-long runs of each
    scenario against each, the order rotating. Counts the workers replaced during each run."""
    chosen = [s for s in scenarios(data) if s.name in RECYCLED]
    rows = {(label, s.name): [] for label in RECYCLING for s in chosen}
    with contextlib.ExitStack() as stack:
        running = {
            label: stack.enter_context(
                service(GUNICORN_MAX_REQUESTS=every, GUNICORN_MAX_REQUESTS_JITTER=jitter)
            )
            for label, (every, jitter) in RECYCLING.items()
        }
        labels = list(RECYCLING)
        for number in range(RECYCLING_ROUNDS + 1):  # the first round warms up
            print(f"Recycling round {number} of {RECYCLING_ROUNDS}", flush=True)
            for scenario in chosen:
                shift = number % len(labels)
                for label in labels[shift:] + labels[:shift]:
                    pool = scenario.prepare(SECONDS)
                    close_db()
                    before = set(running[label].workers())
                    seconds = SECONDS if number else WARMUP
                    raw = wrk(running[label].url, scenario, seconds, pool, data.first_id)
                    if not number:
                        continue
                    row = summary(scenario, raw)
                    row["recycled"] = len(set(running[label].workers()) - before)
                    row["round"] = number
                    rows[label, scenario.name].append(row)
                    print(
                        f"  {label:<14} {scenario.name:<12} {row['rps']:>8} req/s  p99 "
                        f"{row['p99_ms']:>7} ms  max {row['max_ms']:>7} ms  "
                        f"recycled {row['recycled']}",
                        flush=True,
                    )
    return [
        recycling_row(label, s.name, rows[label, s.name], rows["off", s.name])
        for s in chosen
        for label in RECYCLING
    ]


def recycling_row(label: str, name: str, runs: list[dict], off: list[dict]) -> dict:
    """One configuration's runs of one scenario; ratios to the runs without recycling of the
    same round."""

    def median(key: str, chosen: list[dict] = runs) -> float | None:
        values = [run[key] for run in chosen]
        return round(statistics.median(values), 2) if values else None

    recycled = [run for run in runs if run["recycled"]]
    return {
        "config": label,
        "scenario": name,
        "runs": len(runs),
        "requests": sum(run["requests"] for run in runs),
        "recycled": sum(run["recycled"] for run in runs),
        "rps": median("rps"),
        "p50_ms": median("p50_ms"),
        "p99_ms": median("p99_ms"),
        "p99_mean_ms": round(statistics.mean(run["p99_ms"] for run in runs), 2),
        "p999_mean_ms": round(statistics.mean(run["p999_ms"] for run in runs), 2),
        "max_ms": max(run["max_ms"] for run in runs),
        "p99_ms_runs_recycled": median("p99_ms", recycled),
        "max_ms_runs_recycled": median("max_ms", recycled),
        "p99_ms_runs_not_recycled": median("p99_ms", [r for r in runs if not r["recycled"]]),
        "rps_vs_off": round(
            statistics.median(r["rps"] / o["rps"] for r, o in zip(runs, off, strict=True)), 3
        ),
        "p99_vs_off": round(
            statistics.median(r["p99_ms"] / o["p99_ms"] for r, o in zip(runs, off, strict=True)), 3
        ),
        "errors": sum(run["errors"] for run in runs),
    }


# -- Worker class and count ------------------------------------------------------------

WORKER_CONFIGS = {
    label: {"GUNICORN_WORKER_CLASS": kind, "WEB_CONCURRENCY": str(workers)}
    | {"GUNICORN_THREADS": str(threads)}
    for label, kind, workers, threads in (
        ("sync x 2", "sync", 2, 1),
        ("sync x 3", "sync", 3, 1),
        ("sync x 4", "sync", 4, 1),
        ("sync x 5", "sync", 5, 1),
        ("gthread 2 x 4 threads", "gthread", 2, 4),
        ("gthread 4 x 2 threads", "gthread", 4, 2),
    )
}
BUDGET_SCENARIOS = ("bare_json", "bare_write", "health", "write", *JUDGED)


def compare_workers(data: Data) -> list[dict]:
    """The scenarios the budgets compare, under each worker configuration (the bare
    baselines with the same one)."""
    chosen = [s for s in scenarios(data) if s.name in BUDGET_SCENARIOS]
    rows = []
    for label, env in WORKER_CONFIGS.items():
        print(f"Workers: {label}", flush=True)
        with servers(**env) as running:
            measured = [measure(running, scenario, data) for scenario in chosen]
            memory = running["service"].memory()
        add_ratios(measured)
        rows += [{"workers": label, **row, "rss_mb": memory} for row in measured]
    return rows


# -- Report ----------------------------------------------------------------------------


def ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 3) if value is not None and base else None


def add_ratios(rows: list[dict], baselines: list[dict] | None = None) -> None:
    """Each row's throughput and p99 over its kind's bare and in-stack baselines'."""
    by_name = {row["scenario"]: row for row in baselines or rows}
    for row in rows:
        kind = row["kind"]
        bare_row, stack_row = (by_name.get(name, {}) for name in BASELINES[kind])
        row["rps_vs_bare"] = ratio(row["rps"], bare_row.get("rps"))
        row["rps_vs_in_stack"] = ratio(row["rps"], stack_row.get("rps"))
        row["p99_vs_bare"] = ratio(row["p99_ms"], bare_row.get("p99_ms"))
        row["p99_vs_in_stack"] = ratio(row["p99_ms"], stack_row.get("p99_ms"))


SUMMED = ("requests", "errors")


def median_of_rounds(rounds: list[list[dict]]) -> list[dict]:
    """Per scenario, the median of each figure over the rounds (requests and errors: the sum).
    Ratios were taken within each round, before the median."""
    merged = []
    for rows in zip(*rounds, strict=True):
        row = dict(rows[0])
        for key, value in rows[0].items():
            values = [r[key] for r in rows if isinstance(r[key], (int, float))]
            if key in SUMMED:
                row[key] = sum(values)
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and values:
                row[key] = round(statistics.median(values), 3)
        row["rounds_rps"] = [r["rps"] for r in rows]
        merged.append(row)
    return merged


def budgets(
    rows: list[dict], paired: list[dict], memory: dict, leak: dict | None
) -> list[tuple[bool, str]]:
    by_name = {row["scenario"]: row for row in rows}
    judged = {row["scenario"]: row for row in paired}
    checks = []
    for name, minimum in (("add_user", 0.7), *((f"get_cart_{n}", 0.3) for n in (1, 10, 50))):
        row = judged[name]
        checks.append(
            (
                row["ratio_bare"] >= minimum,
                f"{name} {row['rps']} req/s >= {minimum:.0%} of {row['bare']}'s "
                f"{row['bare_rps']} in alternation ({row['ratio_bare']:.0%}; "
                f"{row['ratio_in_stack']:.0%} of {row['in_stack']}'s {row['in_stack_rps']})",
            )
        )
    for name in JUDGED:
        row = judged[name]
        checks.append(
            (
                row["tail_ratio_bare"] <= 1.5,
                f"{name} p99 {row['p99_ms']} ms <= 1.5 x {row['bare']}'s {row['bare_p99_ms']} ms "
                f"at equal throughput ({row['tail_ratio_bare']}x: {row['p99_ratio_bare']}x at "
                f"{row['ratio_bare']:.0%} of its throughput; {row['p99_ratio_in_stack']}x "
                f"{row['in_stack']}'s {row['in_stack_p99_ms']} ms)",
            )
        )
    counts = [by_name[f"get_cart_{n}"]["sql_per_request"] for n in (1, 10, 50)]
    same = len(set(counts)) == 1
    checks.append((same, f"GET cart/ SQL per request the same for 1, 10, 50 lines: {counts}"))
    biggest = max(mb for stage in memory.values() for mb in stage.values())
    checks.append((biggest < 150, f"worker memory {biggest} MB RSS < 150 MB (largest seen)"))
    if leak:
        checks.append(
            (
                leak["growth_percent"] <= 10 and leak["same_worker"],
                f"worker RSS after {leak['requests']} requests {leak['rss_after_all_mb']} MB "
                f"within 10% of {leak['rss_after_first_mb']} MB after {LEAK_FIRST} "
                f"({leak['growth_percent']:+}%)",
            )
        )
    return checks


def cell(value) -> str:
    return "" if value is None else str(value)


def table(header: list[str], rows: list[list]) -> list[str]:
    aligned = ["---" if i == 0 else "---:" for i in range(len(header))]
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(aligned) + " |",
        *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows),
    ]


def markdown_rounds(report: dict) -> list[str]:
    rows = []
    for row in report["scenarios"]:
        title = row["title"]
        if "paths_per_s" in row:
            title += f"; {row['paths_per_s']} paths/s"
        values = [row[k] for k in ("rps", "p50_ms", "p95_ms", "p99_ms", "errors")]
        values += [row[k] for k in ("sql_per_request", "rps_vs_bare", "rps_vs_in_stack")]
        values += [row["p99_vs_bare"], row["p99_vs_in_stack"]]
        values.append(" / ".join(str(rps) for rps in row.get("rounds_rps", [])))
        rows.append([f"`{row['scenario']}` {title}", *values])
    memory = report["memory_mb"]
    return [
        "",
        f"## Rounds ({report['rounds']} rounds of {report['seconds']} s; `path` once, at least "
        "30 s; medians of the rounds, ratios taken within each round)",
        "",
        "Ratios are to the baselines of the request's kind: writes to `bare_write` and "
        "`write`, reads to `bare_json` and `health`.",
        "",
        *table(
            [
                "Scenario",
                "req/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "errors",
                "SQL/req",
                "req/s vs bare",
                "req/s vs in-stack",
                "p99 vs bare",
                "p99 vs in-stack",
                "req/s by round",
            ],
            rows,
        ),
        "",
        "Service worker RSS (MB) at the start: "
        + ", ".join(str(v) for v in memory["start"].values())
        + "; after the run: "
        + ", ".join(str(v) for v in memory["end"].values())
        + "; bare workers after the run: "
        + ", ".join(str(v) for v in memory.get("bare", {}).values()),
    ]


def markdown_paired(report: dict) -> list[str]:
    rows = []
    for row in report["paired"]:
        ratios = sorted(row["group_ratios_bare"])
        rows.append(
            [
                row["scenario"],
                row["rps"],
                f"{row['bare']} {row['bare_rps']}",
                f"{row['in_stack']} {row['in_stack_rps']}",
                row["ratio_bare"],
                row["ratio_in_stack"],
                row["in_stack_vs_bare"],
                row["p99_ms"],
                row["bare_p99_ms"],
                row["in_stack_p99_ms"],
                row["p99_ratio_bare"],
                row["p99_ratio_in_stack"],
                row["tail_ratio_bare"],
                f"{ratios[0]} to {ratios[-1]}",
            ]
        )
    return [
        "",
        f"## In alternation ({PAIRS} groups of {PAIR_SECONDS} s runs of the scenario, its bare "
        "and its in-stack baseline, the order rotating; medians of the groups; the budgets are "
        "judged on these)",
        "",
        *table(
            [
                "Scenario",
                "req/s",
                "bare req/s",
                "in-stack req/s",
                "vs bare",
                "vs in-stack",
                "in-stack vs bare",
                "p99 ms",
                "bare p99",
                "in-stack p99",
                "p99 vs bare",
                "p99 vs in-stack",
                "p99 vs bare at equal throughput",
                "vs bare, lowest to highest group",
            ],
            rows,
        ),
    ]


PROFILE_COLUMNS = (
    "authentication",
    "throttling",
    "metrics",
    "logging",
    "SQL",
    "rendering",
    "rest",
    *profiling.REST,
)


def markdown_profile(rows: list[dict]) -> list[str]:
    lines = []
    for row in rows:
        parts = row["parts_ms"]
        values = [parts.get(column, 0.0) for column in PROFILE_COLUMNS]
        values += [parts["total"], row["mean_ms"], row["profiled_rps"], row["samples"]]
        lines.append([f"`{row['scenario']}`", *values])
    return [
        "",
        f"## Where a request's time goes (ms per request in the worker; one worker, one "
        f"connection, py-spy sampling wall time {PROFILE_RATE} times a second for "
        f"{PROFILE_SECONDS} s per scenario)",
        "",
        "The rest = other middleware + view + Django & DRF + gunicorn + benchmark (the SQL "
        "counter) + unattributed. Mean latency: wrk's, without the profiler, for comparison.",
        "",
        *table(
            [
                "Scenario",
                *PROFILE_COLUMNS,
                "total",
                "mean latency",
                "req/s profiled",
                "samples",
            ],
            lines,
        ),
    ]


def markdown_recycling(rows: list[dict]) -> list[str]:
    lines = [
        [
            row["config"],
            row["scenario"],
            row["runs"],
            row["recycled"],
            row["rps"],
            row["p50_ms"],
            row["p99_ms"],
            row["p99_mean_ms"],
            row["p999_mean_ms"],
            row["max_ms"],
            row["p99_ms_runs_recycled"],
            row["p99_ms_runs_not_recycled"],
            row["rps_vs_off"],
            row["p99_vs_off"],
            row["errors"],
        ]
        for row in rows
    ]
    return [
        "",
        f"## Worker recycling ({RECYCLING_ROUNDS} rounds of {SECONDS} s runs, the three "
        "configurations up at once and alternated; medians of the runs unless said)",
        "",
        *table(
            [
                "max_requests",
                "Scenario",
                "runs",
                "workers recycled",
                "req/s",
                "p50 ms",
                "p99 ms",
                "p99 ms, mean",
                "p99.9 ms, mean",
                "max ms",
                "p99 ms, runs with a recycle",
                "p99 ms, runs without",
                "req/s vs off",
                "p99 vs off",
                "errors",
            ],
            lines,
        ),
    ]


def markdown_workers(rows: list[dict]) -> list[str]:
    lines = []
    for row in rows:
        rss = ", ".join(str(v) for v in row["rss_mb"].values())
        values = [row[k] for k in ("rps", "p50_ms", "p99_ms", "errors")]
        values += [row["rps_vs_bare"], row["rps_vs_in_stack"]]
        lines.append([row["workers"], row["title"], *values, rss])
    header = ["Workers", "Scenario", "req/s", "p50 ms", "p99 ms", "errors"]
    header += ["req/s vs bare", "req/s vs in-stack", "service worker RSS MB"]
    return ["", "## Worker class and count", "", *table(header, lines)]


def markdown(report: dict) -> str:
    lines = [
        f"# Benchmark {report['started']}",
        "",
        f"{report['cores']} cores; {report['connections']} connections; the service and the "
        f"bare baselines both up, with the same gunicorn settings: {report['gunicorn']}.",
    ]
    if report["scenarios"]:
        lines += markdown_rounds(report)
    if report["paired"]:
        lines += markdown_paired(report)
    if report["leak"]:
        leak = report["leak"]
        lines += [
            "",
            f"Leak check: one worker, RSS {leak['rss_after_first_mb']} MB after {LEAK_FIRST} "
            f"adds, {leak['rss_after_all_mb']} MB after {leak['requests']} "
            f"({leak['growth_percent']:+}%), {leak['errors']} errors.",
        ]
    if report["profile"]:
        lines += markdown_profile(report["profile"])
    if report["recycling"]:
        lines += markdown_recycling(report["recycling"])
    if report["workers"]:
        lines += markdown_workers(report["workers"])
    if report["budgets"]:
        lines += ["", "## Budgets", "", *(f"- {line}" for line in report["budgets"])]
    return "\n".join(lines) + "\n"


def describe(settings: dict) -> str:
    keys = ("workers", "worker_class", "threads", "max_requests", "max_requests_jitter")
    keys += ("keepalive", "timeout", "preload_app")
    return ", ".join(f"{key}={settings.get(key)}" for key in keys)


def run_benchmark(report: dict, data: Data) -> None:
    """The rounds, the alternation, `path`, then the leak check and the profile."""
    with servers() as running:
        report["gunicorn"] = describe(running["settings"])
        report["memory_mb"]["start"] = running["service"].memory()
        every = scenarios(data)
        by_name = {s.name: s for s in every}
        chosen = [s for s in every if not ONLY or s.name in ONLY]
        rounds = []
        for number in range(ROUNDS):
            print(f"Round {number + 1} of {ROUNDS}", flush=True)
            rows = []
            for scenario in (s for s in chosen if s.in_rounds):
                rows.append(measure(running, scenario, data, warm_up=number == 0))
                if scenario.name == "patch":
                    data.rate = rows[-1]["rps"]
            add_ratios(rows)
            rounds.append(rows)
        merged = median_of_rounds(rounds) if rounds and rounds[0] else []
        print(f"Alternation: {PAIRS} groups of {PAIR_SECONDS} s runs", flush=True)
        report["paired"] = [
            alternated(running, by_name[name], by_name, data)
            for name in JUDGED
            if name in (s.name for s in chosen)
        ]
        once = [measure(running, s, data) for s in chosen if not s.in_rounds]
        add_ratios(once, baselines=merged)
        report["scenarios"] = merged + once
        report["memory_mb"]["end"] = running["service"].memory()
        report["memory_mb"]["bare"] = running["bare"].memory()
    report["leak"] = None if ONLY else leak_check(data)
    if PROFILE:
        report["profile"] = profile(data)
    if not ONLY:
        service_memory = {k: v for k, v in report["memory_mb"].items() if k != "bare"}
        checks = budgets(report["scenarios"], report["paired"], service_memory, report["leak"])
        report["budgets"] = [f"{'PASS' if ok else 'FAIL'} {text}" for ok, text in checks]


MODES = {"": "", "profile": "-profile", "recycling": "-recycling", "workers": "-workers"}


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in MODES or len(sys.argv) > 2:
        sys.exit(f"usage: python -m bench.run [{'|'.join(m for m in MODES if m)}]")
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    RESULTS.mkdir(exist_ok=True)
    print(f"Benchmark database {DATABASE_URL}, Redis {REDIS_URL}", flush=True)
    recreate_database()
    setup_django()
    data = Data()
    import gunicorn

    report = {
        "started": started,
        "cores": os.cpu_count(),
        "connections": CONNECTIONS,
        "seconds": SECONDS,
        "rounds": ROUNDS,
        "gunicorn": describe(harness.config_settings({**os.environ, **SERVICE_ENV})),
        "gunicorn_version": gunicorn.__version__,
        "scenarios": [],
        "paired": [],
        "memory_mb": {},
        "leak": None,
        "profile": [],
        "recycling": [],
        "workers": [],
        "budgets": [],
    }
    if mode == "":
        run_benchmark(report, data)
    elif mode == "profile":
        report["profile"] = profile(data)
    elif mode == "recycling":
        report["recycling"] = compare_recycling(data)
    if mode == "workers" or (mode == "" and os.environ.get("BENCH_WORKERS") == "1"):
        report["workers"] = compare_workers(data)

    name = started.replace(":", "") + MODES[mode]
    text = markdown(report)
    (RESULTS / f"{name}.md").write_text(text)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\n" + text + f"\nWritten: bench-results/{name}.md and .json")
    failed = [line for line in report["budgets"] if line.startswith("FAIL")]
    return 1 if STRICT and failed else 0


if __name__ == "__main__":
    sys.exit(main())
