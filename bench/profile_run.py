"""`python -m bench.run profile`: one worker, one connection, py-spy sampling the worker, the
time of each request summed into the stack's parts (bench/profiling.py)."""

import shutil
import subprocess
import sys
from pathlib import Path

from bench import profiling
from bench.config import ONLY, PROFILE_RATE, PROFILE_SECONDS, PROFILED, PROFILES, WARMUP
from bench.data import Data, close_db
from bench.load import Scenario, scenarios, summary, wrk
from bench.servers import servers


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
