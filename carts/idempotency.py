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

No record holds a live guest session (carts/guest_sessions.py). A guest's records belong to
`guest:<digest of its token>`, and the stored answer keeps neither the `X-Session-ID` header
nor the body's `session_id`: a replay puts back the id the retry itself sent. A `new-guest`
record is the exception, as its retry sends no id: it keeps the session's token sealed with
the Idempotency-Key (`guest_session_seal`), and its key only as a SHA-256, since the key is
all a retry needs to be answered. The key is the one secret that unseals the token, so a dump
gives neither; and whoever holds the key could always have the answer replayed anyway.
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
from carts.guest_sessions import guest_session_seal, guest_session_unseal
from carts.models import IdempotencyRecord

HEADER = "Idempotency-Key"
SESSION_HEADER = "X-Session-ID"
REPLAYED_HEADERS = ("ETag",)  # and the guest's session id, never stored as such
SEALED_SESSION = "sealed-session"  # in a new guest's `response_headers`, not a header
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


def _stored_key(owner_key: str, key: str) -> str:
    """The key as a record keeps it: a new guest's as its SHA-256 (see the module)."""
    return hashlib.sha256(key.encode()).hexdigest() if owner_key == NEW_GUEST else key


def _replay(record: IdempotencyRecord, *, key: str, session_id: str) -> Response:
    headers = dict(record.response_headers)
    sealed = headers.pop(SEALED_SESSION, None)
    if sealed is not None:
        session_id = guest_session_unseal(sealed, secret=key, context=str(record.pk))
    body = record.response_body
    if session_id and isinstance(body, dict) and "session_id" in body:
        body["session_id"] = session_id
    response = Response(body, status=record.response_status)
    for name, value in headers.items():
        response[name] = value
    if session_id:
        response[SESSION_HEADER] = session_id
    response["Idempotent-Replayed"] = "true"
    return response


def _claim(
    owner_key: str, key: str, fingerprint: str, session_id: str
) -> IdempotencyRecord | Response:
    """The record this request now holds, or the answer to give instead of doing the work."""
    stored_key = _stored_key(owner_key, key)
    records = IdempotencyRecord.objects.filter(owner=owner_key, key=stored_key)
    for _ in range(3):
        now = timezone.now()
        lock = now + timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
        try:  # a first request: one INSERT
            with transaction.atomic():
                return records.create(
                    owner=owner_key, key=stored_key, fingerprint=fingerprint, locked_until=lock
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
            return _replay(record, key=key, session_id=session_id)
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


def _store(record: IdempotencyRecord, response: Response, *, key: str) -> None:
    """Keep the answer, without the guest's session id (see the module)."""
    body = json.loads(json.dumps(response.data, cls=DjangoJSONEncoder))
    if isinstance(body, dict) and "session_id" in body:
        body["session_id"] = None
    headers = {h: response[h] for h in REPLAYED_HEADERS if h in response}
    if record.owner == NEW_GUEST and SESSION_HEADER in response:
        sealed = guest_session_seal(response[SESSION_HEADER], secret=key, context=str(record.pk))
        if sealed is not None:
            headers[SEALED_SESSION] = sealed
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        response_status=response.status_code,
        response_body=body,
        response_headers=headers,
        locked_until=None,
    )


def idempotent(
    *,
    request: Request,
    owner_key: str,
    work: Callable[[], Response],
    atomic: bool = True,
    session_id: str = "",
) -> Response:
    """Do `work` once per (owner, Idempotency-Key); see the module's docstring.

    `session_id` is the guest's id that the request sent, put back in a replayed answer."""
    key = request_key(request)
    if not key:
        return work()
    claimed = _claim(owner_key, key, _fingerprint(request), session_id)
    if isinstance(claimed, Response):
        return claimed
    stored = False
    try:
        with transaction.atomic() if atomic else contextlib.nullcontext():
            response = work()
            if 200 <= response.status_code < 300:
                _store(claimed, response, key=key)
                stored = True
    finally:
        if not stored:
            _release(claimed)
    return response


def _release(record: IdempotencyRecord) -> None:
    """The work failed: free the key for a retry (if the database is down, its lock expires)."""
    with contextlib.suppress(DatabaseError):
        IdempotencyRecord.objects.filter(pk=record.pk, response_status=None).delete()
