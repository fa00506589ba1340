"""Staff's discount codes in and out. Fields are checked here one by one; a code's rules (a
percentage from 0.01 to 100, a fixed amount's currency, an end after its start, one spelling
whatever the case) are the model's, checked by the service."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from addtocart.api.serializers import MoneyField, StrictInputSerializer, StrictIntegerField
from carts.models import DiscountCode, DiscountKind, currency_validator
from carts.models.discount import code_validator

MAX_PRODUCTS = 1000
MAX_USES = 2**31 - 1  # PostgreSQL's integer


def _uses(help_text: str) -> StrictIntegerField:
    return StrictIntegerField(
        min_value=1, max_value=MAX_USES, required=False, allow_null=True, help_text=help_text
    )


class DiscountCodeInput(StrictInputSerializer):
    """A new code (`code`, `kind` and `value` required), or a change to one (any fields)."""

    code = serializers.CharField(
        max_length=64,
        validators=[code_validator],
        help_text="Letters, digits, '-' and '_'; unique whatever the case.",
    )
    kind = serializers.ChoiceField(choices=DiscountKind.choices)
    value = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text="A percentage from 0.01 to 100, or an amount in `currency`.",
    )
    currency = serializers.CharField(
        max_length=3,
        required=False,
        allow_blank=True,
        validators=[currency_validator],
        help_text="Required for a fixed amount. For a percentage, optional: only carts in this "
        'currency. "" for none.',
    )
    min_subtotal = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
        allow_null=True,
        help_text="The cart's subtotal before discounts must be at least this.",
    )
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    max_uses = _uses("Checkouts that may use it, across everyone.")
    max_uses_per_customer = _uses("Per signed-in user; guests cannot use such a code.")
    product_ids = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=2**63 - 1),
        max_length=MAX_PRODUCTS,
        required=False,
        help_text="Only these products' lines are discounted; [] for every product.",
    )
    is_active = serializers.BooleanField(required=False)


class DiscountCodeOutput(serializers.ModelSerializer):
    """A code as staff see it; read its rows with their products prefetched."""

    code = serializers.CharField()
    currency = serializers.CharField(help_text='The code\'s currency, or "" for any.')
    value = MoneyField(help_text="The percentage, or the amount off.")
    min_subtotal = MoneyField(allow_null=True)
    product_ids = serializers.SerializerMethodField(
        help_text="Only these products' lines are discounted; [] for every product."
    )
    discounted_total = MoneyField(help_text="What it has taken off checked-out carts, in all.")

    class Meta:
        model = DiscountCode
        fields = [
            "id",
            "code",
            "kind",
            "value",
            "currency",
            "min_subtotal",
            "starts_at",
            "ends_at",
            "max_uses",
            "max_uses_per_customer",
            "product_ids",
            "is_active",
            "times_used",
            "discounted_total",
            "batch",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_product_ids(self, code: DiscountCode) -> list[int]:
        return sorted(product.pk for product in code.products.all())
