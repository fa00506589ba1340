"""A payment service on 127.0.0.1 for the checkout fault tests (test_checkout_faults.py): the
contract integrations/payments.py documents, and the faults a test turns on.

- `POST /payments` with `Idempotency-Key` authorises once per key: a repeat answers the first
  outcome and charges nothing more (`charges` counts each key's authorisations).
- `GET /payments/{key}`: 404 if the key was never recorded, else its status (authorised,
  declined or voided).
- `POST /payments/{key}/void`: voids an authorisation (404 when there is none).

`mode` decides a POST whose key has nothing recorded yet: "approve" (201), "late" (201, but
authorised only as it answers, not as it receives), "refuse" (402, declined), "fail" (500,
nothing recorded) or "hangup" (authorised, then the connection is closed without an
answer). With `hold` set, that POST waits for `release()` before answering: a hung service,
or a request the test keeps in flight while it breaks something else.

It runs in the test's process (`PaymentStub`), or as a process of its own, to be killed:
`python -m tests.resilience.payment_stub PORT LEDGER [--mode M] [--hold]`. The ledger (what it
recorded) is then written to the LEDGER file on every change, and read back by a restart.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import requests

from tests.live import ROOT, wait_for

HOLD_SECONDS = 60  # a held request is answered after this even if nobody releases it
MODES = ("approve", "late", "refuse", "fail", "hangup")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up is no news
            super().handle_error(request, client_address)


def ledger_read(path: Path | None) -> dict:
    """A ledger file as the stub wrote it (empty if it wrote none yet)."""
    if path is None or not path.exists():
        return {"payments": {}, "received": {}, "peers": {}}
    return json.loads(path.read_text())


class PaymentStub:
    """The payment service, serving from a thread until stop(); a context manager.

    `payments[key]` is {"status", "charges", "amount", "currency"}; `received[key]` counts
    its POSTs and `peers[key]` is the client's port of the last one (to find the process
    that sent it: `process_of`). `arrived` is set when a POST comes in.
    """

    def __init__(
        self, *, port: int = 0, ledger: Path | None = None, mode: str = "approve", hold=False
    ) -> None:
        assert mode in MODES, mode
        self.mode, self.hold, self.ledger_file = mode, hold, ledger
        self.lock = threading.Lock()
        self.arrived, self.released = threading.Event(), threading.Event()
        state = ledger_read(ledger)
        self.payments: dict[str, dict] = state["payments"]
        self.received: dict[str, int] = state["received"]
        self.peers: dict[str, int] = state["peers"]
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                payment = stub.ledger()["payments"].get(parts[1]) if len(parts) == 2 else None
                if parts[0] == "payments" and payment is not None:
                    self.answer(200, payment)
                else:
                    self.answer(404, {"detail": "no such payment"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                parts = self.path.strip("/").split("/")
                if parts == ["payments"]:
                    key = self.headers.get("Idempotency-Key", "")
                    stub.authorise(self, key, self.client_address[1], body)
                elif len(parts) == 3 and parts[0] == "payments" and parts[2] == "void":
                    self.answer(*stub.void(parts[1]))
                else:
                    self.answer(404, {"detail": "no such path"})

            def answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ledger(self) -> dict:
        """What it recorded, as `ledger_read` reads it from a file."""
        with self.lock:
            payments = {key: dict(payment) for key, payment in self.payments.items()}
            return {
                "payments": payments,
                "received": dict(self.received),
                "peers": dict(self.peers),
            }

    def _save(self) -> None:
        """Write the ledger (the lock held), whole or not at all."""
        if self.ledger_file is None:
            return
        temporary = self.ledger_file.with_suffix(".tmp")
        state = {"payments": self.payments, "received": self.received, "peers": self.peers}
        temporary.write_text(json.dumps(state))
        os.replace(temporary, self.ledger_file)

    def _record(self, key: str, status: str, body: dict) -> None:
        """Record a key's outcome (the lock held)."""
        self.payments[key] = {
            "status": status,
            "charges": int(status == "authorised"),
            "amount": body.get("amount"),
            "currency": body.get("currency"),
        }

    def authorise(self, handler, key: str, peer: int, body: dict) -> None:
        """A POST /payments: recorded by `mode` unless the key already was, then answered."""
        with self.lock:
            self.received[key] = self.received.get(key, 0) + 1
            self.peers[key] = peer
            repeat = key in self.payments
            mode = "approve" if repeat else self.mode
            if not repeat and mode in ("approve", "hangup", "refuse"):
                self._record(key, "declined" if mode == "refuse" else "authorised", body)
            self._save()
            hold = self.hold and not repeat
        self.arrived.set()
        if hold:
            self.released.wait(HOLD_SECONDS)
        if mode == "late":
            with self.lock:
                self._record(key, "authorised", body)
                self._save()
        if mode == "hangup":
            handler.close_connection = True  # and no answer at all
        elif mode == "fail":
            handler.answer(500, {"detail": "internal error"})
        else:
            payment = self.payments[key]
            status = {"authorised": 201, "declined": 402}.get(payment["status"], 409)
            handler.answer(status, {"authorization_id": f"auth-{key}", **payment})

    def void(self, key: str) -> tuple[int, dict]:
        with self.lock:
            payment = self.payments.get(key)
            if payment is None or payment["status"] == "declined":
                return 404, {"detail": "nothing authorised"}
            payment["status"] = "voided"
            self._save()
            return 200, payment

    def release(self) -> None:
        """Let held requests be answered (requests that arrive later are held no more)."""
        self.hold = False
        self.released.set()

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def process_of(port: int, pids: list[int]) -> int:
    """Which of `pids` has the TCP socket whose local port is `port` (a client's of
    `peers`): the process that sent a request."""
    sockets = set()
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            sockets.add(f"socket:[{fields[9]}]")
    for pid in pids:
        for descriptor in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(descriptor) in sockets:
                    return pid
    raise LookupError(f"none of {pids} has a socket on local port {port}")


@contextlib.contextmanager
def stub_process(port: int, ledger: Path, *options: str) -> Iterator[subprocess.Popen]:
    """The stub as a process of its own on `port` (`options` as main() takes them), its
    ledger kept in `ledger`; killed at the end if it still runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.resilience.payment_stub", str(port), str(ledger), *options],
        cwd=ROOT,
    )
    try:
        url = f"http://127.0.0.1:{port}/payments/nothing"
        wait_for(lambda: requests.get(url, timeout=2).status_code == 404, what="the payment stub")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--mode", choices=MODES, default="approve")
    parser.add_argument("--hold", action="store_true")
    args = parser.parse_args()
    PaymentStub(port=args.port, ledger=args.ledger, mode=args.mode, hold=args.hold)
    threading.Event().wait()  # serve until killed


if __name__ == "__main__":
    main()
