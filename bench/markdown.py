"""The written report: the Markdown tables of the rounds, the alternation, the profile, the
recycling and worker comparisons, and the budgets."""

from bench import profiling
from bench.config import (
    LEAK_FIRST,
    PAIR_SECONDS,
    PAIRS,
    PROFILE_RATE,
    PROFILE_SECONDS,
    RECYCLING_ROUNDS,
    SECONDS,
)


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
