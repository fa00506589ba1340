"""Refused checkouts, what they blocked and why: one definition for the API and the dashboard.

Over the refusals recorded in a period [start, end) (their `at`, whenever the carts were
created; carts/models/refusal.py), a refusal being one checkout refused, for one reason or
several (carts.models.RefusalReason):
- refused checkouts: every refusal, each retry of a refused cart included;
- carts refused: the carts behind them, each once; checked out since: those of them that
  were checked out afterwards, in the period or later (sold after all);
- blocked value: what the carts refused were worth, each cart once, at its last refusal in
  the period: its subtotal then, its lines at their prices, before discount codes;
- by reason: for each reason, the refused checkouts that had it, their carts, and those
  carts' blocked value (each at its last refusal for that reason). A checkout refused for
  two reasons counts under both: the reasons add up to more than the totals;
- SKUs: for each SKU and reason of a line at fault (the four line reasons; a code, the
  payment or an expiry is the whole cart's fault and names no SKU), the refused checkouts
  and carts, and the units and value of those lines (each cart once, its lines at its last
  refusal for that SKU and reason); the `top` by value, then units.
Amounts are summed whatever their currency, as revenue in carts.analytics is.

Three queries whatever the number of refusals, a period and the one before (the dashboard's
comparison) together: the totals; the last period's reasons; its SKUs. Each reads the
refusals of the period by `refusal_at_idx`, and a cart's later ones (is this its last?) by
`refusal_cart_at_idx`.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import pairwise

from django.db.models import Count, Exists, Max, OuterRef, Q, Sum

from carts.analytics import inside_period, money
from carts.models import (
    CartStatus,
    CheckoutRefusal,
    CheckoutRefusalLine,
    CheckoutRefusalReason,
    RefusalReason,
)

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ReasonFigure:
    reason: str
    label: str
    refusals: int
    carts: int
    blocked_value: Decimal


@dataclass(frozen=True)
class SkuFigure:
    sku: str
    name: str  # "" once the product is deleted from the catalog
    product_id: int | None
    reason: str
    label: str
    refusals: int
    carts: int
    units: int
    blocked_value: Decimal


@dataclass(frozen=True)
class RefusalMetrics:
    start: datetime
    end: datetime
    refusals: int
    carts: int
    carts_checked_out_since: int
    blocked_value: Decimal
    by_reason: list[ReasonFigure] = field(default_factory=list)
    skus: list[SkuFigure] = field(default_factory=list)


def refusal_metrics(*, start: datetime, end: datetime, top: int = 10) -> RefusalMetrics:
    """The refusals of [start, end), with their reasons and the `top` SKUs."""
    return consecutive_refusal_metrics([start, end], top=top)[-1]


def consecutive_refusal_metrics(bounds: list[datetime], *, top: int = 10) -> list[RefusalMetrics]:
    """The figures of the periods [bounds[0], bounds[1]), [bounds[1], bounds[2]), ...; the
    reasons and SKUs are those of the last period (the others' lists are empty)."""
    totals = _totals(bounds)
    by_reason = _by_reason(bounds[-2], bounds[-1])
    skus = _skus(bounds[-2], bounds[-1], top)
    periods = []
    for i, (start, end) in enumerate(pairwise(bounds)):
        last = i == len(bounds) - 2
        periods.append(
            RefusalMetrics(
                start=start,
                end=end,
                refusals=totals[f"refusals_{i}"],
                carts=totals[f"carts_{i}"],
                carts_checked_out_since=totals[f"checked_out_{i}"],
                blocked_value=money(totals[f"blocked_{i}"] or ZERO),
                by_reason=by_reason if last else [],
                skus=skus if last else [],
            )
        )
    return periods


def _totals(bounds: list[datetime]) -> dict:
    """Each period's refusals, carts, carts checked out since and blocked value."""
    figures = {}
    for i in range(len(bounds) - 1):
        inside = inside_period("at", bounds, i)
        later = CheckoutRefusal.objects.filter(
            cart=OuterRef("cart"), at__gt=OuterRef("at"), at__lt=bounds[i + 1]
        )
        figures |= {
            f"refusals_{i}": Count("pk", filter=inside),
            f"carts_{i}": Count("cart", distinct=True, filter=inside),
            f"checked_out_{i}": Count(
                "cart", distinct=True, filter=inside & Q(cart__status=CartStatus.CHECKED_OUT)
            ),
            f"blocked_{i}": Sum("value", filter=inside & ~Exists(later)),
        }
    refusals = CheckoutRefusal.objects.filter(at__gte=bounds[0], at__lt=bounds[-1])
    return refusals.aggregate(**figures)


def _by_reason(start: datetime, end: datetime) -> list[ReasonFigure]:
    """Each reason of the refusals of [start, end), the most frequent first."""
    later = CheckoutRefusalReason.objects.filter(
        reason=OuterRef("reason"),
        refusal__cart=OuterRef("refusal__cart"),
        refusal__at__gt=OuterRef("refusal__at"),
        refusal__at__lt=end,
    )
    rows = (
        CheckoutRefusalReason.objects.filter(refusal__at__gte=start, refusal__at__lt=end)
        .values("reason")
        .annotate(
            refusals=Count("pk"),  # one row per refusal and reason (a unique constraint)
            carts=Count("refusal__cart", distinct=True),
            blocked=Sum("refusal__value", filter=~Exists(later)),
        )
        .order_by("-refusals", "-blocked", "reason")
    )
    return [
        ReasonFigure(
            reason=row["reason"],
            label=_label(row["reason"]),
            refusals=row["refusals"],
            carts=row["carts"],
            blocked_value=money(row["blocked"]),
        )
        for row in rows
    ]


def _skus(start: datetime, end: datetime, top: int) -> list[SkuFigure]:
    """The `top` SKUs and reasons of the lines at fault in [start, end), by value."""
    later = CheckoutRefusalLine.objects.filter(
        sku=OuterRef("sku"),
        reason=OuterRef("reason"),
        refusal__cart=OuterRef("refusal__cart"),
        refusal__at__gt=OuterRef("refusal__at"),
        refusal__at__lt=end,
    )
    latest = ~Exists(later)
    rows = (
        CheckoutRefusalLine.objects.filter(refusal__at__gte=start, refusal__at__lt=end)
        .values("sku", "reason")
        .annotate(
            product_pk=Max("product_id"),
            name=Max("product__name"),
            refusals=Count("refusal", distinct=True),
            carts=Count("refusal__cart", distinct=True),
            units=Sum("quantity", filter=latest),
            blocked=Sum("value", filter=latest),
        )
        .order_by("-blocked", "-units", "sku", "reason")[:top]
    )
    return [
        SkuFigure(
            sku=row["sku"],
            name=row["name"] or "",
            product_id=row["product_pk"],
            reason=row["reason"],
            label=_label(row["reason"]),
            refusals=row["refusals"],
            carts=row["carts"],
            units=row["units"],
            blocked_value=money(row["blocked"]),
        )
        for row in rows
    ]


def _label(reason: str) -> str:
    """The reason as people read it (a reason no longer known, as stored)."""
    return RefusalReason(reason).label if reason in RefusalReason.values else reason
