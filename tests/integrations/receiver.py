"""A webhook receiver for the tests: a real HTTP or HTTPS server on a free loopback port that
records every request, and a self-signed certificate made with the `openssl` CLI.

The request's path chooses the answer:
- `/status/<code>`: that status, no body; `/redirect`: 302 to `/landed`;
- `/endless`: 200 and a body that never ends (until the client hangs up or 30 s pass);
- `/drip`: a status line, then a header line every 0.1 s for 10 s (a slow-drip server);
- `/hang`: nothing for 5 s, then 200;
- anything else: 200 with a small JSON body.
"""

import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

# The names the test certificate is valid for (the tests' fake DNS answers them).
CERTIFICATE_NAMES = ("localhost", "webhooks.test", "rebind.test")


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate (also its own CA) for CERTIFICATE_NAMES and 127.0.0.1, and
    its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    names = ",".join([*(f"DNS:{name}" for name in CERTIFICATE_NAMES), "IP:127.0.0.1"])
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=webhooks.test"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-keyout", str(key), "-out", str(cert), "-addext", f"subjectAltName={names}"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address) -> None:
        pass  # clients that hang up or refuse the certificate are what some tests do


class Receiver:
    """Records each request as {path, headers, body}; with `tls` (certificate, key) it serves
    HTTPS and records the server name each client asked for (SNI) in `server_names`."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.requests: list[dict] = []
        self.server_names: list[str | None] = []
        self.endless_bytes_sent = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                receiver.answer(self)

            def log_message(self, *args) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            context.sni_callback = lambda _sock, name, _context: self.server_names.append(name)
            self.server.socket = context.wrap_socket(
                self.server.socket, server_side=True, do_handshake_on_connect=False
            )
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        if path.startswith("/status/"):
            self._reply(handler, int(path.removeprefix("/status/")))
        elif path == "/redirect":
            self._reply(handler, 302, headers={"Location": "/landed"})
        elif path == "/endless":
            self._endless(handler)
        elif path == "/drip":
            handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for line in range(100):
                handler.wfile.write(f"X-Drip-{line}: .\r\n".encode())
                handler.wfile.flush()
                time.sleep(0.1)
            handler.wfile.write(b"Content-Length: 0\r\n\r\n")
        elif path == "/hang":
            time.sleep(5)
            self._reply(handler, 200)
        else:
            self._reply(handler, 200, body=b'{"received": true}')

    @staticmethod
    def _reply(handler, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _endless(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")  # no length: the body ends when we close
        handler.end_headers()
        chunk, ends = b"x" * 16384, time.monotonic() + 30
        try:
            while time.monotonic() < ends:
                handler.wfile.write(chunk)
                self.endless_bytes_sent += len(chunk)
        except OSError:
            pass  # the client hung up: what the test wants

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
