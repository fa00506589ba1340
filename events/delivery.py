"""Delivering events to webhook endpoints, at least once and in order per cart.

A worker claims due deliveries in one short transaction (`FOR UPDATE SKIP LOCKED`, so
several workers never claim the same one), leasing each for the send's timeout and
WEBHOOK_LEASE_MARGIN_SECONDS (30); sends them outside any transaction; then records each
outcome in a transaction of its own. A worker killed mid-send leaves its leases to run out:
the delivery is sent again, with the same `webhook-id`. A cart's later delivery to an
endpoint waits while an earlier one to that endpoint is pending, retries included.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from events.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from events.selectors import event_payload
from integrations.webhooks import WebhookResult, webhook_retry_delay

# A success older than this is refreshed: sends to one endpoint need not all queue on its row.
SUCCESS_REFRESH = timedelta(seconds=10)


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds: what to send, where, signed with which secrets."""

    delivery_id: int
    endpoint_id: int
    url: str
    secrets: list[str]
    message_id: str
    body: bytes
    attempt: int


def _secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


def deliveries_claim(*, limit: int = 50, now: datetime | None = None) -> list[Claimed]:
    """Lease up to `limit` due deliveries to active endpoints, the oldest due first, none
    behind a pending delivery of the same cart to the same endpoint."""
    now = now or timezone.now()
    pending = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
    earlier = pending.filter(
        endpoint=OuterRef("endpoint"),
        cart_id=OuterRef("cart_id"),
        position__lt=OuterRef("position"),
    )
    due = (
        pending.filter(next_attempt_at__lte=now, endpoint__is_active=True)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .filter(~Exists(earlier))
        .order_by("next_attempt_at", "position")
    )
    lease = now + timedelta(
        seconds=settings.WEBHOOK_TIMEOUT_SECONDS + settings.WEBHOOK_LEASE_MARGIN_SECONDS
    )
    with transaction.atomic():
        ids = list(
            due.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[
                :limit
            ]
        )
        WebhookDelivery.objects.filter(pk__in=ids).update(
            leased_until=lease, attempts=F("attempts") + 1
        )
        claimed = WebhookDelivery.objects.filter(pk__in=ids).select_related("event", "endpoint")
        return [
            Claimed(
                delivery_id=delivery.pk,
                endpoint_id=delivery.endpoint_id,
                url=delivery.endpoint.url,
                secrets=_secrets(delivery.endpoint, now),
                message_id=f"evt_{delivery.event_id}",
                body=json.dumps(event_payload(delivery.event), cls=DjangoJSONEncoder).encode(),
                attempt=delivery.attempts,
            )
            for delivery in claimed.order_by("next_attempt_at", "position")
        ]


@transaction.atomic
def delivery_record(
    *, delivery_id: int, result: WebhookResult, now: datetime | None = None
) -> DeliveryStatus:
    """Keep the attempt; on success the delivery is done, on failure it waits for its next
    try (WEBHOOK_RETRY_SCHEDULE), or, after the last, has failed, and an endpoint with no
    success since the delivery's first try is disabled. Returns the delivery's status."""
    now = now or timezone.now()
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
    WebhookAttempt.objects.create(
        delivery=delivery,
        attempted_at=now,
        status_code=result.status,
        duration_ms=result.duration_ms,
        error=result.error[:300],
    )
    endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
    delivery.leased_until = None
    if result.ok:
        delivery.status, delivery.finished_at = DeliveryStatus.DELIVERED, now
        stale = Q(last_success_at__isnull=True) | Q(last_success_at__lt=now - SUCCESS_REFRESH)
        endpoints.filter(stale).update(last_success_at=now)
    else:
        delay = webhook_retry_delay(
            attempt=delivery.attempts, schedule=settings.WEBHOOK_RETRY_SCHEDULE
        )
        if delay is not None:
            delivery.next_attempt_at = now + delay
        else:
            delivery.status, delivery.finished_at = DeliveryStatus.FAILED, now
            never_since = Q(last_success_at__isnull=True) | Q(
                last_success_at__lt=delivery.created_at
            )
            endpoints.filter(never_since, is_active=True).update(
                is_active=False,
                disabled_at=now,
                disabled_reason=f"evt_{delivery.event_id} failed {delivery.attempts} times "
                f"with no success since {delivery.created_at:%Y-%m-%d %H:%M} UTC: {result.error}"[
                    :300
                ],
            )
    delivery.save(update_fields=["status", "finished_at", "next_attempt_at", "leased_until"])
    return delivery.status
