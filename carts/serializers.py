"""Input serializers validate requests; output serializers shape answers. No rules here."""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from addtocart.renderers import RawJSON
from carts.models import Cart, CartItem, Product
from carts.selectors import CartLine, RenderedLines

MONEY = {"max_digits": 14, "decimal_places": 2, "coerce_to_string": True}
CENT = Decimal("0.01")


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: no strings, floats or booleans that DRF would coerce."""

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictInputSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a misspelt field is an error, not ignored."""

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        errors = {name: ["This field is not allowed."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            errors = {**exc.detail, **errors}
        if errors:
            raise serializers.ValidationError(errors)
        return value


def _validate_quantity(value: int, minimum: int) -> int:
    limit = settings.CART_MAX_QUANTITY_PER_LINE
    if not minimum <= value <= limit:
        raise serializers.ValidationError(f"Must be a whole number from {minimum} to {limit}.")
    return value


class CartItemAddInput(StrictInputSerializer):
    product_id = StrictIntegerField(min_value=1, max_value=2**63 - 1)
    quantity = StrictIntegerField(required=False, default=1)

    def validate_quantity(self, value: int) -> int:
        return _validate_quantity(value, minimum=1)


class CartItemUpdateInput(StrictInputSerializer):
    quantity = StrictIntegerField(help_text="0 removes the line.")

    def validate_quantity(self, value: int) -> int:
        return _validate_quantity(value, minimum=0)


class EmptyInput(StrictInputSerializer):
    """Endpoints that take no body still refuse unknown fields."""


class ProductRefOutput(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "sku", "name"]


class CartItemOutput(serializers.ModelSerializer):
    product = ProductRefOutput()
    unit_price = serializers.DecimalField(**MONEY)
    line_total = serializers.SerializerMethodField()

    class Meta:
        model = CartItem
        fields = ["id", "product", "quantity", "unit_price", "line_total"]

    @extend_schema_field(serializers.DecimalField(**MONEY))
    def get_line_total(self, line: CartItem) -> str:
        return str((line.quantity * line.unit_price).quantize(CENT))


class CartOutput(serializers.Serializer):
    """The whole cart. `id` and the timestamps are null while the caller has no cart yet."""

    id = serializers.UUIDField(allow_null=True)
    status = serializers.ChoiceField(choices=Cart._meta.get_field("status").choices)
    items = CartItemOutput(many=True)
    total_quantity = serializers.IntegerField()
    subtotal = serializers.DecimalField(**MONEY)
    currency = serializers.CharField()
    version = serializers.IntegerField(help_text="Grows by one on every change.")
    created_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    checked_out_at = serializers.DateTimeField(allow_null=True)
    total = serializers.DecimalField(allow_null=True, help_text="Set at checkout.", **MONEY)
    session_id = serializers.CharField(
        allow_null=True, help_text="A guest's session id: send it back in X-Session-ID."
    )

    def to_representation(self, cart: Cart | None):
        lines = [CartLine.of(line) for line in cart.items.all()] if cart is not None else []
        return cart_representation(cart, lines, session_id=self.context.get("session_id"))


def _time(value: datetime | None) -> str | None:
    """As DRF writes times: ISO 8601, UTC as `Z`."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _items(lines: list[CartLine]) -> tuple[list[dict], Decimal, int]:
    """The answer's `items`, with the subtotal and quantity over them. (What
    `selectors.RenderedLines` holds, written by PostgreSQL instead.)"""
    items, subtotal, quantity = [], Decimal("0"), 0
    for line in lines:
        line_total = line.quantity * line.unit_price
        subtotal += line_total
        quantity += line.quantity
        items.append(
            {
                "id": line.id,
                "product": {"id": line.product_id, "sku": line.sku, "name": line.name},
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "line_total": _money(line_total),
            }
        )
    return items, subtotal, quantity


def cart_representation(
    cart: Cart | None, lines: list[CartLine] | RenderedLines, *, session_id: str | None = None
) -> dict:
    """The `CartOutput` document, built directly: it is on every cart answer, and DRF's
    field-by-field serializers cost several times more for a cart of many lines (make bench)."""
    if cart is None:
        return {
            "id": None,
            "status": "active",
            "items": [],
            "total_quantity": 0,
            "subtotal": "0.00",
            "currency": settings.CART_DEFAULT_CURRENCY,
            "version": 0,
            "created_at": None,
            "updated_at": None,
            "checked_out_at": None,
            "total": None,
            "session_id": session_id,
        }
    if isinstance(lines, RenderedLines):
        items, subtotal, quantity = RawJSON(lines.items_json), lines.subtotal, lines.quantity
    else:
        items, subtotal, quantity = _items(lines)
    return {
        "id": str(cart.id),
        "status": cart.status,
        "items": items,
        "total_quantity": quantity,
        "subtotal": _money(subtotal),
        "currency": cart.currency,
        "version": cart.version,
        "created_at": _time(cart.created_at),
        "updated_at": _time(cart.updated_at),
        "checked_out_at": _time(cart.checked_out_at),
        "total": None if cart.total is None else _money(cart.total),
        "session_id": session_id,
    }


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


class ProductServiceInput(serializers.Serializer):
    """A product as the product service answers `GET /products/{sku}`; other fields ignored."""

    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    stock = StrictIntegerField(min_value=0, max_value=2**31 - 1)
    is_active = serializers.BooleanField()


class CheckoutFault(serializers.Serializer):
    item_id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    reason = serializers.ChoiceField(
        choices=["product_unavailable", "currency_changed", "insufficient_stock", "price_changed"]
    )
    requested = serializers.IntegerField(required=False)
    available = serializers.IntegerField(required=False)
    unit_price = serializers.DecimalField(required=False, **MONEY)
    current_price = serializers.DecimalField(required=False, **MONEY)
    currency = serializers.CharField(required=False)


class ProblemOutput(serializers.Serializer):
    """RFC 9457 problem details, as every error of the API is answered."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    errors = serializers.DictField(
        required=False, help_text="Per-field messages when the request body was invalid."
    )
    lines = CheckoutFault(many=True, required=False, help_text="Checkout: each line at fault.")
