"""The outbox of cart events, and the webhook endpoints and deliveries that carry them out.

No foreign key to carts: an event outlives its cart (purged carts keep their history for
EVENT_RETENTION_DAYS) and a cart's deletion must not wait on its events.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class EventType(models.TextChoices):
    CREATED = "cart.created", "Cart created"
    UPDATED = "cart.updated", "Cart updated"
    MERGED = "cart.merged", "Cart merged"
    CHECKOUT_STARTED = "cart.checkout_started", "Checkout started"
    CHECKED_OUT = "cart.checked_out", "Checked out"
    CHECKOUT_FAILED = "cart.checkout_failed", "Checkout failed"
    ABANDONED = "cart.abandoned", "Cart abandoned"
    RESUMED = "cart.resumed", "Cart resumed"


class Event(models.Model):
    """One committed change of a cart, written in the change's own transaction.

    `position` is its place in commit order and `sequence` the cart's count of its events from
    1, so a consumer can order them or drop stale ones. The relay gives both once the event is
    visible (events/relay.py), before any reader or delivery can see it.
    """

    id = models.BigAutoField(primary_key=True)
    position = models.BigIntegerField(null=True, blank=True)
    type = models.CharField(max_length=40, choices=EventType.choices)
    cart_id = models.UUIDField()
    sequence = models.PositiveIntegerField(null=True, blank=True)
    data = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # A change's INSERT updates two indexes, both by id (the key, the relay's work): the
        # others leave out events the relay has not reached, so only the relay pays them. An
        # index by cart (a random UUID) written by every change cost the add about a sixth of
        # its throughput (docs/performance.md): each insert landed on another page, and each
        # page's first change after a checkpoint wrote all 8 kB of it to the WAL.
        constraints = [
            models.UniqueConstraint(
                fields=["cart_id", "sequence"],
                condition=Q(sequence__isnull=False),
                name="event_cart_sequence",
            ),
            models.UniqueConstraint(
                fields=["position"],
                condition=Q(position__isnull=False),
                name="event_position_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["id"], condition=Q(position__isnull=True), name="event_unpositioned"
            ),
            models.Index(
                fields=["type", "position"],
                condition=Q(position__isnull=False),
                name="event_type_position",
            ),
        ]

    def __str__(self) -> str:
        return f"evt_{self.pk} {self.type}"


class CartSequence(models.Model):
    """The last `sequence` the relay gave each cart's events, kept while the cart lives (carts
    purged go with theirs): a cart idle for longer than EVENT_RETENTION_DAYS has no events left
    to count on, and a count starting again at 1 would have consumers drop its next events as
    stale."""

    cart_id = models.UUIDField(primary_key=True)
    last = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.cart_id}: {self.last}"


class WebhookEndpoint(models.Model):
    """A receiver of events, managed by staff. `secret` signs deliveries (Standard Webhooks);
    after a rotation `previous_secret` signs them too until `previous_secret_expires_at`."""

    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list, help_text='Event types, or ["*"] for all.')
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Set when the worker disabled it for failing (is_active turned off with it): a delivery
    # ran out of retries with no success since its first attempt.
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One event to one endpoint. `cart_id` and `position` are the event's, kept here so
    that a cart's deliveries to an endpoint go in order without reading the events."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    cart_id = models.UUIDField()
    position = models.BigIntegerField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A worker that claimed it holds it until then; past it, another worker may try again.
    leased_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="delivery_once_per_endpoint")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status=DeliveryStatus.PENDING),
                name="delivery_due_idx",
            ),
            models.Index(
                fields=["endpoint", "cart_id", "position"],
                condition=Q(status=DeliveryStatus.PENDING),
                name="delivery_cart_order_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"evt_{self.event_id} to {self.endpoint_id}: {self.status}"


class WebhookAttempt(models.Model):
    """One try of a delivery: what the receiver answered, or why it could not."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.FloatField()
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
