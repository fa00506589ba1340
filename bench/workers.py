"""`python -m bench.run workers`: the budgets' scenarios under each gunicorn worker class and
count."""

from bench.config import JUDGED
from bench.data import Data
from bench.load import measure, scenarios
from bench.report import add_ratios
from bench.servers import servers

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
