"""`make run` (scripts/run-local.sh) runs every process the service needs: gunicorn, and the
checkout sweeper and the webhook worker in the background, which stop with gunicorn. It makes
a health token like its other secrets, keeps it in .local/dev.env, and prints it.
tests/test_newcomer.py walks through the API it serves."""

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from events.models import WebhookEndpoint
from integrations.webhooks import webhook_secret_new
from tests.deploy.support import ROOT, assert_released, database_url, expired_checkout
from tests.factories import ProductFactory
from tests.integrations.receiver import Receiver
from tests.live import free_port, http_ok, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

UNSET = {"DJANGO_SECRET_KEY", "JWT_SIGNING_KEY", "REDIS_URL", "DEBUG", "ALLOWED_HOSTS"}


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def sweeper_lines(log: Path) -> list[dict]:
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [record for record in records if record.get("logger") == "carts.sweeper"]


@contextlib.contextmanager
def make_run(tmp_path: Path, **overrides: str) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    """scripts/run-local.sh with its secrets in tmp_path/dev.env, until it has served
    /api/v1/health/live: the process (in a group of its own), its URL and its output."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in UNSET}
    env.update(
        PORT=str(port),
        VENV=str(Path(sys.executable).parent.parent),
        DATABASE_URL=database_url(),
        LOCAL_ENV_FILE=str(tmp_path / "dev.env"),
        WEB_CONCURRENCY="1",
        **overrides,
    )
    log = tmp_path / "run.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            ["scripts/run-local.sh"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the script, gunicorn, the loop
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: server.poll() is None and http_ok(f"{url}/api/v1/health/live"),
            seconds=60,
            what="make run's server",
        )
        yield server, url, log
    finally:
        if server.poll() is None or group_alive(server.pid):
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def dev_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def status(url: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.get(url, headers=headers, timeout=10).status_code


def test_make_run_sweeps_expired_checkouts_until_gunicorn_stops(tmp_path):
    attempt = expired_checkout(quantity=2, stock_left=8)
    with make_run(tmp_path, SWEEPER_INTERVAL_SECONDS="1") as (server, _url, log):
        wait_for(lambda: sweeper_lines(log), seconds=60, what="the sweeper's log line")
        assert_released(attempt, stock=10)
        (logged,) = sweeper_lines(log)
        assert logged["level"] == "WARNING"
        assert logged["message"].startswith("Checkout sweeper: expired checkouts: {'released': 1}")
        # Its summary line, every minute, would drown gunicorn's lines.
        assert not [line for line in log.read_text().splitlines() if line.startswith("expired")]

        os.kill(server.pid, signal.SIGTERM)  # gunicorn alone, as if it stopped by itself
        assert server.wait(timeout=30) == 0
        wait_for(lambda: not group_alive(server.pid), seconds=30, what="the sweeper loop to end")


def test_make_run_generates_a_health_token_and_prints_how_to_use_it(tmp_path):
    with make_run(tmp_path) as (_server, url, log):
        token = dev_env(tmp_path / "dev.env")["HEALTH_TOKEN"]
        assert len(token) >= 32
        banner = log.read_text()
        assert (
            f"Health token (HEALTH_TOKEN, for /metrics and the health details): {token}" in banner
        )
        # The banner's curl example works as printed.
        (example,) = [line.strip() for line in banner.splitlines() if "curl " in line]
        assert f"Authorization: Bearer {token}" in example
        port = url.rsplit(":", 1)[1]
        assert f"http://localhost:{port}/" in example
        shown = subprocess.run(
            ["bash", "-c", example], capture_output=True, text=True, timeout=30, check=True
        )
        assert json.loads(shown.stdout)["checks"]["database"]["status"] == "up"
        assert status(f"{url}/metrics") == 401
        assert status(f"{url}/metrics", token) == 200
        assert status(f"{url}/api/v1/health/detailed") == 401


def test_make_run_adds_a_health_token_to_an_older_dev_env_and_prefers_the_environments(
    tmp_path,
):
    older = {
        "DJANGO_SECRET_KEY": "an-older-dev-env-django-secret-key-0123456789",
        "JWT_SIGNING_KEY": "an-older-dev-env-jwt-signing-key-0123456789",
        "DJANGO_SUPERUSER_USERNAME": "admin",
        "DJANGO_SUPERUSER_PASSWORD": "an-older-password",
    }
    (tmp_path / "dev.env").write_text("".join(f"{k}={v}\n" for k, v in older.items()))
    chosen = "a-health-token-chosen-in-the-environment-0123"
    with make_run(tmp_path, HEALTH_TOKEN=chosen) as (_server, url, log):
        kept = dev_env(tmp_path / "dev.env")
        added = kept.pop("HEALTH_TOKEN")
        assert kept == older, "the older secrets are kept as they were"
        assert len(added) >= 32
        assert added != chosen
        assert f"Added a HEALTH_TOKEN to {tmp_path / 'dev.env'}" in log.read_text()
        assert f"health details): {chosen}" in log.read_text()
        assert status(f"{url}/metrics", chosen) == 200
        assert status(f"{url}/metrics", added) == 401


def test_make_run_delivers_webhooks_until_gunicorn_stops(tmp_path):
    """The worker runs beside gunicorn: an event reaches a receiver, and the worker stops
    when gunicorn does."""
    with Receiver() as receiver, make_run(tmp_path) as (server, url, _log):
        endpoint = WebhookEndpoint.objects.create(
            url=f"{receiver.url}/hooks", events=["*"], secret=webhook_secret_new()
        )
        added = requests.post(
            f"{url}/api/v1/cart/items/", json={"product_id": ProductFactory().pk}, timeout=10
        )
        assert added.status_code == 201, added.text
        wait_for(lambda: receiver.requests, seconds=30, what="the webhook")
        assert json.loads(receiver.requests[0]["body"])["type"] == "cart.created"
        assert WebhookEndpoint.objects.get(pk=endpoint.pk).last_success_at is not None

        os.kill(server.pid, signal.SIGTERM)  # gunicorn alone, as if it stopped by itself
        assert server.wait(timeout=30) == 0
        wait_for(lambda: not group_alive(server.pid), seconds=30, what="the worker to stop")
