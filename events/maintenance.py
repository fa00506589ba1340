"""Purging old events: the outbox keeps EVENT_RETENTION_DAYS of history, then lets it go."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.models import CartSequence, Event


def event_purge_old(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Delete events older than EVENT_RETENTION_DAYS, in position order (the unique index on
    `position`), each batch its own short transaction, up to the first younger event: events
    are positioned about when they are made, so what is older lies at the start. Returns how
    many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENT_RETENTION_DAYS)
    positioned = Event.objects.filter(position__isnull=False).order_by("position")
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(positioned.values_list("pk", "created_at")[:batch_size])
            old = [pk for pk, created_at in batch if created_at < cutoff]
            if old:
                deleted += Event.objects.filter(pk__in=old).delete()[0]
        if len(old) < batch_size:
            return deleted


def cart_sequences_forget(*, cart_ids: list) -> None:
    """Forget the event count of carts that are deleted (in the deletion's transaction)."""
    CartSequence.objects.filter(cart_id__in=cart_ids).delete()
