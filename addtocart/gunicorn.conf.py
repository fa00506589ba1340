"""gunicorn settings, read from the environment like the Django settings.

Logs: gunicorn's own lines (start, signals, worker exits and timeouts) are JSON on stdout, in the
service's format. Its access log is off: the service logs one "request" event per request, with
the request id, URL pattern and user that gunicorn cannot know (docs/operations.md, "Logs").

The master loads the app before it forks the workers (preload_app, and addtocart/wsgi.py
imports every view): a worker recycled after max_requests starts at once instead of spending
half a second of CPU on imports while its siblings serve (with a worker recycled every 1 000
requests, health's p99 was 380 ms without, 28 ms with). The app opens no connection while it
loads, so no socket is shared between the forked workers.

SIGTERM stops gracefully: workers finish the requests in flight, for up to graceful_timeout
seconds (keep it below Kubernetes' terminationGracePeriodSeconds, 30 by default).
"""

import os
import tempfile
from pathlib import Path

from gunicorn.glogging import Logger

from addtocart.observability.logging import JSON_FORMATTER


class ServiceLogger(Logger):
    """gunicorn's logger without its access log, which the service's "request" line replaces.

    gunicorn counts its access log as on whenever `logconfig_dict` is set, and builds every
    request's fields before the logger below, which has no handler, drops them: 0.13 to
    0.18 ms of each request's 1.5 to 3 ms in a worker (make bench-profile).
    """

    def access(self, resp, req, environ, request_time) -> None:
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)


# Prometheus: every worker writes its samples here and /metrics adds them up. Set before any
# worker imports prometheus_client; a temporary folder when the environment names none.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="addtocart-prometheus-"))
# Before the app loads (preload_app), as its counters open their files there.
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))
keepalive = 5
# A recycled worker bounds slow memory growth, but each recycle stalls the requests queued at
# that worker (make bench-recycling, GET cart/: p99 of 5-s runs with a recycle 62 ms, without
# 36 ms; max 138 ms against 59 ms never recycling). The worker's RSS levels off near 84 MB
# after 35 000 requests, so every 50 000 (+ up to 5 000, so the workers do not recycle
# together) keeps the bound at a tenth of the recycles of 5 000.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "50000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "5000"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27's control socket lives in $HOME, shared by every instance on the host and absent
# on a read-only root filesystem; the service does not use it.
control_socket_disable = True
preload_app = True

loglevel = os.environ.get("LOG_LEVEL", "info").strip().lower() or "info"
accesslog = None
logger_class = ServiceLogger
errorlog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": JSON_FORMATTER},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        }
    },
    "root": {"handlers": ["stdout"], "level": loglevel.upper()},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": loglevel.upper(), "propagate": False},
        # gunicorn writes access lines at INFO whenever logconfig_dict is set: drop them.
        "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}


def on_starting(server):
    """Start from an empty metrics folder: samples of an earlier run must not add up."""
    for samples in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        samples.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
