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
from carts.demand import AT_RISK, products_at_risk
from carts.discount_analytics import discount_metrics
from carts.models import RefusalReason
from carts.refusal_analytics import refusal_metrics
from dashboard.periods import CUSTOM, DEFAULT_PERIOD, PRESETS, period_from_params

TOP_PRODUCTS = 10
TOP_CODES = 10
TOP_REFUSED_SKUS = 10


class SeriesPointOutput(serializers.Serializer):
    at = serializers.DateTimeField(help_text="Start of the hour or day.")
    count = serializers.IntegerField()


class ProductInCartsOutput(serializers.Serializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField(
        help_text="Units in the carts created in the period, checked out or not (merged guest "
        "carts left out: their lines are in their user's cart)."
    )
    value = MoneyField(help_text="Those units at their lines' prices.")


class ProductSoldOutput(serializers.Serializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField(
        help_text="Units checked out from the carts created in the period."
    )
    revenue = MoneyField(
        source="value", help_text="Those units at their lines' prices, before discount codes."
    )


# One of carts.models.RefusalReason (a string, not an enum: other operations' `reason` enums
# would collide with its name in the schema).
REASON_HELP = f"One of {', '.join(RefusalReason.values)}."


class RefusalReasonOutput(serializers.Serializer):
    reason = serializers.CharField(help_text=REASON_HELP)
    label = serializers.CharField()
    refusals = serializers.IntegerField(
        help_text="Checkouts refused for this reason, among others."
    )
    carts = serializers.IntegerField(help_text="Their carts, each once.")
    blocked_value = MoneyField(
        help_text="Those carts' subtotals (before codes), each at its last refusal for this reason."
    )


class RefusedSkuOutput(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField(help_text="Empty once the product is deleted.")
    product_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(help_text=REASON_HELP)
    label = serializers.CharField()
    refusals = serializers.IntegerField(help_text="Refused checkouts with such a line.")
    carts = serializers.IntegerField()
    units = serializers.IntegerField(
        help_text="Units of those lines, each cart at its last refusal for this SKU and reason."
    )
    blocked_value = MoneyField(help_text="Those units at their lines' prices.")


class RefusalsOutput(serializers.Serializer):
    """carts.refusal_analytics: the checkouts refused in [start, end), whenever the carts were
    created."""

    refusals = serializers.IntegerField(help_text="Refused checkouts, each retry counted.")
    carts = serializers.IntegerField(help_text="The carts refused, each once.")
    carts_checked_out_since = serializers.IntegerField(
        help_text="Those carts checked out afterwards."
    )
    blocked_value = MoneyField(
        help_text="What the carts refused were worth: each cart's subtotal (its lines at their "
        "prices, before codes) at its last refusal in the period, summed whatever the currency."
    )
    by_reason = RefusalReasonOutput(
        many=True, help_text="Each reason; a checkout refused for two counts under both."
    )
    skus = RefusedSkuOutput(
        many=True,
        help_text=f"The {TOP_REFUSED_SKUS} SKUs and reasons of lines at fault with the highest "
        "blocked value.",
    )


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


class ProductAtRiskOutput(serializers.Serializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    in_carts = serializers.IntegerField(help_text="Units in active carts now.")
    carts = serializers.IntegerField(help_text="Active carts holding the product, each once.")
    stock = serializers.IntegerField(help_text="Units free to sell.")
    short_by = serializers.IntegerField(
        help_text="in_carts - stock: above 0, carts hold more than can be sold."
    )


class BusinessMetricsOutput(serializers.Serializer):
    """The figures of carts.analytics.business_metrics over the carts created in [start, end),
    those of carts.discount_analytics over the carts checked out in it, and (`refusals`)
    those of carts.refusal_analytics over the checkouts refused in it."""

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
    undecided = serializers.IntegerField(
        help_text="With items, neither checked out nor abandoned yet: left out of "
        "abandonment_rate until they are."
    )
    carts_holding_lines = serializers.IntegerField(
        help_text="Checked out, or holding a line now and not merged: average_cart_value's base."
    )
    abandonment_rate = serializers.FloatField(
        allow_null=True, help_text="abandoned / (abandoned + checked_out); null when 0 / 0."
    )
    conversion_rate = serializers.FloatField(
        allow_null=True, help_text="checked_out / with_items; null when 0 / 0."
    )
    average_cart_value = MoneyField(
        allow_null=True,
        help_text="Mean value of the carts holding lines: the total if checked out, else the "
        "lines' subtotal.",
    )
    average_order_value = MoneyField(allow_null=True, help_text="Mean total at checkout.")
    revenue = MoneyField(help_text="Sum of the totals at checkout, after codes.")
    series_unit = serializers.ChoiceField(choices=["hour", "day"])
    created_series = SeriesField(help_text="Carts created per hour or day (empty ones left out).")
    checked_out_series = SeriesField(help_text="Carts checked out per hour or day.")
    top_by_quantity = ProductInCartsOutput(many=True)
    top_by_revenue = ProductSoldOutput(many=True)
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
    refusals = RefusalsOutput()
    products_at_risk = ProductAtRiskOutput(
        many=True,
        help_text=f"Now, not over the period: the {AT_RISK} active products in active carts "
        "most short of stock (short_by), then with most units in carts (carts/demand.py). "
        "Carts being checked out are left out: their units already left the stock.",
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
    codes' share of checkouts, what they took off, top codes; refused checkouts, why, and
    what they blocked."""

    authentication_classes = [CachedJWTStatelessUserAuthentication, SessionAuthentication]
    permission_classes = [IsStaff]

    @extend_schema(
        summary="Business figures of a period (staff)",
        operation_id="metrics_business",
        parameters=PERIOD_PARAMETERS,
        responses={200: BusinessMetricsOutput, **problems(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        now = timezone.now()
        period = period_from_params(request.query_params, now=now)
        metrics = business_metrics(start=period.start, end=period.end, now=now, top=TOP_PRODUCTS)
        discounts = discount_metrics(start=period.start, end=period.end, top=TOP_CODES)
        refusals = refusal_metrics(start=period.start, end=period.end, top=TOP_REFUSED_SKUS)
        figures = {
            "period": period.name,
            **asdict(discounts),
            **asdict(metrics),
            "refusals": asdict(refusals),
            "products_at_risk": products_at_risk(),
        }
        return Response(BusinessMetricsOutput(figures).data)
