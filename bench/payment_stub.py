"""A payment service stand-in on loopback for the benchmarks: it approves every payment after
`delay` seconds, as the contract in integrations/payments.py expects of a real one.

- `POST /payments` (key in `Idempotency-Key`): waits `delay`, then 200 approved; a repeat of a
  key answers the first outcome without waiting.
- `GET /payments/{key}`: 200 approved if the key was received, else 404.
- `POST /payments/{key}/void`: 200.

Each request has a thread of its own, so payments wait side by side, as a real provider's do.
"""

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class PaymentStub:
    """The running stub: its URL and what it was asked."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self.keys: set[str] = set()
        self.authorisations = 0  # POST /payments received, repeats included
        self.lock = threading.Lock()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def _handler(stub_of, delay: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the workers' sessions reuse connections

        def _reply(self, status: int, body: dict | None = None) -> None:
            data = json.dumps(body or {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            stub = stub_of()
            if self.path.rstrip("/") == "/payments":
                key = self.headers.get("Idempotency-Key", "")
                with stub.lock:
                    repeat = key in stub.keys
                    stub.keys.add(key)
                    stub.authorisations += 1
                if not repeat:
                    time.sleep(delay)
                self._reply(200, {"status": "approved", "authorization_id": f"auth-{key}"})
            elif self.path.endswith("/void"):
                self._reply(200, {"status": "voided"})
            else:
                self._reply(404)

        def do_GET(self) -> None:
            key = self.path.rstrip("/").rsplit("/", 1)[-1]
            if self.path.startswith("/payments/") and key in stub_of().keys:
                self._reply(200, {"status": "approved", "authorization_id": f"auth-{key}"})
            else:
                self._reply(404)

        def log_message(self, format: str, *args) -> None:
            """Quiet: a benchmark's output is its figures."""

    return Handler


@contextlib.contextmanager
def payment_stub(delay: float) -> Iterator[PaymentStub]:
    """A stub payment service approving after `delay` seconds, served until the block ends."""
    stub: PaymentStub | None = None
    server = _Server(("127.0.0.1", 0), _handler(lambda: stub, delay))
    stub = PaymentStub(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
