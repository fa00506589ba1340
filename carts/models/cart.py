import uuid

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

currency_validator = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code.")


def default_currency() -> str:
    return settings.CART_DEFAULT_CURRENCY


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(
        max_length=3, default=default_currency, validators=[currency_validator]
    )
    stock = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(condition=Q(stock__gte=0), name="product_stock_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class CartStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    CHECKING_OUT = "checking_out", "Checking out"
    CHECKED_OUT = "checked_out", "Checked out"
    MERGED = "merged", "Merged"
    ABANDONED = "abandoned", "Abandoned"


# An owner has at most one cart in these: the one they change, or the one being checked out.
CURRENT_STATUSES = [CartStatus.ACTIVE, CartStatus.CHECKING_OUT]


class Cart(models.Model):
    """A shopper's cart. A guest cart has a `session_id`, a user's cart a `user`, never both."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="carts",
    )
    # NULL, not "", for user carts: the owner check and the partial unique index rely on it.
    session_id = models.CharField(  # noqa: DJ001
        max_length=64,
        null=True,
        blank=True,
        help_text="The SHA-256 of the guest session's token, never the token itself.",
    )
    status = models.CharField(max_length=16, choices=CartStatus, default=CartStatus.ACTIVE)
    currency = models.CharField(
        max_length=3, default=default_currency, validators=[currency_validator]
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, help_text="Last activity.")
    checked_out_at = models.DateTimeField(null=True, blank=True)
    first_item_added_at = models.DateTimeField(
        null=True, blank=True, help_text="When the cart first held a line (for the metrics)."
    )
    total = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, help_text="Total at checkout."
    )
    # How many codes the cart holds (its CartDiscount rows), read with the cart itself: a
    # cart without codes is answered without reading any.
    discount_count = models.PositiveSmallIntegerField(default=0, db_default=0)
    note = models.TextField(
        max_length=1000, blank=True, default="", db_default="", help_text="The shopper's note."
    )
    email = models.EmailField(
        blank=True, default="", db_default="", help_text="Where the shop can reach a guest."
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status__in=CURRENT_STATUSES, user__isnull=False),
                name="one_active_cart_per_user",
            ),
            models.UniqueConstraint(
                fields=["session_id"],
                condition=Q(status__in=CURRENT_STATUSES, session_id__isnull=False),
                name="one_active_cart_per_session",
            ),
            models.CheckConstraint(
                condition=(
                    Q(user__isnull=False, session_id__isnull=True)
                    | Q(user__isnull=True, session_id__isnull=False)
                ),
                name="cart_has_exactly_one_owner",
            ),
            models.CheckConstraint(
                condition=Q(status="checked_out", total__isnull=False, checked_out_at__isnull=False)
                | ~Q(status="checked_out"),
                name="checked_out_cart_has_total",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="cart_version_positive"),
        ]
        indexes = [
            models.Index(fields=["session_id"], name="cart_session_idx"),
            models.Index(fields=["user", "created_at"], name="cart_user_created_idx"),
            # The business metrics (carts.analytics) can read the carts of a period from this
            # index alone (an index-only scan): it holds every column their figures need. Key
            # columns rather than INCLUDE, which SQLite (`make run`) warns about.
            models.Index(
                fields=["created_at", "status", "first_item_added_at", "updated_at", "total", "id"],
                name="cart_created_cover_idx",
            ),
            models.Index(
                fields=["checked_out_at"],
                name="cart_checked_out_idx",
                condition=Q(checked_out_at__isnull=False),
            ),
            # Marking idle carts abandoned, and purging emptied ones.
            models.Index(
                fields=["updated_at"],
                name="cart_active_updated_idx",
                condition=Q(status="active", first_item_added_at__isnull=False),
            ),
            # Purging the other old carts (carts/services/maintenance.py): abandoned, merged, and
            # never filled. An active cart leaves it with its first line, so adding to a cart
            # does not write to it.
            models.Index(
                fields=["updated_at"],
                name="cart_purge_idx",
                condition=Q(status__in=["abandoned", "merged"])
                | Q(status="active", first_item_added_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"Cart {str(self.id)[:8]} · {self.get_status_display()}"


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="cart_items")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    # carts/attributes.py: normalised; the key is "" without attributes, else their hash.
    attributes = models.JSONField(default=dict, blank=True)
    attributes_key = models.CharField(max_length=64, default="", blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cart", "product", "attributes_key"],
                name="one_line_per_product_and_attributes",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="cart_item_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="cart_item_unit_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id} in {self.cart_id}"


class IdempotencyRecord(models.Model):
    """A request sent with an `Idempotency-Key`: in progress (no `response_status` yet, held
    until `locked_until`), then its first successful answer.

    Kept in the database, not only in the cache, so a retry after a cache flush or a
    Redis outage is still answered from the record instead of doing the work twice.
    """

    owner = models.CharField(
        max_length=80,
        help_text="user:<id>, guest:<SHA-256 of the session's token>, or new-guest for a first "
        "write",
    )
    key = models.CharField(
        max_length=255, help_text="The Idempotency-Key; a new guest's as its SHA-256."
    )
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, route and body.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict)
    locked_until = models.DateTimeField(
        null=True, blank=True, help_text="While in progress: when a retry may take it over."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="one_record_per_owner_and_key"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"


class AttemptStatus(models.TextChoices):
    RESERVED = "reserved", "Stock reserved, payment pending"
    COMPLETED = "completed", "Completed"
    RELEASED = "released", "Released"


class PaymentState(models.TextChoices):
    NOT_NEEDED = "not_needed", "No payment service"
    PENDING = "pending", "Not asked yet"
    AUTHORISED = "authorised", "Authorised"
    REFUSED = "refused", "Refused"
    ABSENT = "absent", "Never received"
    UNKNOWN = "unknown", "Unknown: to be asked again"
    VOIDED = "voided", "Authorised late, voided"


class CheckoutAttempt(models.Model):
    """One try at checking a cart out (carts/services/checkout.py): its stock is held in
    `StockReservation`s from the reserve step until it completes or is released."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="checkout_attempts")
    request_key = models.CharField(
        max_length=255, blank=True, help_text="The client's Idempotency-Key, if it sent one."
    )
    status = models.CharField(max_length=16, choices=AttemptStatus, default=AttemptStatus.RESERVED)
    payment = models.CharField(max_length=16, choices=PaymentState, default=PaymentState.PENDING)
    authorization_id = models.CharField(max_length=255, blank=True)
    release_reason = models.CharField(max_length=32, blank=True)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    expires_at = models.DateTimeField(help_text="When the sweeper may release its stock.")
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["cart"],
                condition=Q(status="reserved"),
                name="one_reserved_attempt_per_cart",
            ),
        ]
        indexes = [
            models.Index(fields=["cart", "request_key"], name="attempt_cart_key_idx"),
            # The sweeper: reservations past their expiry, and released attempts whose
            # payment must be asked about again.
            models.Index(
                fields=["expires_at"],
                name="attempt_reserved_expiry_idx",
                condition=Q(status="reserved"),
            ),
            models.Index(
                fields=["created_at"],
                name="attempt_payment_unknown_idx",
                condition=Q(payment="unknown"),
            ),
        ]

    def __str__(self) -> str:
        return f"Checkout {self.id} of cart {self.cart_id} ({self.status})"


class StockReservation(models.Model):
    """Units of a product held for a checkout attempt, taken from `Product.stock`; they
    expire with the attempt (`CheckoutAttempt.expires_at`)."""

    attempt = models.ForeignKey(
        CheckoutAttempt, on_delete=models.CASCADE, related_name="reservations"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "product"], name="one_reservation_per_product"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="reservation_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id} for {self.attempt_id}"


class StockSale(models.Model):
    """Units sold that the product service must be told of (only with PRODUCT_SERVICE_URL).

    Until the service acknowledges it, and for PRODUCT_CACHE_SECONDS after (an answer fetched
    before it may still be cached), the sale is subtracted from the service's stock figure
    (carts/services/catalog.py), so the last unit cannot be sold twice.
    """

    attempt = models.ForeignKey(CheckoutAttempt, on_delete=models.CASCADE, related_name="sales")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="sales")
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["attempt", "product"], name="one_sale_per_product"),
        ]
        indexes = [
            models.Index(fields=["product", "reported_at"], name="sale_product_reported_idx"),
            # The sweeper's work, and its gauge: sales not yet reported.
            models.Index(
                fields=["created_at"],
                name="sale_unreported_idx",
                condition=Q(reported_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id} sold by {self.attempt_id}"
