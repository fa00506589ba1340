"""`Idempotency-Key` on cart writes, as the IETF draft "The Idempotency-Key HTTP Header Field"
has it: the work is done once; a retry after it finished replays the first answer
(`Idempotent-Replayed: true`); a retry while it is still being processed is answered 409
`idempotency_key_in_use` with `Retry-After`, never an error about the cart's new state.

A record is claimed before the work, in its own committed transaction, so that concurrent
duplicates see it. A single-transaction change stores its answer in the same transaction as
the work (both happen or neither). Checkout (`atomic=False`), whose phases commit one by one,
stores it after, and a retry whose worker died resumes by the key (carts/services/checkout.py).
A claim whose worker died is taken over after IDEMPOTENCY_LOCK_SECONDS. Failed answers are
not stored: the failed work changed nothing, so a retry simply runs again.

A guest's first write has no session yet: its record belongs to `new-guest`, so a retry with
the same key, still without `X-Session-ID`, replays the first answer (same cart, same
session id). Such keys must be unguessable (a UUID v4).
"""

import contextlib
import hashlib
import json
import math
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from carts import errors
from carts.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADERS = ("ETag", "X-Session-ID")
NEW_GUEST = "new-guest"
IN_USE = "A request with this Idempotency-Key is still being processed; retry shortly."


def request_key(request: Request) -> str:
    """The request's Idempotency-Key ("" without one), checked."""
    key = request.headers.get(HEADER)
    if key is None:
        return ""
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ValidationError({HEADER: ["Send from 1 to 255 printable characters."]})
    return key


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=DjangoJSONEncoder)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(record.response_body, status=record.response_status)
    for name, value in record.response_headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def _claim(owner_key: str, key: str, fingerprint: str) -> IdempotencyRecord | Response:
    """The record this request now holds, or the answer to give instead of doing the work."""
    records = IdempotencyRecord.objects.filter(owner=owner_key, key=key)
    for _ in range(3):
        now = timezone.now()
        lock = now + timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
        try:  # a first request: one INSERT
            with transaction.atomic():
                return records.create(
                    owner=owner_key, key=key, fingerprint=fingerprint, locked_until=lock
                )
        except IntegrityError:
            record = records.first()
        if record is None:
            continue  # expired and deleted meanwhile
        if record.created_at < now - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS):
            records.filter(pk=record.pk).delete()
            continue
        if record.fingerprint != fingerprint:
            raise errors.IdempotencyKeyReused(
                "This Idempotency-Key was first sent with another request; use a new key."
            )
        if record.response_status is not None:
            return _replay(record)
        if record.locked_until > now:
            raise errors.IdempotencyKeyInUse(
                IN_USE,
                retry_after=max(1, math.ceil((record.locked_until - now).total_seconds())),
            )
        # Its worker died: take it over, unless another retry just did.
        unchanged = records.filter(pk=record.pk, locked_until=record.locked_until)
        if unchanged.update(locked_until=lock):
            record.locked_until = lock
            return record
    raise errors.IdempotencyKeyInUse(IN_USE, retry_after=1)


def _store(record: IdempotencyRecord, response: Response) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        response_status=response.status_code,
        response_body=json.loads(json.dumps(response.data, cls=DjangoJSONEncoder)),
        response_headers={h: response[h] for h in REPLAYED_HEADERS if h in response},
        locked_until=None,
    )


def idempotent(
    *,
    request: Request,
    owner_key: str,
    work: Callable[[], Response],
    atomic: bool = True,
) -> Response:
    """Do `work` once per (owner, Idempotency-Key); see the module's docstring."""
    key = request_key(request)
    if not key:
        return work()
    claimed = _claim(owner_key, key, _fingerprint(request))
    if isinstance(claimed, Response):
        return claimed
    stored = False
    try:
        with transaction.atomic() if atomic else contextlib.nullcontext():
            response = work()
            if 200 <= response.status_code < 300:
                _store(claimed, response)
                stored = True
    finally:
        if not stored:
            _release(claimed)
    return response


def _release(record: IdempotencyRecord) -> None:
    """The work failed: free the key for a retry (if the database is down, its lock expires)."""
    with contextlib.suppress(DatabaseError):
        IdempotencyRecord.objects.filter(pk=record.pk, response_status=None).delete()
