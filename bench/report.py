"""The benchmark's arithmetic: ratios to the baselines, medians of the rounds, and the
budgets (docs/performance.md) as PASS/FAIL checks."""

import statistics

from bench.config import BASELINES, JUDGED, LEAK_FIRST


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
