"""`python -m bench.run recycling`: worker recycling on, off and larger, the three services up
at once and measured in alternation."""

import contextlib
import statistics

from bench.config import RECYCLED, RECYCLING, RECYCLING_ROUNDS, SECONDS, WARMUP
from bench.data import Data, close_db
from bench.load import scenarios, summary, wrk
from bench.servers import service


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
