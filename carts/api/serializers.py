"""Input serializers validate requests; output serializers document and shape answers. No
rules here."""

from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from addtocart.api.schema import ProblemOutput
from addtocart.api.serializers import (
    MoneyField,
    StrictCharField,
    StrictInputSerializer,
    StrictIntegerField,
)
from carts.attributes import MAX_KEY_LENGTH, MAX_KEYS, MAX_VALUE_LENGTH, attributes_faults
from carts.db.discounts import cart_codes_read
from carts.db.document import cart_document
from carts.domain import CartLine, CartState, Reason
from carts.models import Cart, CartItem, DiscountKind, Product


def _validate_quantity(value: int, minimum: int) -> int:
    limit = settings.CART_MAX_QUANTITY_PER_LINE
    if not minimum <= value <= limit:
        raise serializers.ValidationError(f"Must be a whole number from {minimum} to {limit}.")
    return value


ATTRIBUTES_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_LENGTH},
    "maxProperties": MAX_KEYS,
    "description": f"Options such as a size or an engraving: up to {MAX_KEYS} keys of up to "
    f"{MAX_KEY_LENGTH} characters, string values of up to {MAX_VALUE_LENGTH}, both trimmed. "
    "The same product with the same attributes is one line.",
    "example": {"size": "M", "engraving": "For Ada"},
}


@extend_schema_field(ATTRIBUTES_SCHEMA)
class LineAttributesField(serializers.Field):
    def to_internal_value(self, data: object) -> dict[str, str]:
        if faults := attributes_faults(data):
            raise serializers.ValidationError(faults)
        return data

    def to_representation(self, value: dict) -> dict:
        return value


class CartItemAddInput(StrictInputSerializer):
    product_id = StrictIntegerField(min_value=1, max_value=2**63 - 1)
    quantity = StrictIntegerField(required=False, default=1)
    attributes = LineAttributesField(required=False, default=dict)

    def validate_quantity(self, value: int) -> int:
        return _validate_quantity(value, minimum=1)


def _dotted(detail: object, prefix: str) -> dict[str, list]:
    """DRF's nested errors as `{"items.0.product_id": [...]}`."""
    if isinstance(detail, dict):
        return {
            key: errors
            for name, inner in detail.items()
            for key, errors in _dotted(inner, f"{prefix}.{name}").items()
        }
    return {prefix: detail}


class CartItemsAddInput(StrictInputSerializer):
    """A bulk add: every entry or none."""

    items = serializers.ListField(
        child=CartItemAddInput(), min_length=1, max_length=settings.CART_MAX_LINES
    )

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail
            if isinstance(detail, dict) and isinstance(detail.get("items"), dict):
                nested = detail.pop("items")
                detail = {**_dotted(nested, "items"), **detail}
            raise serializers.ValidationError(detail) from exc


class CartItemUpdateInput(StrictInputSerializer):
    quantity = StrictIntegerField(help_text="0 removes the line.")

    def validate_quantity(self, value: int) -> int:
        return _validate_quantity(value, minimum=0)


ADD_REQUEST = PolymorphicProxySerializer(
    component_name="CartAddInput",
    serializers=[CartItemAddInput, CartItemsAddInput],
    resource_type_field_name=None,
)


class CartDetailsInput(StrictInputSerializer):
    """Either or both; null or "" clears one."""

    note = StrictCharField(
        max_length=1000, required=False, allow_null=True, allow_blank=True, trim_whitespace=True
    )
    email = serializers.EmailField(
        max_length=254, required=False, allow_null=True, allow_blank=True
    )

    def validate(self, data: dict) -> dict:
        if not data:
            raise serializers.ValidationError("Send `note`, `email` or both.")
        return {name: value or "" for name, value in data.items()}


class CartDiscountInput(StrictInputSerializer):
    code = serializers.CharField(max_length=64, help_text="Any case: codes ignore it.")


class ProductRefOutput(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "sku", "name"]


class CartItemOutput(serializers.ModelSerializer):
    product = ProductRefOutput()
    unit_price = MoneyField()
    attributes = LineAttributesField(help_text="{} when none.")
    line_total = serializers.SerializerMethodField()
    discount = MoneyField(help_text="The line's share of the discount codes' amounts.")

    class Meta:
        model = CartItem
        fields = [
            "id",
            "product",
            "attributes",
            "quantity",
            "unit_price",
            "line_total",
            "discount",
        ]

    @extend_schema_field(MoneyField())
    def get_line_total(self, line: CartItem) -> str:
        return str((line.quantity * line.unit_price).quantize(Decimal("0.01")))


REASONS = [reason.value for reason in Reason]


class CartDiscountOutput(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.ChoiceField(choices=DiscountKind.choices)
    value = MoneyField(help_text="The percentage, or the amount off.")
    amount = MoneyField(help_text="What it takes off the cart now.")
    applicable = serializers.BooleanField()
    reason = serializers.ChoiceField(
        choices=REASONS, allow_null=True, help_text="Why it does not apply (null when it does)."
    )
    min_subtotal = MoneyField(required=False, help_text="With `min_subtotal_not_met`.")


# The schema of the document carts/db/document.py writes (its docstring is the API's text).
class CartOutput(serializers.Serializer):
    """The whole cart. `id` and the timestamps are null while the caller has no cart yet."""

    id = serializers.UUIDField(allow_null=True)
    status = serializers.ChoiceField(choices=Cart._meta.get_field("status").choices)
    items = CartItemOutput(many=True)
    total_quantity = serializers.IntegerField()
    subtotal = MoneyField()
    discounts = CartDiscountOutput(many=True, help_text="The codes on the cart, as applied.")
    discount_total = MoneyField(help_text="What the codes take off: the lines' discounts' sum.")
    estimated_total = MoneyField(help_text="subtotal - discount_total, never below 0.00.")
    currency = serializers.CharField()
    version = serializers.IntegerField(help_text="Grows by one on every change.")
    created_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    checked_out_at = serializers.DateTimeField(allow_null=True)
    total = MoneyField(allow_null=True, help_text="Set at checkout: what was charged.")
    note = serializers.CharField(allow_null=True, help_text="The shopper's note, if any.")
    email = serializers.EmailField(allow_null=True, help_text="The e-mail given for the cart.")
    session_id = serializers.CharField(
        allow_null=True, help_text="A guest's session id: send it back in X-Session-ID."
    )

    def to_representation(self, cart: Cart | None):
        """A cart whose lines (`items`, products selected) and codes (`discounts`) are
        loaded, as staff list them (`selectors.cart_list`)."""
        state = None
        if cart is not None:
            lines = [CartLine.of(line) for line in cart.items.all()]
            state = CartState(cart, lines, cart_codes_read(cart=cart, loaded=True))
        return cart_document(state, session_id=self.context.get("session_id"))


class StaffCartOutput(CartOutput):
    user_id = serializers.IntegerField(allow_null=True)
    guest = serializers.BooleanField()

    def to_representation(self, cart: Cart):
        return {
            **super().to_representation(cart),
            "session_id": None,
            "user_id": cart.user_id,
            "guest": cart.user_id is None,
        }


class ProductSerializer(serializers.ModelSerializer):
    """The catalog entry, as staff write it and everyone reads it."""

    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "price",
            "currency",
            "stock",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class ProductInput(StrictInputSerializer, ProductSerializer):
    stock = StrictIntegerField(min_value=0, max_value=2**31 - 1, required=False)

    class Meta(ProductSerializer.Meta):
        pass


LINE_FAULTS = ["product_unavailable", "currency_changed", "insufficient_stock", "price_changed"]


class CheckoutFault(serializers.Serializer):
    item_id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    reason = serializers.ChoiceField(choices=LINE_FAULTS)
    requested = serializers.IntegerField(required=False)
    available = serializers.IntegerField(required=False)
    unit_price = MoneyField(required=False)
    current_price = MoneyField(required=False)
    currency = serializers.CharField(required=False)


class CheckoutCodeFault(serializers.Serializer):
    code = serializers.CharField()
    reason = serializers.ChoiceField(choices=REASONS)


class CartProblemOutput(ProblemOutput):
    """A cart change's problem: checkout's 409 also lists each line and code at fault."""

    lines = CheckoutFault(many=True, required=False, help_text="Checkout: each line at fault.")
    discounts = CheckoutCodeFault(
        many=True, required=False, help_text="Checkout: each discount code that no longer applies."
    )
    reason = serializers.ChoiceField(
        choices=REASONS, required=False, help_text="discount_code_invalid: why."
    )
    min_subtotal = MoneyField(required=False, help_text="With `min_subtotal_not_met`.")


class CheckoutPreviewOutput(serializers.Serializer):
    """What a checkout would find now; nothing was changed to find it."""

    ok = serializers.BooleanField(help_text="True: no line and no code at fault.")
    lines = CheckoutFault(many=True, help_text="Each line at fault, as checkout's 409 lists it.")
    discounts = CheckoutCodeFault(many=True, help_text="Each code that no longer applies.")
    total = MoneyField(help_text="What checkout would charge: subtotal - discount_total.")
