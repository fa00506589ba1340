"""Logs as operators read them: JSON lines with the request id, one "request" event per request,
slow queries, security events and Redis failures, from the configured handler and real processes.
"""

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.db.backends.postgresql.base import DatabaseWrapper
from django_redis.cache import RedisCache
from prometheus_client import REGISTRY
from pythonjsonlogger.json import JsonFormatter

from addtocart.api.problems import problem_exception_handler
from addtocart.observability.logging import REQUEST_ID
from tests.live import free_port, http_ok, wait_for

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "/api/v1/auth/token/"
ITEM = "/api/v1/cart/items/123456789/"


class Logs:
    """What the configured stdout handler wrote, one parsed JSON object a line."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines()]

    def where(self, **fields) -> list[dict]:
        return [line for line in self.lines() if fields.items() <= line.items()]


@pytest.fixture
def logs(caplog):
    handler = next(
        h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    caplog.set_level(logging.INFO)
    yield Logs(stream)
    handler.setStream(previous)


def requests_logged(logs: Logs) -> list[dict]:
    return logs.where(logger="addtocart.request", message="request")


# Request ids


def test_a_request_id_is_made_echoed_and_logged(api, logs):
    response = api.get("/api/v1/cart/")
    request_id = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert [event["request_id"] for event in requests_logged(logs)] == [request_id]
    assert api.get("/api/v1/cart/")["X-Request-ID"] != request_id


def test_a_sane_request_id_from_the_caller_is_kept(api, logs):
    response = api.get("/api/v1/cart/", HTTP_X_REQUEST_ID="edge-42.Retry_1")
    assert response["X-Request-ID"] == "edge-42.Retry_1"
    assert requests_logged(logs)[0]["request_id"] == "edge-42.Retry_1"


@pytest.mark.parametrize("given", ["x" * 129, "has space", "a;b", '"quoted"', "é"])
def test_an_insane_request_id_is_replaced(api, given):
    response = api.get("/api/v1/cart/", HTTP_X_REQUEST_ID=given)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_every_record_written_during_a_request_carries_its_id(api, logs, settings, product):
    settings.SLOW_QUERY_MS = 0  # every query logs a warning: several records from other loggers
    response = api.get("/api/v1/products/")
    assert response.status_code == 200
    lines = logs.lines()
    assert {line["logger"] for line in lines} >= {"addtocart.db", "addtocart.request"}
    assert {line.get("request_id") for line in lines} == {response["X-Request-ID"]}
    assert REQUEST_ID.get() is None


# The request event and the metrics


def test_one_request_event_with_the_url_pattern_not_the_path(user_api, user, logs):
    response = user_api.patch(ITEM, {"quantity": 1}, format="json")
    assert response.status_code == 404
    [event] = requests_logged(logs)
    assert event["route"] == "api/v1/cart/items/<int:item_id>/"
    assert event["method"] == "PATCH"
    assert event["status"] == 404
    assert event["user_id"] == str(user.pk)
    assert event["client_ip"] == "127.0.0.1"
    assert isinstance(event["duration_ms"], float)
    assert event["level"] == "INFO"
    assert set(event) >= {"timestamp", "level", "logger", "message", "request_id"}


def test_urls_no_pattern_matched_have_one_route(api, logs):
    assert api.get("/api/v1/no/such/thing/42/").status_code == 404
    assert requests_logged(logs)[0]["route"] == "unmatched"


def test_requests_are_counted_by_method_route_and_status(api):
    def count(route: str, status: str) -> float:
        labels = {"method": "GET", "route": route, "status": status}
        return REGISTRY.get_sample_value("http_requests_total", labels) or 0

    before = count("api/v1/cart/", "200"), count("unmatched", "404")
    api.get("/api/v1/cart/")
    api.get("/api/v1/cart/")
    api.get("/api/v1/no/such/thing/42/")
    assert (count("api/v1/cart/", "200"), count("unmatched", "404")) == (
        before[0] + 2,
        before[1] + 1,
    )


def test_client_ip_behind_trusted_proxies(api, logs, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    api.get("/api/v1/cart/", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7")
    assert requests_logged(logs)[0]["client_ip"] == "198.51.100.7"


# Slow queries


def test_a_slow_query_logs_its_sql_without_its_parameters(db, logs, settings):
    settings.SLOW_QUERY_MS = 100
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT pg_sleep(%s), %s", [0.15, "secret-parameter-value"])
    [event] = logs.where(logger="addtocart.db")
    assert event["level"] == "WARNING"
    assert "slow query" in event["message"]
    assert event["sql"] == "SELECT pg_sleep(%s), %s"
    assert event["duration_ms"] >= 150
    assert "secret-parameter-value" not in logs.text
    assert "0.15" not in logs.text


def test_a_slow_prepared_statement_logs_the_sql_it_was_prepared_from(user_api, logs, settings):
    if connection.vendor != "postgresql":
        pytest.skip("statements are prepared on PostgreSQL only")
    settings.SLOW_QUERY_MS = 0
    assert user_api.get("/api/v1/cart/").status_code == 200
    [event] = [e for e in logs.where(logger="addtocart.db") if "carts_cart h" in e["sql"]]
    assert "SELECT h.id, h.user_id" in event["sql"]
    assert "%s" in event["sql"]


# Security events


def test_a_failed_login_logs_the_user_name_never_the_password(api, user, logs):
    attempt = {"username": user.username, "password": "wrong-secret-passphrase"}
    assert api.post(TOKEN, attempt, format="json").status_code == 401
    [event] = logs.where(logger="addtocart.security")
    assert event["level"] == "WARNING"
    assert "unauthorized" in event["message"]
    assert event["username"] == user.username
    assert event["client_ip"] == "127.0.0.1"
    assert "wrong-secret-passphrase" not in logs.text


def test_a_bad_token_logs_unauthorized_without_the_token(api, logs):
    api.credentials(HTTP_AUTHORIZATION="Bearer not.a-real.token-value")
    assert api.get("/api/v1/cart/").status_code == 401
    [event] = logs.where(logger="addtocart.security")
    assert "unauthorized" in event["message"]
    assert event["code"] == "token_not_valid"
    assert "not.a-real.token-value" not in logs.text


def test_a_refusal_logs_forbidden(user_api, user, logs):
    body = {"sku": "X-1", "name": "X", "price": "1.00", "stock": 1}
    assert user_api.post("/api/v1/products/", body, format="json").status_code == 403
    [event] = logs.where(logger="addtocart.security")
    assert event["level"] == "WARNING"
    assert "forbidden" in event["message"]
    assert event["user_id"] == str(user.pk)


def test_throttling_logs_a_security_event(api, logs, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "anon": "1/min"},
    }
    api.get("/api/v1/cart/")
    assert api.get("/api/v1/cart/").status_code == 429
    [event] = logs.where(logger="addtocart.security")
    assert event["level"] == "WARNING"
    assert "security" in event["message"]
    assert event["route"] == "api/v1/cart/"


# Database failures: a 503, and an error that says why without a secret


@pytest.mark.parametrize("answers", [False, True], ids=["refused", "silent"])
def test_a_database_failure_logs_a_connection_error_without_secrets(db, logs, answers):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        if answers:
            silent.listen()  # accepts (backlog), never answers: libpq times out
        broken = DatabaseWrapper(
            {
                **connection.settings_dict,
                "PORT": silent.getsockname()[1],
                "PASSWORD": "hunter2-db-password",
                "OPTIONS": {"connect_timeout": 2},
            },
            alias="broken",
        )
        with pytest.raises(OperationalError) as failure:
            broken.ensure_connection()
    response = problem_exception_handler(failure.value, {})
    assert response.status_code == 503
    [event] = logs.where(logger="addtocart.errors")
    assert event["level"] == "ERROR"
    assert event["message"].startswith("Database connection failed: OperationalError: ")
    assert ("timeout expired" if answers else "Connection refused") in event["message"]
    assert "hunter2-db-password" not in logs.text


# Redis failures: the cache is bypassed, and an error says so


def broken_cache(port: int) -> RedisCache:
    options = {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True}
    return RedisCache(f"redis://127.0.0.1:{port}/0", {"OPTIONS": options})


def test_redis_unreachable_logs_a_connection_error_and_does_not_raise(logs):
    cache = broken_cache(free_port())
    assert cache.get("key") is None
    cache.set("key", "value")
    events = logs.where(logger="addtocart.redis")
    assert len(events) == 2
    assert all(event["level"] == "ERROR" for event in events)
    assert "Redis connection failed, cache bypassed" in events[0]["message"]
    assert "exc_info" not in events[0]


def test_redis_not_answering_logs_a_timeout(logs):
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        assert broken_cache(silent.getsockname()[1]).get("key") is None
    [event] = logs.where(logger="addtocart.redis")
    assert event["level"] == "ERROR"
    assert "connection failed (timeout)" in event["message"]


# Real processes: JSON on stdout, LOG_LEVEL, slow queries in management commands


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        "PATH": os.environ["PATH"],
        "DJANGO_SECRET_KEY": "s1",
        "JWT_SIGNING_KEY": "s2",
        "DATABASE_URL": "sqlite:///:memory:",
        "ALLOWED_HOSTS": "localhost",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_command_logs_json_lines_at_the_level_asked(db):
    db_settings = connection.settings_dict
    database_url = (
        f"postgres://{db_settings['USER']}:{db_settings['PASSWORD']}@{db_settings['HOST']}:"
        f"{db_settings['PORT']}/{db_settings['NAME']}"
    )
    code = (
        "import logging; from django.db import connection; "
        "logging.getLogger('addtocart.check').debug('debug is on'); "
        "connection.cursor().execute('SELECT pg_sleep(%s)', [0.05])"
    )
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        code,
        LOG_LEVEL="DeBuG",
        SLOW_QUERY_MS="10",
        DATABASE_URL=database_url,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {"level": "DEBUG", "message": "debug is on"}.items() <= lines[-2].items()
    assert lines[-1]["logger"] == "addtocart.db"
    assert "slow query" in lines[-1]["message"]
    assert lines[-1]["sql"] == "SELECT pg_sleep(%s)"


def test_a_warning_level_hides_info(db):
    code = "import logging; logging.getLogger('addtocart.check').info('hidden')"
    result = manage("shell", "-v", "0", "-c", code, LOG_LEVEL="warning")
    assert result.returncode == 0, result.stderr
    assert "hidden" not in result.stdout


def test_an_unknown_log_level_is_refused():
    result = manage("check", LOG_LEVEL="loud")
    assert result.returncode != 0
    assert "LOG_LEVEL" in result.stderr


@pytest.mark.slow
def test_gunicorn_logs_json_and_one_line_per_request(tmp_path):
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SECRET_KEY": "s1",
        "JWT_SIGNING_KEY": "s2",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "LOG_LEVEL": "info",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            *("-c", "addtocart/gunicorn.conf.py", "addtocart.wsgi"),
        ],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        live = f"http://127.0.0.1:{port}/api/v1/health/live"
        wait_for(lambda: server.poll() is None and http_ok(live), what="gunicorn")
        request = urllib.request.Request(live, headers={"X-Request-ID": "probe-7"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.headers["X-Request-ID"] == "probe-7"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        stdout, stderr = server.communicate(timeout=30)
    assert server.returncode == 0
    assert stderr == ""
    lines = [json.loads(line) for line in stdout.splitlines()]
    messages = [line["message"] for line in lines if line["logger"] == "gunicorn.error"]
    assert "Handling signal: term" in messages
    probes = [line for line in lines if line.get("request_id") == "probe-7"]
    assert [line["message"] for line in probes] == ["request"]
