"""`make run` (scripts/run-local.sh) runs every process the service needs: gunicorn, and the
checkout sweeper in the background, which stops with gunicorn. tests/test_newcomer.py walks
through the API it serves."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.support import ROOT, assert_released, database_url, expired_checkout
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


def test_make_run_sweeps_expired_checkouts_until_gunicorn_stops(tmp_path):
    attempt = expired_checkout(quantity=2, stock_left=8)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in UNSET}
    env.update(
        PORT=str(port),
        VENV=str(Path(sys.executable).parent.parent),
        DATABASE_URL=database_url(),
        LOCAL_ENV_FILE=str(tmp_path / "dev.env"),
        WEB_CONCURRENCY="1",
        SWEEPER_INTERVAL_SECONDS="1",
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
    try:
        wait_for(
            lambda: (
                server.poll() is None and http_ok(f"http://127.0.0.1:{port}/api/v1/health/live")
            ),
            seconds=60,
            what="make run's server",
        )
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
    finally:
        if server.poll() is None or group_alive(server.pid):
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
