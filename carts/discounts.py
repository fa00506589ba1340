"""What a discount code takes off a cart's lines, to the cent (issue 19).

Pure arithmetic on `Decimal`, with no database: the cart document, checkout and the events all
take their figures from here, so what a shopper is shown is what checkout charges.

- A percentage is taken of the eligible lines' total and rounded half-up to the cent; a fixed
  amount takes off at most what the eligible lines are worth.
- Each line's share is its part of that discount rounded down to the cent, and the cents left
  over go to the largest eligible line, so the shares add up exactly to the discount. A
  share never exceeds its line's value: in the rare case the largest line cannot take every
  cent left over (lines of a cent or two at a high percentage), the next largest takes the
  rest, and so on.
"""

from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


class DiscountKind(StrEnum):
    PERCENTAGE = "percentage"
    FIXED_AMOUNT = "fixed_amount"


def discount_amount(*, kind: DiscountKind, value: Decimal, eligible_total: Decimal) -> Decimal:
    """The discount on lines worth `eligible_total`: `value` percent of it, rounded half-up to
    the cent, or the fixed amount `value`, never more than the lines are worth."""
    if kind == DiscountKind.PERCENTAGE:
        amount = (eligible_total * value / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)
    else:
        amount = value.quantize(CENT, rounding=ROUND_HALF_UP)
    return min(amount, eligible_total)


def discount_shares(
    *, kind: DiscountKind, value: Decimal, line_totals: Sequence[Decimal]
) -> list[Decimal]:
    """Each eligible line's share of the discount, in the order of `line_totals` (the lines'
    totals, each in cents); the shares add up exactly to `discount_amount` of their sum."""
    eligible_total = sum(line_totals, Decimal("0.00"))
    amount = discount_amount(kind=kind, value=value, eligible_total=eligible_total)
    if not amount:
        return [Decimal("0.00")] * len(line_totals)
    shares = [
        (amount * line / eligible_total).quantize(CENT, rounding=ROUND_DOWN) for line in line_totals
    ]
    left = amount - sum(shares, Decimal("0.00"))
    largest_first = sorted(range(len(line_totals)), key=lambda n: (-line_totals[n], n))
    for n in largest_first:
        if not left:
            break
        taken = min(left, line_totals[n] - shares[n])
        shares[n] += taken
        left -= taken
    return shares
