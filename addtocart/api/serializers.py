"""Serializer parts every app's API shares: strict input, and money as the API writes it."""

from rest_framework import serializers


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: no strings, floats or booleans that DRF would coerce."""

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string only: no number or boolean that DRF would turn into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
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


def valid_input(serializer_class: type[serializers.Serializer], request) -> dict:
    """The request's body as `serializer_class` validated it (a 400 problem if not valid)."""
    serializer = serializer_class(data=request.data if request.data is not None else {})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class EmptyInput(StrictInputSerializer):
    """Endpoints that take no body still refuse unknown fields."""


class MoneyField(serializers.DecimalField):
    """An amount as the API writes every amount: a string with two decimals ("14.50")."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=14, decimal_places=2, coerce_to_string=True, **kwargs)
