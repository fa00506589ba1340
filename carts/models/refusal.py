"""Refused checkouts: what a shopper failed to buy, and why (carts/refusal_analytics.py reads
them for the dashboard, the API and the figures).

A refusal is written with the `cart.checkout_failed` event that tells of it, in the same
transaction, and only then: a checkout that succeeds writes none of these rows. It goes with
its cart (CASCADE), so the purge of old carts takes it along.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from carts.models.cart import Cart, Product, currency_validator


class RefusalReason(models.TextChoices):
    """Why a checkout was refused. The first four are faults of a line (the API's
    `lines[].reason`), the others of the whole cart."""

    INSUFFICIENT_STOCK = "insufficient_stock", "Out of stock"
    PRICE_CHANGED = "price_changed", "Price changed"
    PRODUCT_UNAVAILABLE = "product_unavailable", "Product unavailable"
    CURRENCY_CHANGED = "currency_changed", "Currency changed"
    CODE_INVALID = "code_invalid", "Discount code invalid"
    PAYMENT_REFUSED = "payment_refused", "Payment refused"
    PAYMENT_UNAVAILABLE = "payment_unavailable", "Payment service unavailable"
    CHECKOUT_EXPIRED = "checkout_expired", "Checkout expired"


class CheckoutRefusal(models.Model):
    """One refused checkout of a cart: each try counts, a retry is a refusal of its own."""

    # Indexed by (cart, at) below, which also serves the cascade from the cart.
    cart = models.ForeignKey(
        Cart, on_delete=models.CASCADE, related_name="checkout_refusals", db_index=False
    )
    at = models.DateTimeField(default=timezone.now)
    value = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="The cart's subtotal when refused: its lines at their prices, before codes.",
    )
    currency = models.CharField(max_length=3, validators=[currency_validator])

    class Meta:
        ordering = ["-at"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=0), name="refusal_value_not_negative"),
        ]
        indexes = [
            # The refusals of a period (carts/refusal_analytics.py).
            models.Index(fields=["at"], name="refusal_at_idx"),
            # A cart's later refusals in a period (each cart's value is counted once).
            models.Index(fields=["cart", "at"], name="refusal_cart_at_idx"),
        ]

    def __str__(self) -> str:
        return f"Checkout of cart {self.cart_id} refused at {self.at:%Y-%m-%d %H:%M}"


class CheckoutRefusalReason(models.Model):
    """One reason of a refusal: each reason once, whether one line or several had it."""

    refusal = models.ForeignKey(CheckoutRefusal, on_delete=models.CASCADE, related_name="reasons")
    reason = models.CharField(max_length=32, choices=RefusalReason)

    class Meta:
        constraints = [
            # Its index, led by the refusal, serves the cascade and the reads by refusal.
            models.UniqueConstraint(
                fields=["refusal", "reason"], name="one_row_per_refusal_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} ({self.refusal_id})"


class CheckoutRefusalLine(models.Model):
    """A line at fault in a refused checkout: the reasons of the cart's lines, per SKU."""

    refusal = models.ForeignKey(CheckoutRefusal, on_delete=models.CASCADE, related_name="lines")
    # The SKU is kept when the product is deleted from the catalog.
    product = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="refusal_lines"
    )
    sku = models.CharField(max_length=64)
    reason = models.CharField(max_length=32, choices=RefusalReason)
    quantity = models.PositiveIntegerField()
    value = models.DecimalField(
        max_digits=14, decimal_places=2, help_text="The line's quantity at its unit price."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(value__gte=0), name="refusal_line_value_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}: {self.reason}"
