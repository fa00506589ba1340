"""Giving committed events their `position`, the order in which they became visible, and
their deliveries to the webhook endpoints subscribed to them.

An event's id is taken when its transaction inserts it, not when it commits, so a reader
going by id could pass an id whose transaction commits later, and never see that event.
Positions are given instead by one relay at a time (a PostgreSQL advisory lock; SQLite has
one writer anyway), to the events visible now, in id order, after every position already
given: an event that becomes visible later gets a later position, so a reader that has read
up to a position has missed nothing before it. The cart's `sequence` is given with it, not
by the change: counting a cart's events in the change's INSERT needed an index by cart that
every change wrote (events/models.py). Each cart's last one is kept apart (`CartSequence`),
as the cart's older events are purged. The events API and the delivery worker run
the relay before they read. The same transaction creates the event's deliveries, one per
active endpoint that wants its type, so none is created twice or forgotten.
"""

from django.db import connection, transaction
from django.utils import timezone

from events.models import CartSequence, Event, WebhookDelivery, WebhookEndpoint

# pg_advisory_xact_lock's key: "events r" in ASCII.
_LOCK_KEY = 0x6576656E74732072
_TABLE = Event._meta.db_table
_COUNTED = CartSequence._meta.db_table


def _sql(batch_size: int) -> str:
    """Number the next batch of visible events: positions after the last one given, and each
    cart's sequences after its last (in id order, the order a cart's events commit in, since
    each change holds the cart's row lock)."""
    return (
        f"UPDATE {_TABLE} SET position = numbered.place, sequence = numbered.sequence "  # noqa: S608
        f"FROM (SELECT batch.id, (SELECT COALESCE(MAX(position), 0) FROM {_TABLE}) "
        "+ ROW_NUMBER() OVER (ORDER BY batch.id) AS place, "
        f"COALESCE((SELECT counted.last FROM {_COUNTED} counted "
        "WHERE counted.cart_id = batch.cart_id), 0) "
        "+ ROW_NUMBER() OVER (PARTITION BY batch.cart_id ORDER BY batch.id) AS sequence "
        f"FROM (SELECT id, cart_id FROM {_TABLE} WHERE position IS NULL ORDER BY id "
        f"LIMIT {int(batch_size)}) AS batch) AS numbered WHERE {_TABLE}.id = numbered.id "
        f"RETURNING {_TABLE}.id, {_TABLE}.type, {_TABLE}.cart_id, {_TABLE}.position, "
        f"{_TABLE}.sequence"
    )


def _sequences_keep(positioned: list[tuple]) -> None:
    """Each cart's last sequence given, for the relay's next batches."""
    last: dict = {}
    for _, _, cart_id, _, sequence in positioned:
        last[cart_id] = max(sequence, last.get(cart_id, 0))
    to_uuid = CartSequence._meta.pk.to_python
    CartSequence.objects.bulk_create(
        [CartSequence(cart_id=to_uuid(cart_id), last=n) for cart_id, n in last.items()],
        update_conflicts=True,
        unique_fields=["cart_id"],
        update_fields=["last"],
    )


def _deliveries_create(positioned: list[tuple]) -> None:
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True).values_list("id", "events"))
    if not endpoints or not positioned:
        return
    cart_id_field = Event._meta.get_field("cart_id")
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint_id=endpoint_id,
            event_id=event_id,
            cart_id=cart_id_field.to_python(cart_id),
            position=position,
            next_attempt_at=now,
            created_at=now,
        )
        for event_id, type, cart_id, position, _ in sorted(positioned, key=lambda row: row[3])
        for endpoint_id, wanted in endpoints
        if "*" in wanted or type in wanted
    )


def events_position(*, batch_size: int = 1000, max_batches: int = 100) -> int:
    """Position the events committed so far (up to `max_batches` batches, each its own short
    transaction) and create their deliveries; returns how many were positioned."""
    positioned = 0
    for _ in range(max_batches):
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            cursor.execute(_sql(batch_size))
            rows = cursor.fetchall()
            _sequences_keep(rows)
            _deliveries_create(rows)
        positioned += len(rows)
        if len(rows) < batch_size:
            break
    return positioned
