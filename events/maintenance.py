"""Purging old events: the outbox keeps EVENT_RETENTION_DAYS of history, then lets it go."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.models import Event


def event_purge_old(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Delete positioned events older than EVENT_RETENTION_DAYS, oldest first, each batch
    its own short transaction (through `event_created_idx`). Returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENT_RETENTION_DAYS)
    old = Event.objects.filter(created_at__lt=cutoff, position__isnull=False)
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(old.order_by("created_at").values_list("pk", flat=True)[:batch_size])
            if not batch:
                return deleted
            deleted += Event.objects.filter(pk__in=batch).delete()[0]
