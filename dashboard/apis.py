"""GET /api/v1/metrics/business/: the business metrics of a period, for staff."""

from dataclasses import asdict

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from addtocart.api.authentication import CachedJWTStatelessUserAuthentication
from addtocart.api.permissions import IsStaff
from addtocart.api.schema import problems
from addtocart.api.serializers import MoneyField
from carts.analytics import business_metrics
from carts.discount_analytics import discount_metrics
from dashboard.periods import CUSTOM, DEFAULT_PERIOD, PRESETS, period_from_params

TOP_PRODUCTS = 10
TOP_CODES = 10


class SeriesPointOutput(serializers.Serializer):
    at = serializers.DateTimeField(help_text="Start of the hour or day.")
    count = serializers.IntegerField()


class ProductFigureOutput(serializers.Serializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField(help_text="Units in carts created in the period.")
    revenue = MoneyField(help_text="Value of those units checked out.")


class CodeFigureOutput(serializers.Serializer):
    code_id = serializers.IntegerField()
    code = serializers.CharField()
    uses = serializers.IntegerField(help_text="Checkouts in the period that used the code.")
    revenue = MoneyField(help_text="Sum of those checkouts' totals, after every discount.")
    discounted_amount = MoneyField(help_text="What the code took off those checkouts.")


@extend_schema_field(SeriesPointOutput(many=True))
class SeriesField(serializers.Field):
    """A series of (bucket start, count) pairs, as a list of {at, count}."""

    def to_representation(self, value):
        return SeriesPointOutput([{"at": at, "count": n} for at, n in value], many=True).data


class BusinessMetricsOutput(serializers.Serializer):
    """The figures of carts.analytics.business_metrics over the carts created in [start, end),
    and those of carts.discount_analytics over the carts checked out in it."""

    period = serializers.ChoiceField(choices=[*PRESETS, CUSTOM])
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    created = serializers.IntegerField()
    with_items = serializers.IntegerField(help_text="Carts that ever held a line.")
    checked_out = serializers.IntegerField()
    abandoned = serializers.IntegerField(
        help_text="With items, idle longer than CART_ABANDONMENT_MINUTES, not checked out."
    )
    in_progress = serializers.IntegerField(help_text="Neither checked out nor abandoned.")
    abandonment_rate = serializers.FloatField(
        allow_null=True, help_text="abandoned / (abandoned + checked_out); null when 0 / 0."
    )
    conversion_rate = serializers.FloatField(
        allow_null=True, help_text="checked_out / with_items; null when 0 / 0."
    )
    average_cart_value = MoneyField(allow_null=True)
    average_order_value = MoneyField(allow_null=True)
    revenue = MoneyField()
    series_unit = serializers.ChoiceField(choices=["hour", "day"])
    created_series = SeriesField(help_text="Carts created per hour or day (empty ones left out).")
    checked_out_series = SeriesField(help_text="Carts checked out per hour or day.")
    top_by_quantity = ProductFigureOutput(many=True)
    top_by_revenue = ProductFigureOutput(many=True)
    checkouts = serializers.IntegerField(
        help_text="Carts checked out in the period, whenever created: the discount figures' base."
    )
    checkouts_with_code = serializers.IntegerField(
        help_text="Those checkouts that used at least one discount code."
    )
    checkouts_with_code_share = serializers.FloatField(
        allow_null=True, help_text="checkouts_with_code / checkouts; null when 0 / 0."
    )
    discounted_amount = MoneyField(help_text="Sum of what the codes took off those checkouts.")
    top_codes_by_uses = CodeFigureOutput(many=True, help_text=f"The {TOP_CODES} codes used most.")
    top_codes_by_revenue = CodeFigureOutput(
        many=True, help_text=f"The {TOP_CODES} codes whose checkouts' totals add up to most."
    )


PERIOD_PARAMETERS = [
    OpenApiParameter(
        "period",
        OpenApiTypes.STR,
        enum=list(PRESETS),
        description=f"A period ending now (default {DEFAULT_PERIOD}). Not with `from`/`to`.",
    ),
    OpenApiParameter(
        "from",
        OpenApiTypes.STR,
        description="Start of a custom period: an ISO date or date and time (UTC unless an "
        "offset is given; send `+` as `%2B`).",
    ),
    OpenApiParameter(
        "to",
        OpenApiTypes.STR,
        description="End of a custom period, excluded; a date alone includes that whole day. "
        "At most 366 days after `from`.",
    ),
]


class BusinessMetricsApi(APIView):
    """Staff: carts created, checked out and abandoned, rates, values, top products; discount
    codes' share of checkouts, what they took off, top codes."""

    authentication_classes = [CachedJWTStatelessUserAuthentication, SessionAuthentication]
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="metrics_business",
        parameters=PERIOD_PARAMETERS,
        responses={200: BusinessMetricsOutput, **problems(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        now = timezone.now()
        period = period_from_params(request.query_params, now=now)
        metrics = business_metrics(start=period.start, end=period.end, now=now, top=TOP_PRODUCTS)
        discounts = discount_metrics(start=period.start, end=period.end, top=TOP_CODES)
        figures = {"period": period.name, **asdict(discounts), **asdict(metrics)}
        return Response(BusinessMetricsOutput(figures).data)
