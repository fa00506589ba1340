"""gunicorn on a free loopback port, waited for and stopped: the one way the benchmark
(bench/run.py) and the tests (tests/live.py) start a server.

`gunicorn()` runs an app under a gunicorn config file (the service's, addtocart/gunicorn.conf.py,
unless told otherwise) in its own session, waits until a URL answers 200 (and, if asked, until
every worker is up), and on exit sends SIGTERM to the whole group, then SIGKILL after 30 s.
This module imports nothing of the service: the bare baselines (bench/bare/) start with it too.
"""

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SERVICE_CONFIG = "addtocart/gunicorn.conf.py"
SERVICE_APP = "addtocart.wsgi"
READY_PATH = "/api/v1/health/live"


class NotReady(RuntimeError):
    """The server did not answer in time, or its process ended first."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], seconds: float = 30, what: str = "the server") -> None:
    """Call `check` every 0.2 s until it returns true; NotReady after `seconds`. A check that
    raises OSError or SubprocessError counts as not yet."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            if check():
                return
        time.sleep(0.2)
    raise NotReady(f"{what} did not come up within {seconds} s")


def answers(url: str, timeout: float = 2) -> bool:
    """Whether a GET of `url` answers 200 (no redirect followed, no exception raised)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("GET", parts.path or "/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def worker_pids(master: int) -> list[int]:
    """The pids of a process's children (a gunicorn master's workers), sorted."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
    return sorted(pids)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Gunicorn:
    """A running gunicorn: its master process, port, URL and log."""

    def __init__(self, process: subprocess.Popen, port: int, log: Path, start: int = 0) -> None:
        self.process, self.port, self.log = process, port, log
        self.url = f"http://127.0.0.1:{port}"
        self._start = start  # where this server's lines begin in a log shared with others
        self.final_output: str | None = None

    def output(self) -> str:
        """What the server printed so far (all of it once it has stopped)."""
        if self.final_output is not None:
            return self.final_output
        with self.log.open(errors="replace") as log:
            log.seek(self._start)
            return log.read()

    def workers(self) -> list[int]:
        return worker_pids(self.process.pid)

    def memory(self) -> dict[int, float]:
        """RSS in MB of each worker, by pid."""
        return {pid: round(rss_mb(pid), 1) for pid in self.workers()}


def command(app: str = SERVICE_APP, config: str = SERVICE_CONFIG) -> list[str]:
    return [str(Path(sys.executable).parent / "gunicorn"), "-c", config, app]


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str],
    log: Path,
    *,
    app: str = SERVICE_APP,
    config: str = SERVICE_CONFIG,
    ready: str = READY_PATH,
    workers: int | None = None,
    seconds: float = 60,
    cwd: Path = ROOT,
) -> Iterator[Gunicorn]:
    """Serve `app` with `config` and exactly the environment `env` (plus PORT), output appended
    to `log`. Ready once `ready` answers 200 and, with `workers`, that many workers run.
    `cwd` is the project served (another checkout of it, to measure older code)."""
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        start = out.tell()
        process = subprocess.Popen(
            command(app, config),
            cwd=cwd,
            env={**env, "PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Gunicorn(process, port, log, start)
    try:

        def up() -> bool:
            if process.poll() is not None:
                raise NotReady(f"gunicorn ({app}) exited with {process.returncode}")
            return answers(server.url + ready) and (
                workers is None or len(server.workers()) == workers
            )

        wait_until(up, seconds, what=f"gunicorn ({app})")
        yield server
    finally:
        stop(server)
        server.final_output = server.output()


def stop(server: Gunicorn, seconds: float = 30) -> None:
    """SIGTERM to the server's process group (graceful), SIGKILL if it outlives `seconds`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=seconds)


# Settings of a config file that the bare baselines do not take: their own port, and the
# service's JSON logging, which names the service's formatter.
NOT_COPIED = {"bind", "logconfig_dict", "logconfig", "logconfig_json"}


def config_settings(env: dict[str, str], config: str = SERVICE_CONFIG) -> dict:
    """The gunicorn settings `config` gives under `env` (workers, worker class, timeouts,
    max_requests...), read by gunicorn's own rules in a child process, so that another app can
    run with the same ones (bench/bare/gunicorn.conf.py) without importing the service.
    Hooks and anything that is not plain data are left out."""
    script = (
        "import json, runpy\n"
        "from gunicorn.config import Config\n"
        f"names = Config().settings.keys() - set({sorted(NOT_COPIED)!r})\n"
        f"found = runpy.run_path({config!r})\n"
        "plain = (str, int, float, bool, type(None))\n"
        "print(json.dumps({k: v for k, v in found.items() if k in names "
        "and isinstance(v, plain)}))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(finished.stdout.strip().splitlines()[-1])
