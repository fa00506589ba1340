"""Batch jobs over many carts (CronJobs): marking idle carts abandoned, purging old ones.

Each batch is its own short transaction and skips carts a shopper is changing right now.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.utils import timezone

from carts.analytics import abandoned_q
from carts.db import statements
from carts.domain import CartLine, CartState
from carts.models import Cart, CartItem, CartStatus, IdempotencyRecord
from carts.services.events import cart_event
from events.maintenance import cart_sequences_forget
from events.models import EventType


def cart_abandon_idle(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Mark active carts with items, idle for CART_ABANDONMENT_MINUTES, `abandoned`.

    The rule is `carts.analytics.abandoned_q`. Runs in batches, each its own short
    transaction, skipping carts a shopper is changing right now. Returns how many changed.
    """
    now = now or timezone.now()
    idle = Cart.objects.filter(abandoned_q(now), status=CartStatus.ACTIVE)
    marked = 0
    while True:
        with transaction.atomic():
            batch = statements.batch_lock(idle, size=batch_size)
            if not batch:
                return marked
            marked += Cart.objects.filter(pk__in=batch).update(
                status=CartStatus.ABANDONED, version=F("version") + 1
            )
            _abandoned_events(batch)


def _abandoned_events(cart_ids: list) -> None:
    """`cart.abandoned` for each cart just marked: three queries for the batch, then one
    INSERT per cart."""
    in_order = CartItem.objects.select_related("product").order_by("created_at", "pk")
    lines = Prefetch("items", in_order)
    for cart in Cart.objects.filter(pk__in=cart_ids).prefetch_related(lines):
        state = CartState(cart, [CartLine.of(line) for line in cart.items.all()])
        cart_event(EventType.ABANDONED, state)


def cart_purge_old(
    *,
    older_than: timedelta,
    now: datetime | None = None,
    batch_size: int = 1000,
    max_batches: int | None = None,
) -> int:
    """Delete merged, abandoned and empty carts idle for longer than `older_than`.

    Checked-out carts are history and are never deleted. Each batch is its own transaction
    and locks at most `batch_size` carts, the longest idle first, found through a partial
    index on `updated_at` (`cart_purge_idx`: abandoned, merged and never-filled carts; then
    `cart_active_updated_idx`: emptied ones), so that no batch scans the table and no lock is
    held for long. Expired idempotency records go too. Returns carts deleted.
    """
    now = now or timezone.now()
    stale = Cart.objects.filter(updated_at__lt=now - older_than).order_by("updated_at")
    empty = ~Exists(CartItem.objects.filter(cart=OuterRef("pk")))
    active = CartStatus.ACTIVE
    candidates = (
        stale.filter(
            Q(status__in=[CartStatus.ABANDONED, CartStatus.MERGED])
            | Q(status=active, first_item_added_at__isnull=True) & empty
        ),
        stale.filter(status=active, first_item_added_at__isnull=False).filter(empty),
    )
    deleted, batches = 0, 0
    for old in candidates:
        while max_batches is None or batches < max_batches:
            with transaction.atomic():
                batch = statements.batch_lock(old, size=batch_size)
                if not batch:
                    break
                batches += 1
                # The lines go by cascade, in one DELETE; only("pk") spares loading whole carts.
                carts = Cart.objects.filter(pk__in=batch).only("pk")
                deleted += carts.delete()[1].get(Cart._meta.label, 0)
                cart_sequences_forget(cart_ids=batch)
    IdempotencyRecord.objects.filter(
        created_at__lt=now - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    ).delete()
    return deleted
