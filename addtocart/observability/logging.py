"""Structured logs: one JSON object a line on stdout, each tagged with its request's id.

`RequestContextMiddleware` puts the request id in a context variable; `RequestIdFilter`, on the
stdout handler, copies it onto every record written while the request is handled, whichever
logger wrote it. The JSON format is shared with gunicorn's own logs (`gunicorn.conf.py`) and
with the settings, which import this module: Django settings are read only when a query runs.
"""

import logging
import time
from contextvars import ContextVar

import redis
from django.conf import settings

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)

# timestamp (UTC, ISO 8601), level, logger, message, then the record's extra fields. The
# default for "timestamp" only puts it first; the formatter fills it in.
JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(levelname)s %(name)s %(message)s",
    "rename_fields": {"levelname": "level", "name": "logger"},
    "defaults": {"timestamp": None},
    "timestamp": True,
}


def logging_config(level: str) -> dict:
    """Django's LOGGING: JSON lines on stdout at `level`, with the request id on each."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": JSON_FORMATTER},
        "filters": {
            "request_id": {"()": "addtocart.observability.logging.RequestIdFilter"},
            "redis_error": {"()": "addtocart.observability.logging.RedisErrorFilter"},
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # Django's own handlers print plain text when DEBUG is on: everything goes to stdout.
            "django": {"handlers": [], "level": level},
            # Queries with their parameters are logged at DEBUG: never, whatever the level.
            "django.db.backends": {"level": "INFO"},
            # 4xx answers are in our "request" and security events already; keep Django's 5xx.
            "django.request": {"level": "ERROR"},
            "addtocart.redis": {"filters": ["redis_error"]},
        },
    }


slow_query_log = logging.getLogger("addtocart.db")


class RequestIdFilter(logging.Filter):
    """Tags records with the current request's id. Django logs a 5xx answer once the middleware
    is done; that record carries the request, which carries its id."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get() or getattr(
            getattr(record, "request", None), "request_id", None
        )
        if request_id and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class RedisErrorFilter(logging.Filter):
    """django-redis logs a bare "Exception ignored" and a traceback when it bypasses a failing
    Redis; say what happened, in the words operators grep for, on one short line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        cause = getattr(error, "__cause__", None) or error
        if cause is None:
            return True
        timed_out = isinstance(cause, (TimeoutError, redis.TimeoutError))
        record.msg = "Redis connection failed%s, cache bypassed: %s: %s"
        record.args = (" (timeout)" if timed_out else "", type(cause).__name__, cause)
        record.exc_info = record.exc_text = None
        return True


# Prepared statement name -> its SQL as written: whoever prepares a statement (the cart
# statements, carts/db/runner.py) records it here, so the slow-query log shows the SQL and not
# `EXECUTE <name>(...)`.
PREPARED_STATEMENTS: dict[str, str] = {}


def _as_written(sql: str) -> str:
    """The SQL of a prepared statement's EXECUTE, or `sql` itself."""
    if not sql.startswith("EXECUTE "):
        return sql
    return PREPARED_STATEMENTS.get(sql.removeprefix("EXECUTE ").split("(", 1)[0], sql)


def log_slow_query(execute, sql, params, many, context):
    """A database execute wrapper: a query slower than SLOW_QUERY_MS logs a warning with its
    SQL as written (%s placeholders), never its parameters."""
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        duration_ms = (time.perf_counter() - started) * 1000
        if duration_ms > settings.SLOW_QUERY_MS:
            slow_query_log.warning(
                "slow query: %d ms",
                duration_ms,
                extra={
                    "duration_ms": round(duration_ms, 1),
                    "sql": _as_written(sql)[:2000],
                    "database": context["connection"].alias,
                },
            )


def install_slow_query_log(sender, connection, **kwargs) -> None:
    """On `connection_created`: every connection, for requests and commands alike.

    First in the list, so that `connection.execute_wrapper()` blocks, which pop the last
    wrapper on exit, never remove this one.
    """
    if log_slow_query not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, log_slow_query)
