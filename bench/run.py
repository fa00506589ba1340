"""`make bench`: load the service as production runs it and check the issue's budgets.

It recreates the benchmark database and Redis database, migrates, seeds, and starts gunicorn
with addtocart/gunicorn.conf.py and `bench.settings` (the service plus the write baseline and
a per-request SQL counter). Each scenario then gets its data, a warm-up, and measured wrk
runs at fixed concurrency: BENCH_ROUNDS rounds that take every scenario in turn, so that each
ratio compares runs a minute apart at most, under the same load of a shared machine, and the
report gives the median of the rounds. A memory-leak phase follows with one worker, and with
BENCH_WORKERS=1 (or `python -m bench.run workers` alone) a sync vs gthread comparison.
Results go to bench-results/<time>.md and .json; budgets print as PASS/FAIL lines.
"""

import contextlib
import http.client
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"
POOLS = RESULTS / "pools"


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
LEAK_FIRST, LEAK_TOTAL = 1_000, env_int("BENCH_LEAK_REQUESTS", 20_000)
# The throughput budgets' ratios: PAIRS pairs of PAIR_SECONDS runs, scenario and baseline.
PAIRS = env_int("BENCH_PAIRS", 20)
PAIR_SECONDS = 1
PAIRED = (
    ("add_user", "write"),
    ("get_cart_1", "health"),
    ("get_cart_10", "health"),
    ("get_cart_50", "health"),
)
STRICT = os.environ.get("BENCH_STRICT") == "1"
# A comma-separated subset of scenario names, for quick iterations (no leak check and no
# budgets then).
ONLY = [name for name in os.environ.get("BENCH_SCENARIOS", "").split(",") if name]
DATABASE_URL = (
    os.environ.get("BENCH_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/addtocart_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/8"
# Workers per gunicorn: the environment's, else addtocart/gunicorn.conf.py's default.
WORKERS = os.environ.get("WEB_CONCURRENCY") or "3"
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


# -- The service -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_pids(master: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
    return sorted(pids)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Service:
    process: subprocess.Popen
    url: str

    def memory(self) -> dict[int, float]:
        """RSS in MB of each gunicorn worker, by pid."""
        return {pid: round(rss_mb(pid), 1) for pid in worker_pids(self.process.pid)}


def answers(url: str) -> bool:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
    try:
        connection.request("GET", parts.path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@contextlib.contextmanager
def service(**env: str):
    """gunicorn as production runs it, with `env` on top (workers, worker class...)."""
    port = free_port()
    metrics_dir = tempfile.mkdtemp(prefix="addtocart-bench-prometheus-")
    workers = int(env.get("WEB_CONCURRENCY") or WORKERS)
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", "addtocart/gunicorn.conf.py"]
    with (RESULTS / "service.log").open("a") as log:
        process = subprocess.Popen(
            [*command, "addtocart.wsgi"],
            cwd=ROOT,
            env={
                **os.environ,
                **SERVICE_ENV,
                "PORT": str(port),
                "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Service(process, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while not (
            answers(f"{running.url}/api/v1/health/live")
            and len(worker_pids(process.pid)) == workers
        ):
            if time.monotonic() > deadline or process.poll() is not None:
                sys.exit("gunicorn did not start; see bench-results/service.log")
            time.sleep(0.2)
        yield running
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(metrics_dir, ignore_errors=True)


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


def wrk(url: str, scenario: Scenario, seconds: float, pool: Path | None, first_id: int) -> dict:
    connections = CONNECTIONS
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


def measure(running: Service, scenario: Scenario, data: Data, warm_up: bool = True) -> dict:
    """Warm up, then measure. The data is prepared afresh before each of the two runs."""
    measured = max(SECONDS, scenario.min_seconds)
    for seconds in (WARMUP, measured) if warm_up and scenario.warm_up else (measured,):
        pool = scenario.prepare(seconds)
        close_db()
        raw = wrk(running.url, scenario, seconds, pool, data.first_id)
    duration = raw["duration_us"] / 1e6
    errors = raw["non2xx"] + raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    row = {
        "scenario": scenario.name,
        "title": scenario.title,
        "requests": int(raw["requests"]),
        "rps": round(raw["requests"] / duration, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p95_ms": round(raw["p95_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "errors": int(errors),
        "sql_per_request": round(raw["queries"] / raw["counted"], 2) if raw["counted"] else None,
    }
    if scenario.one_connection_per_thread:
        row["paths_per_s"] = round(raw["paths"] / duration, 2)
    print(
        f"  {scenario.name:<14} {row['rps']:>8} req/s  p99 {row['p99_ms']:>8} ms  "
        f"errors {row['errors']}  SQL/req {row['sql_per_request']}",
        flush=True,
    )
    return row


def alternated(running: Service, scenario: Scenario, baseline: Scenario, data: Data) -> dict:
    """The throughput of `scenario` over `baseline`'s, from runs that alternate with it.

    This machine's speed changes from one second to the next (health gave 730 and 1 677 req/s
    in two 3-second runs 20 s apart), so a ratio of two runs taken a minute apart, or even
    ten seconds apart, measures the machine as much as the service. Here each pair runs the
    baseline and the scenario for PAIR_SECONDS each, PAIRS times, the baseline first in every
    other pair; the ratio is the median of the pairs' (a pair in which every worker was being
    recycled counts as one pair).
    """
    pools = {run.name: run.prepare(PAIRS * PAIR_SECONDS) for run in (scenario, baseline)}
    close_db()
    totals = {name: [0.0, 0.0] for name in pools}  # requests, seconds
    ratios = []
    for pair in range(PAIRS):
        rates = {}
        for run in (baseline, scenario) if pair % 2 == 0 else (scenario, baseline):
            raw = wrk(running.url, run, PAIR_SECONDS, pools[run.name], data.first_id)
            totals[run.name][0] += raw["requests"]
            totals[run.name][1] += raw["duration_us"] / 1e6
            rates[run.name] = raw["requests"] / (raw["duration_us"] / 1e6)
        ratios.append(round(rates[scenario.name] / rates[baseline.name], 3))
    scenario_rps, baseline_rps = (totals[name][0] / totals[name][1] for name in pools)
    row = {
        "scenario": scenario.name,
        "baseline": baseline.name,
        "rps": round(scenario_rps, 1),
        "baseline_rps": round(baseline_rps, 1),
        "ratio": round(statistics.median(ratios), 3),
        "pair_ratios": ratios,
    }
    print(
        f"  {scenario.name} / {baseline.name}: {row['ratio']} "
        f"(pairs {min(ratios)} to {max(ratios)})",
        flush=True,
    )
    return row


def scenarios(data: Data) -> list[Scenario]:
    return [
        Scenario("health", "Baseline: GET health (cheapest JSON)", "plain", "/api/v1/health"),
        Scenario("write", "Baseline: PK SELECT + UPDATE (write ceiling)", "write"),
        Scenario("add_user", "POST cart/items/, signed in", "add", prepare=data.add_user),
        Scenario("add_guest", "POST cart/items/, guest", "add", prepare=data.add_guest),
        *(
            Scenario(
                f"get_cart_{n}", f"GET cart/, {n} line(s)", "get", "/api/v1/cart/", data.cart(n)
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
        first = rss_mb(pid)
        failed += python_load(running.url, pool, data.first_id, LEAK_TOTAL - LEAK_FIRST)
        last = rss_mb(pid)
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
BUDGET_SCENARIOS = ("health", "write", "add_user", "get_cart_1", "get_cart_10", "get_cart_50")


def compare_workers(data: Data) -> list[dict]:
    """The scenarios the throughput budgets compare, under each worker configuration."""
    chosen = [s for s in scenarios(data) if s.name in BUDGET_SCENARIOS]
    rows = []
    for label, env in WORKER_CONFIGS.items():
        print(f"Workers: {label}", flush=True)
        with service(**env) as running:
            measured = [measure(running, scenario, data) for scenario in chosen]
            memory = running.memory()
        add_ratios(measured)
        rows += [{"workers": label, **row, "rss_mb": memory} for row in measured]
    return rows


# -- Report ----------------------------------------------------------------------------


def ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 3) if value is not None and base else None


def add_ratios(rows: list[dict], baselines: list[dict] | None = None) -> None:
    by_name = {row["scenario"]: row for row in baselines or rows}
    health, write = by_name.get("health", {}), by_name.get("write", {})
    for row in rows:
        row["rps_vs_health"] = ratio(row["rps"], health.get("rps"))
        row["rps_vs_write"] = ratio(row["rps"], write.get("rps"))
        row["p99_vs_write"] = ratio(row["p99_ms"], write.get("p99_ms"))


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
            elif isinstance(value, (int, float)) and values:
                row[key] = round(statistics.median(values), 3)
        row["rounds_rps"] = [r["rps"] for r in rows]
        merged.append(row)
    return merged


def budgets(
    rows: list[dict], paired: list[dict], memory: dict, leak: dict | None
) -> list[tuple[bool, str]]:
    by_name = {row["scenario"]: row for row in rows}
    ratios = {row["scenario"]: row for row in paired}
    add, write, added = by_name["add_user"], by_name["write"], ratios["add_user"]
    checks = [
        (
            added["ratio"] >= 0.7,
            f"add-to-cart (signed in) {added['rps']} req/s >= 70% of the write ceiling's "
            f"{added['baseline_rps']} in alternation ({added['ratio']:.0%})",
        ),
        (
            add["p99_vs_write"] <= 2,
            f"add-to-cart (signed in) p99 {add['p99_ms']} ms <= 2 x the write ceiling's "
            f"{write['p99_ms']} ms ({add['p99_vs_write']}x)",
        ),
    ]
    for n in (1, 10, 50):
        get = ratios[f"get_cart_{n}"]
        checks.append(
            (
                get["ratio"] >= 0.4,
                f"GET cart/ with {n} line(s) {get['rps']} req/s >= 40% of health's "
                f"{get['baseline_rps']} in alternation ({get['ratio']:.0%})",
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


def markdown(report: dict) -> str:
    lines = [
        f"Benchmark {report['started']}: {report['cores']} cores, {report['connections']} "
        f"connections, {report['rounds']} rounds of {report['seconds']} s per scenario",
    ]
    if report["scenarios"]:
        lines += [
            f"(path: once, at least 30 s), gunicorn {report['gunicorn']}; figures are medians "
            "of the rounds, ratios taken within each round",
            "",
            "| Scenario | req/s | p50 ms | p95 ms | p99 ms | errors | SQL/req "
            "| req/s vs health | req/s vs write | p99 vs write | req/s by round |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for row in report["scenarios"]:
            title = row["title"]
            if "paths_per_s" in row:
                title += f"; {row['paths_per_s']} paths/s"
            values = [row[k] for k in ("rps", "p50_ms", "p95_ms", "p99_ms", "errors")]
            values += [row[k] for k in ("sql_per_request", "rps_vs_health", "rps_vs_write")]
            values.append(row["p99_vs_write"])
            values.append(" / ".join(str(rps) for rps in row.get("rounds_rps", [])))
            lines.append(f"| {title} | " + " | ".join(cell(v) for v in values) + " |")
        memory = report["memory_mb"]
        lines += [
            "",
            "Worker RSS (MB) at the start: "
            + ", ".join(str(v) for v in memory["start"].values())
            + "; after the run: "
            + ", ".join(str(v) for v in memory["end"].values()),
        ]
    if report["paired"]:
        lines += [
            "",
            f"Throughput ratios measured in alternation ({PAIRS} pairs of {PAIR_SECONDS} s "
            "runs of the baseline and the scenario; the median pair's ratio; the budgets are "
            "judged on these):",
            "",
            "| Scenario | Baseline | req/s | baseline req/s | ratio | pairs, lowest to highest |",
            "| --- | --- | ---: | ---: | ---: | --- |",
        ]
        for row in report["paired"]:
            pairs = sorted(row["pair_ratios"])
            lines.append(
                f"| {row['scenario']} | {row['baseline']} | {row['rps']} | "
                f"{row['baseline_rps']} | {row['ratio']} | {pairs[0]} to {pairs[-1]} |"
            )
    if report["workers"]:
        lines += [
            "",
            "| Workers | Scenario | req/s | p50 ms | p99 ms | errors | req/s vs health "
            "| req/s vs write | worker RSS MB |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for row in report["workers"]:
            rss = ", ".join(str(v) for v in row["rss_mb"].values())
            values = [row[k] for k in ("rps", "p50_ms", "p99_ms", "errors")]
            values += [row["rps_vs_health"], row["rps_vs_write"]]
            lines.append(
                f"| {row['workers']} | {row['title']} | "
                + " | ".join(cell(v) for v in values)
                + f" | {rss} |"
            )
    if report["budgets"]:
        lines += ["", *(f"- {line}" for line in report["budgets"])]
    return "\n".join(lines) + "\n"


def main() -> int:
    only_workers = sys.argv[1:] == ["workers"]
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
        "gunicorn": f"addtocart/gunicorn.conf.py, WEB_CONCURRENCY={WORKERS}, "
        + os.environ.get("GUNICORN_WORKER_CLASS", "sync"),
        "gunicorn_version": gunicorn.__version__,
        "scenarios": [],
        "paired": [],
        "memory_mb": {},
        "leak": None,
        "workers": [],
        "budgets": [],
    }
    checks = []
    if not only_workers:
        with service() as running:
            report["memory_mb"]["start"] = running.memory()
            chosen = [s for s in scenarios(data) if not ONLY or s.name in ONLY]
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
            merged = median_of_rounds(rounds)
            by_name = {s.name: s for s in chosen}
            print(f"Alternation: {PAIRS} pairs of {PAIR_SECONDS} s runs", flush=True)
            report["paired"] = [
                alternated(running, by_name[name], by_name[baseline], data)
                for name, baseline in PAIRED
                if name in by_name and baseline in by_name
            ]
            once = [measure(running, s, data) for s in chosen if not s.in_rounds]
            add_ratios(once, baselines=merged)
            report["scenarios"] = merged + once
            report["memory_mb"]["end"] = running.memory()
        report["leak"] = None if ONLY else leak_check(data)
        checks = (
            []
            if ONLY
            else budgets(report["scenarios"], report["paired"], report["memory_mb"], report["leak"])
        )
        report["budgets"] = [f"{'PASS' if ok else 'FAIL'} {text}" for ok, text in checks]
    if only_workers or os.environ.get("BENCH_WORKERS") == "1":
        report["workers"] = compare_workers(data)

    stamp = started.replace(":", "")
    name = f"{stamp}-workers" if only_workers else stamp
    text = markdown(report)
    (RESULTS / f"{name}.md").write_text(text)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\n" + text + f"\nWritten: bench-results/{name}.md and .json")
    failed = [ok for ok, _ in checks if not ok]
    return 1 if STRICT and failed else 0


if __name__ == "__main__":
    sys.exit(main())
