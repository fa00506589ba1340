"""Writing events: one INSERT in the transaction of the change it tells of, so an event exists
exactly when its change was committed. Its `sequence` and `position` come later, from the relay
(events/relay.py): every change holds its cart's row lock, so a cart's events commit in the
order of their ids, and the relay numbers them in that order."""

from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import connection
from django.utils import timezone

from events.models import Event

_FIELDS = [Event._meta.get_field(name) for name in ("type", "cart_id", "data", "created_at")]
_TABLE = Event._meta.db_table


def _insert_sql() -> str:
    columns = ", ".join(field.column for field in _FIELDS)
    return f"INSERT INTO {_TABLE} ({columns}) VALUES (%s, %s, %s, %s)"  # noqa: S608


def event_record(
    *, type: str, cart_id: UUID, data: dict[str, Any], at: datetime | None = None
) -> None:
    """Record an event of a cart in the current transaction (call it inside the change's)."""
    values = [type, cart_id, data, at or timezone.now()]
    params = [
        field.get_db_prep_value(value, connection, prepared=False)
        for field, value in zip(_FIELDS, values, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(), params)
