"""The delivery worker's own small HTTP server, for its probes and Prometheus: `/healthz`
answers 200 while the loop goes round (503 once it has been stuck for STUCK_SECONDS), and
`/metrics` its counters, for `Authorization: Bearer $HEALTH_TOKEN` only, as the web pods'."""

import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from addtocart.observability.health_token import health_token_in

STUCK_SECONDS = 120


class Heartbeat:
    def __init__(self) -> None:
        self.last = time.monotonic()

    def beat(self) -> None:
        self.last = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self.last < STUCK_SECONDS


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass  # probes every few seconds would drown the worker's own lines


def _app(heartbeat: Heartbeat):
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            ok = heartbeat.alive()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "application/json")],
            )
            return [b'{"status": "ok"}' if ok else b'{"status": "stuck"}']
        if path == "/metrics":
            if not health_token_in(environ.get("HTTP_AUTHORIZATION", "")):
                start_response("401 Unauthorized", [("WWW-Authenticate", 'Bearer realm="metrics"')])
                return [b""]
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [generate_latest(REGISTRY)]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    return app


def serve(*, port: int, heartbeat: Heartbeat) -> WSGIServer:
    """Serve on 0.0.0.0:`port` from a daemon thread; returns the server (to shut it down)."""
    server = make_server("0.0.0.0", port, _app(heartbeat), handler_class=_Quiet)  # noqa: S104
    threading.Thread(target=server.serve_forever, name="worker-http", daemon=True).start()
    return server
