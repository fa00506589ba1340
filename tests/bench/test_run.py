"""The benchmark's arithmetic (bench/report.py): ratios by kind, medians of rounds, budgets."""

from bench import config, report


def row(name: str, kind: str, rps: float, p99: float, **more) -> dict:
    return {"scenario": name, "kind": kind, "rps": rps, "p99_ms": p99, **more}


def test_each_request_is_compared_with_the_baselines_of_its_kind():
    rows = [
        row("bare_json", "read", 2000, 10),
        row("health", "read", 1000, 15),
        row("bare_write", "write", 500, 40),
        row("write", "write", 400, 45),
        row("get_cart_1", "read", 600, 25),
        row("add_user", "write", 350, 60),
    ]
    report.add_ratios(rows)
    by_name = {r["scenario"]: r for r in rows}

    assert by_name["get_cart_1"]["rps_vs_bare"] == 0.3
    assert by_name["get_cart_1"]["rps_vs_in_stack"] == 0.6
    assert by_name["add_user"]["rps_vs_bare"] == 0.7
    assert by_name["add_user"]["p99_vs_bare"] == 1.5
    assert by_name["health"]["rps_vs_bare"] == 0.5


def test_rounds_merge_into_medians_and_sums():
    rounds = [
        [row("health", "read", rps, p99, requests=10, errors=e)]
        for rps, p99, e in ((900, 20, 0), (1000, 30, 1), (1100, 10, 0))
    ]
    [merged] = report.median_of_rounds(rounds)

    assert merged["rps"] == 1000
    assert merged["p99_ms"] == 20
    assert merged["requests"] == 30
    assert merged["errors"] == 1
    assert merged["rounds_rps"] == [900, 1000, 1100]


def paired(name: str, ratio: float, p99_ratio: float) -> dict:
    bare, in_stack = config.BASELINES["write" if name == "add_user" else "read"]
    return {
        "scenario": name,
        "bare": bare,
        "in_stack": in_stack,
        "rps": 100,
        "bare_rps": 100 / ratio,
        "in_stack_rps": 100,
        "ratio_bare": ratio,
        "ratio_in_stack": 1.0,
        "p99_ms": 10,
        "bare_p99_ms": 10 / p99_ratio,
        "in_stack_p99_ms": 10,
        "p99_ratio_bare": p99_ratio,
        "p99_ratio_in_stack": 1.0,
        "tail_ratio_bare": round(p99_ratio * ratio, 3),
    }


def test_the_budgets():
    rows = [row(f"get_cart_{n}", "read", 1, 1, sql_per_request=1.0) for n in (1, 10, 50)]
    judged = [
        paired("add_user", 0.69, 1.5),
        paired("get_cart_1", 0.30, 1.2),
        paired("get_cart_10", 0.31, 6.0),  # p99 1.86x the bare's at equal throughput
        paired("get_cart_50", 0.5, 1.0),
    ]
    memory = {"start": {1: 60.0}, "end": {1: 149.9}}
    leak = {
        "requests": 20000,
        "rss_after_first_mb": 70.0,
        "rss_after_all_mb": 77.1,
        "growth_percent": 10.1,
        "same_worker": True,
    }
    verdicts = [ok for ok, _ in report.budgets(rows, judged, memory, leak)]

    # add >= 70 %, GET >= 30 % x 3; p99 <= 1.5x at equal throughput x 4; SQL; memory; leak
    assert verdicts == [False, True, True, True, True, True, False, True, True, True, False]
