"""Cart business metrics: one definition for the API, the dashboard and Prometheus.

Over the carts created in a period [start, end):
- created; with items: carts that ever held a line (`first_item_added_at` is set);
- checked out (so far); abandoned: with items, not checked out or merged, last activity
  older than CART_ABANDONMENT_MINUTES; in progress: the rest (empty carts included);
  undecided: with items, neither checked out nor abandoned (yet);
- abandonment rate = abandoned / (abandoned + checked out): the undecided carts are left out
  until they are checked out or idle long enough;
- checkout conversion rate = checked out / with items;
- carts holding lines: checked out, or active, checking out or abandoned with a line now (an
  emptied cart holds none; a merged guest cart's lines live on in its user's cart);
- average cart value = mean value of the carts holding lines: the total for checked-out
  carts, the lines' subtotal (at their prices, before codes) for the others;
- average order value = mean total at checkout; revenue = sum of totals at checkout (after
  discount codes);
- top products by quantity: units in the lines of the carts (merged ones left out),
  whatever became of them, and their value at the lines' prices; by revenue: units checked
  out and their value at the lines' prices (before codes), from the same lines of the
  checked-out carts. Each table's two figures count the same lines.
A rate whose denominator is zero is None. Everything is database aggregation, in four queries
whatever the number of carts (three without top products): the carts by hour or day of
creation, the checkouts by hour or day, the lines by product, the names of the top products.
A period and the one before (the dashboard's comparison) come from the same four queries.
Behind them: the indexes `cart_created_cover_idx` and `cart_checked_out_idx`
(carts/models/cart.py), the lines' unique (cart, product, attributes) index for whether a
cart holds a line, and statistics on the hours and days (carts migration 0003).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from django.conf import settings
from django.db.models import Count, DecimalField, Exists, ExpressionWrapper, F, OuterRef, Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from carts.models import Cart, CartItem, CartStatus, Product

# The type of amounts computed in SQL (sums of quantity x unit price).
MONEY_OUTPUT = DecimalField(max_digits=14, decimal_places=2)
CENT = Decimal("0.01")
LINE_VALUE = ExpressionWrapper(F("quantity") * F("unit_price"), output_field=MONEY_OUTPUT)
# The carts whose lines are their own and not sold yet (checked-out ones count their total).
HELD_STATUSES = [CartStatus.ACTIVE, CartStatus.CHECKING_OUT, CartStatus.ABANDONED]


@dataclass(frozen=True)
class ProductFigure:
    """A product's units and their value at the lines' prices, over the same lines: those in
    carts (top_by_quantity) or those checked out (top_by_revenue, where value is revenue)."""

    product_id: int
    sku: str
    name: str
    quantity: int
    value: Decimal


@dataclass(frozen=True)
class BusinessMetrics:
    start: datetime
    end: datetime
    created: int
    with_items: int
    checked_out: int
    abandoned: int
    in_progress: int
    undecided: int
    carts_holding_lines: int
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


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator to four places; None when the denominator is 0."""
    return round(numerator / denominator, 4) if denominator else None


def money(value: Decimal | None) -> Decimal | None:
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
    """The figures of the carts created in [start, end), with the `top` products."""
    return consecutive_business_metrics([start, end], now=now, top=top)[-1]


def consecutive_business_metrics(
    bounds: list[datetime], *, now: datetime | None = None, top: int = 10
) -> list[BusinessMetrics]:
    """The figures of the periods [bounds[0], bounds[1]), [bounds[1], bounds[2]), ... in the
    queries of one period, each reading them all at once: the dashboard compares a period
    with the one before. The `top` products are those of the last period (the others' lists
    are empty). The series are by hour when no period is longer than two days, else by day.

    Each figure of each period is a column of its own (`created_0`, `created_1`, ...):
    grouping by period instead would hide from PostgreSQL how few groups there are, and
    it would sort or hash every row on its own.
    """
    now = now or timezone.now()
    periods = [_Period(start, end) for start, end in pairwise(bounds)]
    longest = max(period.end - period.start for period in periods)
    unit = "hour" if longest <= timedelta(days=2) else "day"
    trunc = TruncHour if unit == "hour" else TruncDay
    for row in _cart_rows(bounds, trunc, now):
        for i, period in enumerate(periods):
            period.add_carts(row, i)
    for row in _checkout_rows(bounds, trunc):
        for i, period in enumerate(periods):
            if row[f"checked_out_{i}"]:
                period.checked_out_series.append((row["bucket"], row[f"checked_out_{i}"]))
    products = []  # of the last period
    for row in _line_rows(bounds, top):
        for i, period in enumerate(periods):
            period.open_value += row[f"open_value_{i}"] or 0
        if top and row["units"]:
            products.append(row)
    sold = [row for row in products if row["sold"]]
    by_quantity, by_revenue = _ranked(products, "units", top), _ranked(sold, "revenue", top)
    names = _product_names({row["product_id"] for row in by_quantity + by_revenue})
    return [period.metrics(unit) for period in periods[:-1]] + [
        periods[-1].metrics(
            unit,
            top_by_quantity=[_product(row, names, "units", "value") for row in by_quantity],
            top_by_revenue=[_product(row, names, "sold", "revenue") for row in by_revenue],
        )
    ]


def inside_period(field_name: str, bounds: list[datetime], i: int) -> Q:
    """The rows of period i, among rows already filtered to [bounds[0], bounds[-1]): only
    the inner bounds need checking (none for a single period)."""
    inside = Q()
    if i > 0:
        inside &= Q(**{f"{field_name}__gte": bounds[i]})
    if i < len(bounds) - 2:
        inside &= Q(**{f"{field_name}__lt": bounds[i + 1]})
    return inside


def _cart_rows(bounds: list[datetime], trunc, now: datetime):
    """Per hour or day of creation, the carts' counts and revenue, for each period."""
    checked_out = Q(status=CartStatus.CHECKED_OUT)
    has_lines = Exists(CartItem.objects.filter(cart=OuterRef("pk")))
    holding = checked_out | Q(status__in=HELD_STATUSES) & has_lines
    with_items, abandoned = Q(first_item_added_at__isnull=False), abandoned_q(now)
    figures = {}
    for i in range(len(bounds) - 1):
        inside = inside_period("created_at", bounds, i)
        figures |= {
            f"created_{i}": Count("pk", filter=inside),
            f"with_items_{i}": Count("pk", filter=inside & with_items),
            f"checked_out_{i}": Count("pk", filter=inside & checked_out),
            f"abandoned_{i}": Count("pk", filter=inside & abandoned),
            f"undecided_{i}": Count("pk", filter=inside & with_items & ~checked_out & ~abandoned),
            f"holding_{i}": Count("pk", filter=inside & holding),
            f"revenue_{i}": Sum("total", filter=inside & checked_out),
        }
    carts = Cart.objects.filter(created_at__gte=bounds[0], created_at__lt=bounds[-1])
    return carts.values(bucket=trunc("created_at")).annotate(**figures).order_by("bucket")


def _checkout_rows(bounds: list[datetime], trunc):
    """Per hour or day of checkout, the carts checked out in each period."""
    counts = {
        f"checked_out_{i}": Count(
            "checked_out_at", filter=inside_period("checked_out_at", bounds, i)
        )
        for i in range(len(bounds) - 1)
    }
    carts = Cart.objects.filter(checked_out_at__gte=bounds[0], checked_out_at__lt=bounds[-1])
    return carts.values(bucket=trunc("checked_out_at")).annotate(**counts).order_by("bucket")


def _line_rows(bounds: list[datetime], top: int):
    """Per product, over the lines of carts created in the periods, merged guest carts left
    out (their lines live on in their user's cart): the open value (lines of carts not
    checked out) of each period, for the average cart value (the checked-out carts' values
    are their totals); and if `top`, of the last period, the units in carts and their value,
    and the units checked out and their value (revenue). Only those lines are read."""
    checked_out = Q(cart__status=CartStatus.CHECKED_OUT)
    figures = {
        f"open_value_{i}": Sum(
            LINE_VALUE, filter=inside_period("cart__created_at", bounds, i) & ~checked_out
        )
        for i in range(len(bounds) - 1)
    }
    lines = CartItem.objects.filter(
        cart__created_at__gte=bounds[0], cart__created_at__lt=bounds[-1]
    ).filter(~Q(cart__status=CartStatus.MERGED))
    if not top:
        lines = lines.filter(~checked_out)
    else:
        last = inside_period("cart__created_at", bounds, len(bounds) - 2)
        figures |= {
            "units": Sum("quantity", filter=last),
            "value": Sum(LINE_VALUE, filter=last),
            "sold": Sum("quantity", filter=last & checked_out),
            "revenue": Sum(LINE_VALUE, filter=last & checked_out),
        }
        if last:  # the periods before the last one need only their open carts
            lines = lines.filter(last | ~checked_out)
    return lines.values("product_id").annotate(**figures).order_by()


def _ranked(products: list[dict], figure: str, top: int) -> list[dict]:
    return sorted(products, key=lambda row: (-(row[figure] or 0), row["product_id"]))[:top]


def _product_names(ids: set[int]) -> dict[int, tuple[str, str]]:
    """SKU and name of the top products (the lines query does not join the products)."""
    if not ids:
        return {}
    rows = Product.objects.filter(pk__in=ids).values_list("pk", "sku", "name")
    return {pk: (sku, name) for pk, sku, name in rows}


def _product(row: dict, names: dict[int, tuple[str, str]], units: str, value: str) -> ProductFigure:
    sku, name = names[row["product_id"]]
    return ProductFigure(
        product_id=row["product_id"],
        sku=sku,
        name=name,
        quantity=row[units],
        value=row[value].quantize(CENT),
    )


@dataclass
class _Period:
    """One period's share of the rows, summed up as they arrive."""

    start: datetime
    end: datetime
    created: int = 0
    with_items: int = 0
    checked_out: int = 0
    abandoned: int = 0
    undecided: int = 0
    holding: int = 0
    revenue: Decimal = Decimal("0")
    open_value: Decimal = Decimal("0")
    created_series: list[tuple[datetime, int]] = field(default_factory=list)
    checked_out_series: list[tuple[datetime, int]] = field(default_factory=list)

    def add_carts(self, row: dict, i: int) -> None:
        if not row[f"created_{i}"]:
            return
        self.created += row[f"created_{i}"]
        self.with_items += row[f"with_items_{i}"]
        self.checked_out += row[f"checked_out_{i}"]
        self.abandoned += row[f"abandoned_{i}"]
        self.undecided += row[f"undecided_{i}"]
        self.holding += row[f"holding_{i}"]
        self.revenue += row[f"revenue_{i}"] or 0
        self.created_series.append((row["bucket"], row[f"created_{i}"]))

    def metrics(
        self,
        unit: str,
        top_by_quantity: list[ProductFigure] | None = None,
        top_by_revenue: list[ProductFigure] | None = None,
    ) -> BusinessMetrics:
        with_items, checked_out, abandoned = self.with_items, self.checked_out, self.abandoned
        cart_values, holding = self.revenue + self.open_value, self.holding
        return BusinessMetrics(
            start=self.start,
            end=self.end,
            created=self.created,
            with_items=with_items,
            checked_out=checked_out,
            abandoned=abandoned,
            in_progress=self.created - checked_out - abandoned,
            undecided=self.undecided,
            carts_holding_lines=holding,
            abandonment_rate=rate(abandoned, abandoned + checked_out),
            conversion_rate=rate(checked_out, with_items),
            average_cart_value=money(cart_values / holding) if holding else None,
            average_order_value=money(self.revenue / checked_out) if checked_out else None,
            revenue=money(self.revenue),
            series_unit=unit,
            created_series=self.created_series,
            checked_out_series=self.checked_out_series,
            top_by_quantity=top_by_quantity or [],
            top_by_revenue=top_by_revenue or [],
        )


def carts_by_status() -> dict[str, int]:
    counts = dict(Cart.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return {status: counts.get(status, 0) for status in CartStatus.values}
