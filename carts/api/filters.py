"""Query filters of the staff lists: carts, and discount codes."""

from datetime import UTC

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

from carts.models import Cart, CartStatus, DiscountCode, DiscountKind


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, queried in UTC: PostgreSQL refuses a UTC offset past 15:59 (a 500),
    and a time that is outside years 1 to 9999 in UTC is invalid (a 400)."""

    def to_python(self, value):
        value = super().to_python(value)
        try:
            return value and value.astimezone(UTC)
        except OverflowError:
            raise DjangoValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcIsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class UserIdFilter(filters.NumberFilter):
    """A user's id: a whole number in PostgreSQL's bigint range (NumberFilter's decimal field
    would take 1.5)."""

    field_class = forms.IntegerField

    def get_max_validator(self):
        return None  # max_value below


class StaffCartFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=CartStatus.choices)
    user = UserIdFilter(field_name="user_id", min_value=1, max_value=2**63 - 1)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Cart
        fields = ["status", "user", "created_after", "created_before"]


class DiscountCodeFilter(filters.FilterSet):
    is_active = filters.BooleanFilter()
    batch = filters.CharFilter(max_length=64, help_text="The batch's name, exactly.")
    kind = filters.ChoiceFilter(choices=DiscountKind.choices)

    class Meta:
        model = DiscountCode
        fields = ["is_active", "batch", "kind"]
