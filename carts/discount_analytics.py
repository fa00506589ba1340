"""Discount code metrics: one definition for the API and the dashboard.

Over the checkouts of a period [start, end): the carts whose `checked_out_at` falls in it,
whenever they were created (as the checked-out series of carts.analytics, unlike its other
figures, which are over the carts created in the period). A code's `amount` on a checked-out
cart is what it took off, kept from the start of the checkout.
- checkouts; checkouts with a code: those that used at least one code;
- share of checkouts with a code = with a code / checkouts (None when there is none);
- discounted amount = sum of the codes' amounts over those checkouts;
- top codes by uses (checkouts that used the code) and by revenue (sum of those checkouts'
  `total`, after every discount; a cart with two codes counts in both), each with the
  amount that code took off. Ties go to the other figure, then to the code.
Amounts are summed whatever their currency, as revenue in carts.analytics is.

Two queries whatever the number of carts and codes, a period and the one before (the
dashboard's comparison) together: the totals, over the carts of the periods joined to their
codes; the codes of the last period ranked both ways, only the top ones read (not asked
when no checkout of the last period used a code). Both read the carts from
`cart_checked_out_idx`, and their codes by cart (the unique (cart, code) constraint's index,
which leads with the cart): no further index is needed.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import pairwise

from django.db.models import Count, F, Q, Sum, Window
from django.db.models.functions import RowNumber

from carts.analytics import inside_period, money, rate
from carts.models import Cart, CartDiscount


@dataclass(frozen=True)
class CodeFigure:
    code_id: int
    code: str
    uses: int
    revenue: Decimal
    discounted_amount: Decimal


@dataclass(frozen=True)
class DiscountMetrics:
    start: datetime
    end: datetime
    checkouts: int
    checkouts_with_code: int
    checkouts_with_code_share: float | None
    discounted_amount: Decimal
    top_codes_by_uses: list[CodeFigure] = field(default_factory=list)
    top_codes_by_revenue: list[CodeFigure] = field(default_factory=list)


def discount_metrics(*, start: datetime, end: datetime, top: int = 10) -> DiscountMetrics:
    """The discount figures of the checkouts in [start, end), with the `top` codes."""
    return consecutive_discount_metrics([start, end], top=top)[-1]


def consecutive_discount_metrics(bounds: list[datetime], *, top: int = 10) -> list[DiscountMetrics]:
    """The figures of the periods [bounds[0], bounds[1]), [bounds[1], bounds[2]), ...; the
    `top` codes are those of the last period (the others' lists are empty)."""
    totals = _totals(bounds)
    used = totals[f"with_code_{len(bounds) - 2}"]  # in the last period
    by_uses, by_revenue = _top_codes(bounds[-2], bounds[-1], top) if top and used else ([], [])
    periods = []
    for i, (start, end) in enumerate(pairwise(bounds)):
        with_code = totals[f"with_code_{i}"]
        checkouts = totals[f"without_code_{i}"] + with_code
        last = i == len(bounds) - 2
        periods.append(
            DiscountMetrics(
                start=start,
                end=end,
                checkouts=checkouts,
                checkouts_with_code=with_code,
                checkouts_with_code_share=rate(with_code, checkouts),
                discounted_amount=money(totals[f"discounted_{i}"] or Decimal("0")),
                top_codes_by_uses=by_uses if last else [],
                top_codes_by_revenue=by_revenue if last else [],
            )
        )
    return periods


def _totals(bounds: list[datetime]) -> dict:
    """Each period's checkouts without a code, with one, and the amounts taken off.

    The carts are joined to their codes (a cart without one is a row of its own): counting
    the carts with codes once each needs DISTINCT, but only over those rows; the rows
    without a code are the carts without one, counted as they are.
    """
    figures = {}
    for i in range(len(bounds) - 1):
        inside = inside_period("checked_out_at", bounds, i)
        figures |= {
            f"without_code_{i}": Count("pk", filter=inside & Q(discounts__isnull=True)),
            f"with_code_{i}": Count("discounts__cart", distinct=True, filter=inside),
            f"discounted_{i}": Sum("discounts__amount", filter=inside),
        }
    carts = Cart.objects.filter(checked_out_at__gte=bounds[0], checked_out_at__lt=bounds[-1])
    return carts.aggregate(**figures)


# After its figure, a code's rank goes to the other figure, then to the code itself.
_TIES = {
    "uses": [F("revenue").desc(), F("code__code").asc()],
    "revenue": [F("uses").desc(), F("code__code").asc()],
}


def _top_codes(start: datetime, end: datetime, top: int) -> tuple[list, list]:
    """The `top` codes of [start, end) by uses and by revenue, from one query: each code's
    figures with its rank both ways, only the codes within `top` of either read."""
    uses = CartDiscount.objects.filter(
        cart__checked_out_at__gte=start, cart__checked_out_at__lt=end
    )
    codes = (
        uses.values("code_id", "code__code")
        .annotate(
            uses=Count("pk"),  # one row per cart and code (a unique constraint)
            revenue=Sum("cart__total"),
            discounted=Sum("amount"),
        )
        .annotate(
            by_uses=Window(RowNumber(), order_by=[F("uses").desc(), *_TIES["uses"]]),
            by_revenue=Window(RowNumber(), order_by=[F("revenue").desc(), *_TIES["revenue"]]),
        )
        .filter(Q(by_uses__lte=top) | Q(by_revenue__lte=top))
        .order_by()
    )
    rows = list(codes)
    return _ranked(rows, "by_uses", top), _ranked(rows, "by_revenue", top)


def _ranked(rows: list[dict], rank: str, top: int) -> list[CodeFigure]:
    return [_code(row) for row in sorted(rows, key=lambda row: row[rank]) if row[rank] <= top]


def _code(row: dict) -> CodeFigure:
    return CodeFigure(
        code_id=row["code_id"],
        code=row["code__code"],
        uses=row["uses"],
        revenue=money(row["revenue"]),
        discounted_amount=money(row["discounted"] or Decimal("0")),
    )
