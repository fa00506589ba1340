"""Discount codes (staff write them) and the codes on carts (shoppers apply them).

A code's use is counted when a checkout completes: `uses_held` counts the checkouts in
progress holding one, so that together with `times_used` it never passes `max_uses`
(carts/db/discounts.py holds and counts them under the code's row lock).
"""

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from carts.models.cart import Cart, Product, currency_validator

CODE_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
code_validator = RegexValidator(CODE_PATTERN, "Use letters, digits, '-' and '_' (1 to 64).")


class DiscountKind(models.TextChoices):
    PERCENTAGE = "percentage", "Percentage"
    FIXED_AMOUNT = "fixed_amount", "Fixed amount"


class DiscountCode(models.Model):
    code = models.CharField(
        max_length=64, validators=[code_validator], help_text="Matched case-insensitively."
    )
    kind = models.CharField(max_length=16, choices=DiscountKind)
    value = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text="A percentage from 0.01 to 100, or an amount in `currency`.",
    )
    currency = models.CharField(
        max_length=3,
        blank=True,
        validators=[currency_validator],
        help_text="A fixed amount's currency; for a percentage, optional: only carts in it.",
    )
    min_subtotal = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="The cart's subtotal before discounts must be at least this.",
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True, help_text="Across everyone.")
    max_uses_per_customer = models.PositiveIntegerField(
        null=True, blank=True, help_text="Per signed-in user; guests cannot use such a code."
    )
    products = models.ManyToManyField(
        Product,
        blank=True,
        related_name="discount_codes",
        help_text="Only these products' lines are discounted; none: every line.",
    )
    is_active = models.BooleanField(default=True)
    times_used = models.PositiveIntegerField(default=0, editable=False)
    uses_held = models.PositiveIntegerField(
        default=0, editable=False, help_text="Held by checkouts waiting for their payment."
    )
    discounted_total = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, editable=False
    )
    batch = models.CharField(
        max_length=64, blank=True, help_text="The batch it was generated in, if any."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                Lower("code"),
                name="discount_code_unique_ignoring_case",
                violation_error_code="discount_code_taken",
                violation_error_message="Another code is spelt the same (codes ignore case).",
            ),
            models.CheckConstraint(
                condition=Q(kind="percentage", value__gte="0.01", value__lte=100)
                | Q(kind="fixed_amount", value__gt=0) & ~Q(currency=""),
                name="discount_code_value_in_range",
                violation_error_message="A percentage is from 0.01 to 100; a fixed amount is "
                "above 0 and has a currency.",
            ),
            # Uses are held under the code's row lock (carts/db/discounts.py); staff may not
            # lower the limit below the uses counted and held either.
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True)
                | Q(max_uses__gte=models.F("times_used") + models.F("uses_held")),
                name="discount_code_uses_within_max_uses",
                violation_error_message="max_uses cannot be below the uses already counted and "
                "those held by checkouts in progress.",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gt=models.F("starts_at")),
                name="discount_code_ends_after_start",
                violation_error_message="A code ends after it starts.",
            ),
        ]
        indexes = [models.Index(fields=["batch"], name="discount_code_batch_idx")]

    def __str__(self) -> str:
        return self.code


class CartDiscount(models.Model):
    """A code on a cart. At checkout its `amount`, each line's share (`line_shares`, line id
    to amount) and the code's terms are kept as charged; while the cart is active they are
    computed afresh."""

    # Indexed by the (cart, code) constraint and `cart_discount_code_idx`, not each alone.
    cart = models.ForeignKey(
        Cart, on_delete=models.CASCADE, related_name="discounts", db_index=False
    )
    code = models.ForeignKey(
        DiscountCode, on_delete=models.PROTECT, related_name="cart_uses", db_index=False
    )
    added_at = models.DateTimeField(default=timezone.now)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    line_shares = models.JSONField(default=dict, blank=True)
    # At checkout: the code's spelling, kind and value then, shown with the amount since.
    charged_terms = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "code"], name="one_use_of_a_code_per_cart"),
        ]
        # Per-customer counts and the dashboards read a code's carts.
        indexes = [models.Index(fields=["code", "cart"], name="cart_discount_code_idx")]

    def __str__(self) -> str:
        return f"{self.code_id} on {self.cart_id}"
