"""The load: the scenarios, wrk's runs and their summaries, a measured scenario, the runs in
alternation behind the budgets' ratios, and the leak check's adds."""

import http.client
import itertools
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench import harness
from bench.config import (
    ADD_PRODUCTS,
    BASELINES,
    CONNECTIONS,
    LEAK_FIRST,
    LEAK_TOTAL,
    PAIR_SECONDS,
    PAIRS,
    PAYMENT_STUB_SECONDS,
    ROOT,
    SECONDS,
    THREADS,
    USERS,
    WARMUP,
)
from bench.data import Data, callers, close_db
from bench.servers import service


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
        Scenario(
            "add_user_code",
            "POST cart/items/, signed in, the cart holding a discount code",
            "add",
            prepare=data.add_user_code,
        ),
        Scenario(
            "add_bulk_10",
            "POST cart/items/ {items}, 10 entries at once, signed in",
            "add_bulk",
            prepare=data.add_user,
        ),
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
        Scenario(
            "get_cart_10_code",
            "GET cart/, 10 lines and a discount code",
            "get",
            "/api/v1/cart/",
            data.cart_with_code,
            kind="read",
        ),
        Scenario("patch", "PATCH cart/items/{id}/ quantity", "patch", prepare=data.update),
        Scenario("delete", "DELETE cart/items/{id}/", "delete", prepare=data.delete),
        # Each shopper checks out once, a cart of 3 lines filled beforehand.
        Scenario(
            "checkout",
            "POST cart/checkout/, 3 lines, no payment service",
            "checkout",
            prepare=data.checkout("checkout"),
        ),
        Scenario(
            "checkout_code",
            "POST cart/checkout/, 3 lines and a discount code, no payment service",
            "checkout",
            prepare=data.checkout("checkout_code"),
        ),
        Scenario(
            "checkout_paid",
            f"POST cart/checkout/, 3 lines, payment stub answering in "
            f"{PAYMENT_STUB_SECONDS * 1000:.0f} ms",
            "checkout",
            prepare=data.checkout("checkout_paid"),
            server="paying",
        ),
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
