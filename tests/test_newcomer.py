"""A newcomer's path: the `make run` script serves the service, and the walkthrough passes."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited:\n{process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"nothing answered at {url}")


@pytest.mark.slow
def test_make_run_serves_the_walkthrough(tmp_path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SECRET_KEY", "JWT_SIGNING_KEY", "REDIS_URL", "DEBUG"}
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
        wait_until_serving(f"http://127.0.0.1:{port}/api/v1/health/live", server)
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
