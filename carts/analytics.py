"""Cart business metrics: one definition for the API, the dashboard and Prometheus.

Over the carts created in a period [start, end):
- created; with items: carts that ever held a line (`first_item_added_at` is set);
- checked out; abandoned: with items, not checked out or merged, last activity older than
  CART_ABANDONMENT_MINUTES; in progress: the rest;
- abandonment rate = abandoned / (abandoned + checked out);
- checkout conversion rate = checked out / with items;
- average cart value = mean subtotal of carts with items (the total for checked-out carts);
- average order value = mean total at checkout; revenue = sum of totals at checkout.
A rate whose denominator is zero is None. Everything is database aggregation: a fixed handful
of queries whatever the number of carts.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Q,
    Sum,
)
from django.db.models.functions import Coalesce, TruncDay, TruncHour
from django.utils import timezone

from carts.models import Cart, CartItem, CartStatus

MONEY = DecimalField(max_digits=14, decimal_places=2)
CENT = Decimal("0.01")
LINE_VALUE = ExpressionWrapper(F("quantity") * F("unit_price"), output_field=MONEY)


@dataclass(frozen=True)
class ProductFigure:
    product_id: int
    sku: str
    name: str
    quantity: int
    revenue: Decimal


@dataclass(frozen=True)
class BusinessMetrics:
    start: datetime
    end: datetime
    created: int
    with_items: int
    checked_out: int
    abandoned: int
    in_progress: int
    abandonment_rate: float | None
    conversion_rate: float | None
    average_cart_value: Decimal | None
    average_order_value: Decimal | None
    revenue: Decimal
    series_unit: str
    created_series: list[tuple[datetime, int]] = field(default_factory=list)
    checked_out_series: list[tuple[datetime, int]] = field(default_factory=list)
    top_by_quantity: list[ProductFigure] = field(default_factory=list)
    top_by_revenue: list[ProductFigure] = field(default_factory=list)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT)


def abandoned_q(now: datetime) -> Q:
    """Carts that count as abandoned at `now` (the job marks exactly these `abandoned`)."""
    cutoff = now - timedelta(minutes=settings.CART_ABANDONMENT_MINUTES)
    return Q(
        first_item_added_at__isnull=False,
        status__in=[CartStatus.ACTIVE, CartStatus.ABANDONED],
        updated_at__lt=cutoff,
    )


def business_metrics(
    *, start: datetime, end: datetime, now: datetime | None = None, top: int = 10
) -> BusinessMetrics:
    now = now or timezone.now()
    carts = Cart.objects.filter(created_at__gte=start, created_at__lt=end)
    figures = carts.aggregate(
        created=Count("pk"),
        with_items=Count("pk", filter=Q(first_item_added_at__isnull=False)),
        checked_out=Count("pk", filter=Q(status=CartStatus.CHECKED_OUT)),
        abandoned=Count("pk", filter=abandoned_q(now)),
        average_order_value=Avg("total", filter=Q(status=CartStatus.CHECKED_OUT)),
        revenue=Sum("total", filter=Q(status=CartStatus.CHECKED_OUT)),
    )
    products = _product_figures(start, end)
    open_value = sum((row["open_value"] for row in products), Decimal("0"))
    cart_values = (figures["revenue"] or 0) + open_value
    average_cart_value = cart_values / figures["with_items"] if figures["with_items"] else None
    unit = "hour" if end - start <= timedelta(days=2) else "day"
    trunc = TruncHour if unit == "hour" else TruncDay
    checked_out, abandoned = figures["checked_out"], figures["abandoned"]
    return BusinessMetrics(
        start=start,
        end=end,
        created=figures["created"],
        with_items=figures["with_items"],
        checked_out=checked_out,
        abandoned=abandoned,
        in_progress=figures["created"] - checked_out - abandoned,
        abandonment_rate=_rate(abandoned, abandoned + checked_out),
        conversion_rate=_rate(checked_out, figures["with_items"]),
        average_cart_value=_money(average_cart_value),
        average_order_value=_money(figures["average_order_value"]),
        revenue=_money(figures["revenue"]) or Decimal("0.00"),
        series_unit=unit,
        created_series=_series(carts, trunc("created_at")),
        checked_out_series=_series(
            Cart.objects.filter(checked_out_at__gte=start, checked_out_at__lt=end),
            trunc("checked_out_at"),
        ),
        top_by_quantity=_top(products, "units", top),
        top_by_revenue=_top(products, "revenue", top),
    )


def _series(carts, bucket) -> list[tuple[datetime, int]]:
    rows = carts.annotate(bucket=bucket).values("bucket").annotate(n=Count("pk")).order_by("bucket")
    return [(row["bucket"], row["n"]) for row in rows]


def _product_figures(start: datetime, end: datetime) -> list[dict]:
    """Per product, over the lines of carts created in the period: units in carts, revenue
    (lines of checked-out carts) and open value (lines of carts not checked out). One
    grouped query serves the top lists and the average cart value."""
    checked_out = Q(cart__status=CartStatus.CHECKED_OUT)
    return list(
        CartItem.objects.filter(cart__created_at__gte=start, cart__created_at__lt=end)
        .values("product_id", "product__sku", "product__name")
        .annotate(
            units=Sum("quantity"),
            revenue=Coalesce(Sum(LINE_VALUE, filter=checked_out), Decimal("0"), output_field=MONEY),
            open_value=Coalesce(
                Sum(LINE_VALUE, filter=~checked_out), Decimal("0"), output_field=MONEY
            ),
        )
        .order_by()
    )


def _top(products: list[dict], figure: str, top: int) -> list[ProductFigure]:
    ranked = sorted(products, key=lambda row: (-row[figure], row["product_id"]))[:top]
    return [
        ProductFigure(
            product_id=row["product_id"],
            sku=row["product__sku"],
            name=row["product__name"],
            quantity=row["units"],
            revenue=row["revenue"].quantize(CENT),
        )
        for row in ranked
    ]


def carts_by_status() -> dict[str, int]:
    counts = dict(Cart.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return {status: counts.get(status, 0) for status in CartStatus.values}
