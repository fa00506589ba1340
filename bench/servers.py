"""The servers under load: the service and the bare baselines, each under gunicorn with the
same settings (bench/harness.py starts them), and beside the service its webhook worker."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

from bench import harness
from bench.config import BARE_ENV, PAYMENT_STUB_SECONDS, RESULTS, SERVICE_ENV
from bench.payment_stub import payment_stub


@contextlib.contextmanager
def service(**env: str) -> Iterator[harness.Gunicorn]:
    """The service under gunicorn as production runs it, with `env` on top."""
    metrics_dir = tempfile.mkdtemp(prefix="addtocart-bench-prometheus-")
    full = {**os.environ, **SERVICE_ENV, "PROMETHEUS_MULTIPROC_DIR": metrics_dir, **env}
    workers = harness.config_settings(full)["workers"]
    try:
        with (
            webhook_worker(full),
            harness.gunicorn(full, RESULTS / "service.log", workers=workers) as running,
        ):
            yield running
    except harness.NotReady as error:
        sys.exit(f"{error}; see bench-results/service.log")
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


@contextlib.contextmanager
def webhook_worker(env: dict[str, str]) -> Iterator[None]:
    """`manage.py deliver_webhooks` as production runs it beside the service. With no endpoint
    it only relays: it gives the adds' events their positions and sequences, writes that
    share the database (and its WAL) with the adds under load."""
    log = RESULTS / "webhook-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    with log.open("a") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "deliver_webhooks"],
            cwd=harness.ROOT,
            env={**env, "WEBHOOK_WORKER_PORT": "0"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        harness.wait_until(
            lambda: '"webhook worker started"' in log.read_text(), 60, "the webhook worker"
        )
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


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
def servers(paying: bool = False, **env: str) -> Iterator[dict]:
    """The service and the bare baselines, both up, with the same gunicorn settings; with
    `paying`, a third: the service with a payment service, a stub answering in
    PAYMENT_STUB_SECONDS (for `checkout_paid`)."""
    settings = harness.config_settings({**os.environ, **SERVICE_ENV, **env})
    with contextlib.ExitStack() as stack:
        running = {
            "service": stack.enter_context(service(**env)),
            "bare": stack.enter_context(bare(settings)),
            "settings": settings,
        }
        if paying:
            stub = stack.enter_context(payment_stub(PAYMENT_STUB_SECONDS))
            running["paying"] = stack.enter_context(service(**env, PAYMENT_SERVICE_URL=stub.url))
        yield running
