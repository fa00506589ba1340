"""Real processes for tests: the service under gunicorn, a private Redis, a private PostgreSQL,
and JSON HTTP stand-ins for the external services.

Each is started on a free loopback port, waited for, and stopped by its context manager, so
a test can break a dependency for real (stop it) and watch the service cope.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import pytest
import requests

from bench import harness

ROOT = harness.ROOT
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)
# The service under gunicorn: started as the benchmark starts it (bench/harness.py).
Service = harness.Gunicorn
free_port = harness.free_port


def wait_for(check, seconds: float = 30, what: str = "the service") -> None:
    try:
        harness.wait_until(check, seconds, what)
    except harness.NotReady as error:
        pytest.fail(str(error))


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def service_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update({"GUNICORN_ACCESS_LOG": "", "LOG_LEVEL": "warning", **overrides})
    return env


@contextlib.contextmanager
def gunicorn(workers: int = 2, **env: str) -> Iterator[Service]:
    """The service as production runs it (addtocart/gunicorn.conf.py), `env` on top; its
    output is `service.output()`, all of it once the block has ended."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with harness.gunicorn(
                service_env(WEB_CONCURRENCY=str(workers), **env),
                Path(tmp) / "service.log",
                seconds=30,
            ) as service:
                yield service
        except harness.NotReady as error:
            pytest.fail(str(error))


class LocalServer:
    """A server process of a test's own; `stop` ends it."""

    process: subprocess.Popen | None = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class Redis(LocalServer):
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for(self.answers, what="redis-server")

    def answers(self) -> bool:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True, timeout=5
        )
        return result.stdout.strip() == "PONG"

    def cli(self, *args: str) -> str:
        return subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=5
        ).stdout


@contextlib.contextmanager
def private_redis() -> Iterator[Redis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = Redis(free_port())
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


class Postgres:
    """A throw-away PostgreSQL cluster owned by the `postgres` user, which can be stopped."""

    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port
        self.url = f"postgres://postgres@127.0.0.1:{port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        self._as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.data / "log"),
            "-o",
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1",
            "start",
        )

    def stop(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop")


@contextlib.contextmanager
def private_postgres() -> Iterator[Postgres]:
    if PG_BIN is None or os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs PostgreSQL's server binaries and root to run them as `postgres`")
    tmp = Path(tempfile.mkdtemp(prefix="addtocart-pg-"))
    shutil.chown(tmp, "postgres")
    postgres = Postgres(tmp / "data", free_port())
    try:
        postgres._as_postgres(
            str(PG_BIN / "initdb"),
            "-D",
            str(postgres.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        )
        postgres.start()
        yield postgres
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            postgres.stop()
        shutil.rmtree(tmp, ignore_errors=True)


Respond = Callable[[str, str, object | None], tuple[int, object]]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up is no news
            super().handle_error(request, client_address)


class JsonService:
    """A JSON HTTP server on a free loopback port, serving from a thread until stop().

    `respond(method, path, body)` answers every request with `(status, body)`; the request's
    body is its parsed JSON, or None when it has none. Usable as a context manager.
    """

    def __init__(self, respond: Respond) -> None:
        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                status, payload = respond(self.command, self.path, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

            def log_message(self, *args) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Guest:
    """A guest shopper talking to a live service: keeps the session id its first successful
    change was given."""

    def __init__(self, base: str, timeout: float = 15) -> None:
        self.base, self.session_id, self.timeout = base, "", timeout

    def add(self, product_id: int, quantity: int = 1) -> requests.Response:
        response = requests.post(
            f"{self.base}/api/v1/cart/items/",
            json={"product_id": product_id, "quantity": quantity},
            headers={"X-Session-ID": self.session_id},
            timeout=self.timeout,
        )
        if response.status_code < 300:
            self.session_id = response.headers.get("X-Session-ID", self.session_id)
        return response

    def cart(self) -> dict:
        return requests.get(
            f"{self.base}/api/v1/cart/",
            headers={"X-Session-ID": self.session_id},
            timeout=self.timeout,
        ).json()
