"""The cart's events (events/outbox.py): each written in the transaction of its change."""

from typing import Any

from carts.db.document import cart_document
from carts.domain import CartState
from events.models import EventType
from events.outbox import event_record


def cart_event(type: EventType, state: CartState, **extra: Any) -> None:
    """Record `type` for the cart of `state` as its owner now sees it, without the guest's
    session id, with the owner's user id (None for a guest) and `extra` beside the cart."""
    document = cart_document(state)
    del document["session_id"]
    data = {"cart": document, "owner": {"user_id": state.cart.user_id}, **extra}
    event_record(type=type, cart_id=state.cart.id, data=data)
