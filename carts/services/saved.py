"""A signed-in shopper's saved items: lines moved out of the cart to buy later, and back.

Locks: the owner's active cart row first, then saved items. Saving and moving back both lock
the cart, so one user's saves and moves happen one after another: the count checked against
SAVED_ITEMS_MAX cannot race, and a save cannot add to an item while it is being moved. Only
deleting a saved item takes no cart lock: it only ever makes room.

A saved item keeps its line's product, quantity and attributes (carts/attributes.py): the
same product with the same attributes is one saved item, as it is one line.
"""

from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from carts import errors, selectors
from carts.attributes import attributes_key
from carts.db import discounts as codes
from carts.domain import CartOwner, CartState
from carts.models import CartItem, SavedItem
from carts.services.add import line_add
from carts.services.common import lock_cart_and_line, product_service_data
from carts.services.events import cart_event
from events.models import EventType


def _signed_in(owner: CartOwner) -> int:
    if owner.user_id is None:
        raise errors.SignInToSave()
    return owner.user_id


@transaction.atomic
def saved_item_save(
    *, owner: CartOwner, item_id: int, if_match: Sequence[str] | None = None
) -> CartState:
    """Move line `item_id` out of the owner's cart into their saved items; returns the cart.

    A saved item of the same product and attributes grows by the line's quantity, up to the
    per-line limit, and takes no more room; otherwise a new one must fit in SAVED_ITEMS_MAX."""
    user_id = _signed_in(owner)
    cart, lines, line = lock_cart_and_line(owner, item_id, if_match)
    key = attributes_key(line.attributes)
    same = SavedItem.objects.filter(user_id=user_id, product_id=line.product_id, attributes_key=key)
    grown = same.update(
        quantity=Least(F("quantity") + line.quantity, settings.CART_MAX_QUANTITY_PER_LINE),
        updated_at=timezone.now(),
    )
    if not grown:
        limit = settings.SAVED_ITEMS_MAX
        if SavedItem.objects.filter(user_id=user_id).count() >= limit:
            raise errors.SavedItemsLimitReached(
                f"You may save up to {limit} items; remove one to save this.",
                max_saved_items=limit,
            )
        SavedItem.objects.create(
            user_id=user_id,
            product_id=line.product_id,
            quantity=line.quantity,
            attributes=line.attributes,
            attributes_key=key,
        )
    CartItem.objects.filter(pk=line.id).delete()
    lines.remove(line)
    state = CartState(cart, lines, codes.cart_codes_read(cart=cart))
    cart_event(EventType.UPDATED, state)
    return state


def saved_item_move_to_cart(
    *, owner: CartOwner, saved_item_id: int, if_match: Sequence[str] | None = None
) -> CartState:
    """Add a saved item to the owner's cart, as `cart_item_add` adds (its rules and limits),
    and remove it from the saved items; returns the cart. Refused, the item stays saved.

    With the product service, its data is fetched first, before the transaction."""
    user_id = _signed_in(owner)
    saved = selectors.saved_item_read(user_id=user_id, saved_item_id=saved_item_id)
    if saved is None:
        raise errors.SavedItemNotFound(f"You have no saved item {saved_item_id}.")
    data = product_service_data(lambda: saved.product)
    return _move_to_cart(owner, saved, if_match, data)


@transaction.atomic
def _move_to_cart(
    owner: CartOwner, saved: SavedItem, if_match: Sequence[str] | None, data: dict | None
) -> CartState:
    state = line_add(owner, saved.product_id, saved.quantity, saved.attributes, if_match, data)
    # The cart is locked now, so no save can change the item any more; but one may have
    # added to it, or a delete removed it, since it was read: then nothing is moved.
    mine = SavedItem.objects.filter(pk=saved.pk, user_id=owner.user_id)
    deleted, _ = mine.filter(quantity=saved.quantity).delete()
    if not deleted:
        if mine.exists():
            raise errors.SavedItemChanged(
                f"Units were added to saved item {saved.pk} meanwhile; read your saved items "
                "again and retry."
            )
        raise errors.SavedItemNotFound(f"You have no saved item {saved.pk}.")
    return state


@transaction.atomic
def saved_item_delete(*, user_id: int, saved_item_id: int) -> None:
    deleted, _ = SavedItem.objects.filter(pk=saved_item_id, user_id=user_id).delete()
    if not deleted:
        raise errors.SavedItemNotFound(f"You have no saved item {saved_item_id}.")
