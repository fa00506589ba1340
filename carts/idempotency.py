"""`Idempotency-Key` on cart writes: a retried request is answered, not done again.

The first successful (2xx) answer is stored in PostgreSQL in the same transaction as the
work, so either both happen or neither does. A concurrent duplicate blocks on the unique
(owner, key) index, finds the stored answer once the first commits, and its own work is
rolled back. Failed answers are not stored: the failed work changed nothing, so a retry
simply runs again.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from carts import errors
from carts.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADERS = ("ETag", "X-Session-ID")


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=DjangoJSONEncoder)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise errors.IdempotencyKeyReused(
            "This Idempotency-Key was first sent with another request; use a new key."
        )
    response = Response(record.response_body, status=record.response_status)
    for name, value in record.response_headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(*, request: Request, owner_key: str, work: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return work()
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ValidationError({HEADER: ["Send from 1 to 255 printable characters."]})

    fingerprint = _fingerprint(request)
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    records = IdempotencyRecord.objects.filter(owner=owner_key, key=key)
    record = records.filter(created_at__gte=cutoff).first()
    if record is not None:
        return _replay(record, fingerprint)
    try:
        with transaction.atomic():
            records.filter(created_at__lt=cutoff).delete()
            response = work()
            if 200 <= response.status_code < 300:
                IdempotencyRecord.objects.create(
                    owner=owner_key,
                    key=key,
                    fingerprint=fingerprint,
                    response_status=response.status_code,
                    response_body=json.loads(json.dumps(response.data, cls=DjangoJSONEncoder)),
                    response_headers={h: response[h] for h in REPLAYED_HEADERS if h in response},
                )
            return response
    except IntegrityError:
        record = records.filter(created_at__gte=cutoff).first()
        if record is None:
            raise
        return _replay(record, fingerprint)
