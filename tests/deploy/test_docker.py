"""The container image: the Dockerfile is linted and read, and its build steps are repeated
without Docker (no engine here): a clean virtualenv from requirements.txt, the static files,
and the entrypoint serving until SIGTERM."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.deploy.support import ROOT, run, tool

DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "deploy" / "docker-entrypoint.sh"
# What the Dockerfile's collectstatic line sets, for that one command.
BUILD_ENV = {
    "DJANGO_SECRET_KEY": "build-only",
    "JWT_SIGNING_KEY": "build-only-jwt",
    "DATABASE_URL": "sqlite:///:memory:",
    "ALLOWED_HOSTS": "localhost",
}


def instructions() -> list[tuple[int, str, str]]:
    """(stage, INSTRUCTION, arguments) for each instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result, stage = [], -1
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        result.append((stage, keyword.upper(), " ".join(arguments.split())))
    return result


def final_stage() -> list[tuple[str, str]]:
    everything = instructions()
    last = everything[-1][0]
    return [(keyword, arguments) for stage, keyword, arguments in everything if stage == last]


def test_hadolint_finds_nothing():
    result = run([tool("hadolint"), "--failure-threshold", "style", str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_does_lint(tmp_path):
    """A control: the same call flags a Dockerfile with well-known faults."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    result = run([tool("hadolint"), "--failure-threshold", "style", str(bad)])
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag
    assert "DL3042" in result.stdout  # pip cache


def test_two_stages_on_python_slim():
    froms = [arguments for _, keyword, arguments in instructions() if keyword == "FROM"]
    assert froms == ["python:3.11-slim AS build", "python:3.11-slim"]


def test_build_stage_installs_requirements_into_a_venv_without_cache():
    runs = [arguments for stage, keyword, arguments in instructions() if keyword == "RUN"]
    assert "python -m venv /opt/venv" in runs
    assert "/opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt" in runs


def test_collectstatic_gets_placeholder_secrets_for_that_command_only():
    collect = [
        arguments
        for _, keyword, arguments in instructions()
        if keyword == "RUN" and "collectstatic" in arguments
    ]
    assert len(collect) == 1
    placeholders = " ".join(f"{key}={value}" for key, value in BUILD_ENV.items())
    assert collect[0].startswith(placeholders + " ")
    assert "manage.py collectstatic --no-input" in collect[0]
    for _, keyword, arguments in instructions():
        if keyword in {"ENV", "ARG"}:
            assert not re.search(r"SECRET|JWT|DATABASE_URL|REDIS_URL|TOKEN", arguments), arguments


def test_final_stage_has_the_venv_and_the_code_and_runs_as_uid_10001():
    stage = final_stage()
    copies = [arguments for keyword, arguments in stage if keyword in {"COPY", "ADD"}]
    assert copies == ["--from=build /opt/venv /opt/venv", "--from=build /app /app"]
    assert not [arguments for keyword, arguments in stage if "pip" in arguments]
    assert ("USER", "10001:10001") in stage
    assert ("EXPOSE", "8000") in stage
    env = " ".join(arguments for keyword, arguments in stage if keyword == "ENV")
    assert "PATH=/opt/venv/bin:$PATH" in env


def healthcheck_command() -> list[str]:
    (arguments,) = [arguments for keyword, arguments in final_stage() if keyword == "HEALTHCHECK"]
    return json.loads(arguments.split(" CMD ", 1)[1])


def test_healthcheck_asks_liveness_with_python():
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    assert "urllib.request" in command[2]
    assert "/api/v1/health/live" in command[2]


def test_entrypoint_execs_gunicorn():
    (arguments,) = [arguments for keyword, arguments in final_stage() if keyword == "ENTRYPOINT"]
    assert json.loads(arguments) == ["/app/deploy/docker-entrypoint.sh"]
    assert os.access(ENTRYPOINT, os.X_OK)
    script = ENTRYPOINT.read_text()
    assert "exec gunicorn -c addtocart/gunicorn.conf.py addtocart.wsgi" in script
    assert 'exec "$@"' in script


def dockerignore() -> list[tuple[bool, str, re.Pattern]]:
    """The .dockerignore rules as (exception, pattern, regex), for the simple patterns it
    uses: names, `*`, a leading `**/` and `!` exceptions."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = line.removeprefix("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
        rules.append((exception, pattern, re.compile(regex)))
    return rules


def ignored(relative: str, rules) -> bool:
    """Docker's rule: the last matching line wins; a folder that matches takes its contents."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for exception, _, regex in rules:
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            result = not exception
    return result


def build_context(destination: Path) -> Path:
    """Copy what `docker build .` would send: the work tree less .dockerignore."""
    rules = dockerignore()
    for folder, subfolders, files in os.walk(ROOT):
        relative_folder = Path(folder).relative_to(ROOT)
        # Skip ignored folders (.git, .venv, ...) unless an exception keeps a file inside.
        subfolders[:] = [
            name
            for name in subfolders
            if not ignored((relative_folder / name).as_posix(), rules)
            or any(
                exception and pattern.startswith(f"{(relative_folder / name).as_posix()}/")
                for exception, pattern, _ in rules
            )
        ]
        for name in files:
            relative = (relative_folder / name).as_posix()
            if not ignored(relative, rules):
                target = destination / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / relative, target)
    return destination


def test_dockerignore_leaves_out_local_state_and_keeps_the_code():
    rules = dockerignore()
    for path in [
        ".git/HEAD",
        ".venv/bin/python",
        ".local/dev.env",
        ".env",
        "db.sqlite3",
        "db.sqlite3-wal",
        "staticfiles/staticfiles.json",
        "bench-results/x.json",
        "test-artifacts/x.log",
        "carts/__pycache__/models.cpython-311.pyc",
        "tests/test_newcomer.py",
        "bench/run.py",
        "deploy/k8s/base/deployment.yaml",
        ".cache/promtool/promtool",
    ]:
        assert ignored(path, rules), path
    for path in [
        "manage.py",
        "requirements.txt",
        "addtocart/settings.py",
        "carts/models.py",
        "health/views.py",
        "templates",
        "deploy/docker-entrypoint.sh",
    ]:
        assert not ignored(path, rules), path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_image_build_steps_work_without_docker(tmp_path):
    """The Dockerfile's steps on a copy of the build context: a new virtualenv with
    `pip install --no-cache-dir -r requirements.txt`, `manage.py check` and `collectstatic`
    with the build-time settings only, then the entrypoint serving, the HEALTHCHECK command
    passing, and SIGTERM stopping gunicorn cleanly."""
    context = build_context(tmp_path / "app")
    assert (context / "manage.py").exists()
    assert not (context / ".venv").exists()
    assert not (context / "tests").exists()

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_ = venv / "bin"
    # The environment a `RUN` line has: nothing of ours (pytest sets DATABASE_URL and more).
    base_env = {"PATH": f"{bin_}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    install = run(
        [str(bin_ / "pip"), "install", "--no-cache-dir", "-r", "requirements.txt"],
        cwd=context,
        env={**base_env, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        timeout=600,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    build_env = {**base_env, **BUILD_ENV}
    check = run([str(bin_ / "python"), "manage.py", "check"], cwd=context, env=build_env)
    assert check.returncode == 0, check.stdout + check.stderr
    collect = run(
        [str(bin_ / "python"), "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=context,
        env=build_env,
    )
    assert collect.returncode == 0, collect.stdout + collect.stderr
    manifest = json.loads((context / "staticfiles" / "staticfiles.json").read_text())
    assert "admin/css/base.css" in manifest["paths"]

    # Run as the image does: the entrypoint, the settings from the environment.
    port = free_port()
    serve_env = {
        **base_env,
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "DJANGO_SECRET_KEY": "test-runtime-secret",
        "JWT_SIGNING_KEY": "test-runtime-jwt",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        # 127.0.0.1: the HEALTHCHECK's host, as the Dockerfile's comment says.
        "ALLOWED_HOSTS": "127.0.0.1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    server = subprocess.Popen(
        [str(context / "deploy" / "docker-entrypoint.sh")],
        cwd=context,
        env=serve_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v1/health/live"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, f"nothing answered at {url}"
                time.sleep(0.3)
        healthcheck = run(healthcheck_command(), cwd=context, env=serve_env, timeout=10)
        assert healthcheck.returncode == 0, healthcheck.stderr
        # The entrypoint exec'd gunicorn: the process we started is gunicorn's master.
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
