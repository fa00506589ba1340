"""Sending webhooks: Standard Webhooks signatures, one delivery to a safe target, retry delays.

The delivery worker calls these; nothing here reads or writes the database. A delivery
(`webhook_send`) never raises for the network or the target: its `WebhookResult` says what
went wrong in a short text fit for the deliveries log, never with the URL (it may hold a
token). Which targets are allowed, and how the connection is pinned to the address that was
checked, is integrations/webhook_targets.py.
"""

import base64
import binascii
import http.client
import random
import re
import socket
import ssl
import time
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from secrets import token_bytes

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from standardwebhooks import Webhook

from integrations.webhook_targets import (
    Deadline,
    PinnedConnection,
    PinnedTLSConnection,
    Refused,
    addresses,
    target,
)

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
USER_AGENT = "AddToCart-Webhooks/1.0"
DEFAULT_RETRY_SCHEDULE = "5s,30s,2m,10m,1h,6h,24h"
JITTER = 0.2  # each retry waits its scheduled delay ±20 %
MAX_RETRY_DELAY = timedelta(days=30)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class WebhookResult:
    """One delivery attempt: the receiver's HTTP status (None without an answer), how long it
    took, and what went wrong ('' when it answered 2xx, which is what `ok` means)."""

    status: int | None
    duration_ms: float
    error: str
    ok: bool = field(init=False)

    def __post_init__(self) -> None:
        ok = self.status is not None and 200 <= self.status < 300 and not self.error
        object.__setattr__(self, "ok", ok)


# Secrets and signatures ------------------------------------------------------------------------


def webhook_secret_new() -> str:
    """A new signing secret: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(32)).decode()


def _secret_key(secret: str) -> bytes:
    """The key of a `whsec_` secret, checked: base64 of 24 to 64 bytes, as the specification
    asks (the library would decode a mistyped one leniently and sign with another key)."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not secret.startswith(SECRET_PREFIX) or not 24 <= len(key) <= 64:
        raise ValueError("not a Standard Webhooks secret (whsec_ and base64 of 24 to 64 bytes)")
    return key


def webhook_headers(
    *, secrets: list[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers of a delivery of `body`: `webhook-id`, `webhook-timestamp` (Unix seconds)
    and `webhook-signature`, one `v1,<signature>` per secret, space-separated (several while
    an old secret is still valid after a rotation); with Content-Type and User-Agent."""
    if not secrets:
        raise ValueError("a delivery needs at least one secret to sign with")
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    signatures = [Webhook(_secret_key(s)).sign(message_id, when, body) for s in secrets]
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


# Sending ---------------------------------------------------------------------------------------


def webhook_url_refusal(*, url: str) -> str:
    """Why webhooks are never sent to `url` (its scheme, credentials, a non-public address
    written in it), or '' if it may be used. Names are checked when each delivery resolves
    them; this is the check to run when an endpoint is saved."""
    try:
        target(url)
    except Refused as refused:
        return str(refused)
    return ""


def _post(
    url: str, body: bytes, headers: dict[str, str], deadline: Deadline, ca_file: str | None
) -> int:
    """POST once; the answer's status. At most WEBHOOK_MAX_RESPONSE_BYTES of a 2xx answer's
    body are read (and dropped), then the connection is closed; other bodies are not read."""
    scheme, host, port, path = target(url)
    found = addresses(host, port)
    if scheme == "https":
        context = ssl.create_default_context(cafile=ca_file)
        conn = PinnedTLSConnection(host, port, addresses=found, deadline=deadline, context=context)
    else:
        conn = PinnedConnection(host, port, addresses=found, deadline=deadline)
    try:
        conn.request("POST", path, body=body, headers={**headers, "Connection": "close"})
        response = conn.getresponse()
        if deadline.expired:  # its headers were cut short: the answer is not known
            raise TimeoutError
        if 200 <= response.status < 300:
            left = settings.WEBHOOK_MAX_RESPONSE_BYTES
            with suppress(OSError, http.client.HTTPException):  # the status is what counts
                while left > 0 and (chunk := response.read(min(left, 16384))):
                    left -= len(chunk)
        return response.status
    finally:
        deadline.stop()
        conn.close()


def _failure(exc: Exception, deadline: Deadline, timeout: float) -> str:
    """A short text for why a delivery got no answer, without the URL."""
    if isinstance(exc, Refused):
        return f"refused: {exc}"
    if deadline.expired or isinstance(exc, TimeoutError):
        return f"timeout after {timeout:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate refused: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc.__class__.__name__}"
    if isinstance(exc, socket.gaierror):
        return "the host name could not be resolved"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "connection closed without an answer"
    if isinstance(exc, http.client.HTTPException):
        return f"not an HTTP answer ({exc.__class__.__name__})"
    return f"connection failed ({getattr(exc, 'strerror', None) or exc.__class__.__name__})"


def webhook_send(
    *, url: str, body: bytes, headers: dict[str, str], timeout: float, ca_file: str | None = None
) -> WebhookResult:
    """POST `body` with `headers` to `url` once, within `timeout` seconds in all (connecting,
    sending and reading; name resolution is the system's). Never raises for the target or the
    network: the result's `error` tells, "refused: ..." for a target that is not allowed.
    A 3xx is a failure (redirects are not followed). `ca_file` replaces the system's trusted
    certificates (tests; in production set SSL_CERT_FILE instead)."""
    started = time.monotonic()
    deadline = Deadline(timeout)
    status, error = None, ""
    try:
        status = _post(url, body, headers, deadline, ca_file)
    except (Refused, OSError, http.client.HTTPException) as exc:
        error = _failure(exc, deadline, timeout)
    finally:
        deadline.stop()
    if status is not None and 300 <= status < 400:
        error = f"redirect not followed (HTTP {status})"
    elif status is not None and not 200 <= status < 300:
        error = f"HTTP {status}"
    elapsed = (time.monotonic() - started) * 1000
    return WebhookResult(status=status, duration_ms=round(elapsed, 1), error=error)


# Retries ---------------------------------------------------------------------------------------


def webhook_retry_schedule(value: str, *, name: str = "WEBHOOK_RETRY_SCHEDULE") -> list[timedelta]:
    """The delays between attempts, from comma-separated numbers with a unit of s, m, h or d
    ("5s,30s,2m,10m,1h,6h,24h"); ImproperlyConfigured when malformed."""
    delays = []
    for item in value.split(","):
        match = re.fullmatch(r"\s*(\d{1,9})\s*([smhd])\s*", item)
        if not match or int(match[1]) == 0:
            raise ImproperlyConfigured(
                f"{name} must be delays above 0 with a unit of s, m, h or d, comma-separated "
                f"(e.g. {DEFAULT_RETRY_SCHEDULE}), not {value!r}."
            )
        delay = timedelta(**{_UNITS[match[2]]: int(match[1])})
        if delay > MAX_RETRY_DELAY:
            raise ImproperlyConfigured(f"{name}: {item.strip()} is over the 30 days allowed.")
        delays.append(delay)
    return delays


def webhook_retry_delay(*, attempt: int, schedule: list[timedelta]) -> timedelta | None:
    """How long to wait after attempt number `attempt` (1 for the first send) failed: its
    entry of `schedule`, ±20 % at random, or None when it was the last (the delivery failed).

    ±20 % rather than "full jitter" (0 to the delay): retries after an outage still spread
    out, and the schedule keeps its meaning, a "24h" retry never comes after minutes.
    """
    if attempt < 1:
        raise ValueError("attempts are counted from 1")
    if attempt > len(schedule):
        return None
    return schedule[attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
