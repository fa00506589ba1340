"""Reading events, as the events API and the webhooks show them."""

from typing import Any

from django.db.models import Max, QuerySet

from events.models import Event


def event_page(*, after: int, limit: int, type: str | None = None) -> tuple[list[Event], int]:
    """Up to `limit` positioned events after position `after`, in position order, and the
    cursor past them: the last one's position on a full page, else the last position given
    when the page was read (every event up to it was looked at, whatever `type` left out)."""
    upto = Event.objects.aggregate(last=Max("position"))["last"] or 0
    events: QuerySet[Event] = Event.objects.filter(position__gt=after, position__lte=upto)
    if type:
        events = events.filter(type=type)
    page = list(events.order_by("position")[:limit])
    return page, page[-1].position if len(page) == limit else max(after, upto)


def event_payload(event: Event) -> dict[str, Any]:
    """An event as consumers receive it (Standard Webhooks' `type`, `timestamp`, `data`),
    with its id, stable across redeliveries, and the cart's `sequence`."""
    return {
        "id": f"evt_{event.pk}",
        "type": event.type,
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
        "sequence": event.sequence,
        "data": event.data,
    }
