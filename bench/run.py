"""`make bench`: load the service as production runs it, beside bare baselines, and check the
budgets (docs/performance.md).

It recreates the benchmark database and Redis database, migrates and seeds, then starts two
gunicorns with the same settings (addtocart/gunicorn.conf.py's, read under this environment),
both up at once:

- the service, with `bench.settings`: production's settings plus the in-stack baselines
  (`health`, and `write`: the bare project's write view, bench/urls.py) and a per-request
  SQL counter;
- the bare baselines (bench/bare/): Django + DRF with no middleware but that counter, a DRF
  write (`bare_write`: a primary-key SELECT and an UPDATE in a transaction) and a plain
  `JsonResponse` (`bare_json`).

With `checkout_paid` among the scenarios, a third: the service with PAYMENT_SERVICE_URL set to
a stub approving in 50 ms (bench/payment_stub.py).

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

This module holds the entry point and the orchestration of a run; the parts live beside it:
bench/config.py (the settings), bench/data.py (database, Redis, seeded data), bench/servers.py
(the two gunicorns), bench/load.py (scenarios, wrk, alternation, leak check), bench/report.py
(ratios, medians, budgets), bench/markdown.py (the written report), and one module per other
mode: bench/profile_run.py, bench/recycling.py, bench/workers.py.
"""

import json
import os
import sys
from datetime import UTC, datetime

from bench import harness
from bench.config import (
    CONNECTIONS,
    DATABASE_URL,
    JUDGED,
    ONLY,
    PAIR_SECONDS,
    PAIRS,
    PROFILE,
    REDIS_URL,
    RESULTS,
    ROUNDS,
    SECONDS,
    SERVICE_ENV,
    STRICT,
)
from bench.data import Data, recreate_database, setup_django
from bench.load import alternated, leak_check, measure, scenarios
from bench.markdown import markdown
from bench.profile_run import profile
from bench.recycling import compare_recycling
from bench.report import add_ratios, budgets, median_of_rounds
from bench.servers import servers
from bench.workers import compare_workers


def describe(settings: dict) -> str:
    keys = ("workers", "worker_class", "threads", "max_requests", "max_requests_jitter")
    keys += ("keepalive", "timeout", "preload_app")
    return ", ".join(f"{key}={settings.get(key)}" for key in keys)


def run_benchmark(report: dict, data: Data) -> None:
    """The rounds, the alternation, `path`, then the leak check and the profile."""
    every = scenarios(data)
    by_name = {s.name: s for s in every}
    chosen = [s for s in every if not ONLY or s.name in ONLY]
    with servers(paying=any(s.server == "paying" for s in chosen)) as running:
        report["gunicorn"] = describe(running["settings"])
        report["memory_mb"]["start"] = running["service"].memory()
        rounds = []
        for number in range(ROUNDS):
            print(f"Round {number + 1} of {ROUNDS}", flush=True)
            rows = []
            for scenario in (s for s in chosen if s.in_rounds):
                rows.append(measure(running, scenario, data, warm_up=number == 0))
                if scenario.name in data.rates:
                    data.rates[scenario.name] = rows[-1]["rps"]
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
