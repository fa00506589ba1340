"""A newcomer's path: the `make run` script serves the service, and the walkthrough passes."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import ROOT, free_port, http_ok, wait_for


@pytest.mark.slow
def test_make_run_serves_the_walkthrough(tmp_path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DJANGO_SECRET_KEY",
            "JWT_SIGNING_KEY",
            "REDIS_URL",
            "DEBUG",
            "ALLOWED_HOSTS",
            "SECURE_SSL_REDIRECT",
            "SECURE_COOKIES",
        }
    }
    env.update(
        PORT=str(port),
        VENV=str(Path(sys.executable).parent.parent),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        LOCAL_ENV_FILE=str(tmp_path / "dev.env"),
        WEB_CONCURRENCY="2",
    )
    server = subprocess.Popen(
        ["scripts/run-local.sh"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: (
                server.poll() is None and http_ok(f"http://127.0.0.1:{port}/api/v1/health/live")
            ),
            seconds=60,
            what="make run's server",
        )
        walk = subprocess.run(
            [sys.executable, "scripts/walkthrough.py", f"http://127.0.0.1:{port}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert walk.returncode == 0, walk.stdout + walk.stderr
        assert "walkthrough passed" in walk.stdout
        generated = (tmp_path / "dev.env").read_text()
        assert "DJANGO_SECRET_KEY=" in generated
        assert "DJANGO_SUPERUSER_PASSWORD=" in generated
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert "Staff login for" in output
    assert "Demo catalog: 10 created" in output
