"""The cart's events (events/outbox.py): each written in the transaction of its change."""

from typing import Any

from carts.db.document import cart_document
from carts.domain import CartLine, CartState, CodeTerms, LineEvent
from carts.models import Cart
from events.models import EventType
from events.outbox import event_record


def cart_event_data(state: CartState, **extra: Any) -> dict[str, Any]:
    """The cart of `state` as its owner sees it, without the guest's session id, with the
    owner's user id (None for a guest) and `extra` beside the cart."""
    document = cart_document(state)
    del document["session_id"]
    return {"cart": document, "owner": {"user_id": state.cart.user_id}, **extra}


def cart_event(type: EventType, state: CartState, **extra: Any) -> None:
    """Record `type` for the cart of `state` in the current transaction."""
    event_record(type=type, cart_id=state.cart.id, data=cart_event_data(state, **extra))


def line_event(
    type: EventType,
    cart: Cart,
    lines: list[CartLine],
    line: CartLine,
    codes: tuple[CodeTerms, ...] = (),
) -> LineEvent:
    """The event of putting `line` (a new line's id still 0) among `lines`, for `line_put`;
    `codes`: the cart's discount codes."""
    after = list(lines)
    index = next((n for n, old in enumerate(after) if old.identity == line.identity), None)
    if index is None:
        index = len(after)
        after.append(line)
    else:
        after[index] = line
    return LineEvent(type, cart_event_data(CartState(cart, after, codes)), index)
