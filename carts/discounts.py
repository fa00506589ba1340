"""What discount codes take off a cart's lines, to the cent, and why a code does not apply.

Pure rules on `Decimal`, with no database: the cart document, checkout and the events all
take their figures from here, so what a shopper is shown is what checkout charges.

- A percentage is taken of the eligible lines' total and rounded half-up to the cent; a fixed
  amount takes off at most what the eligible lines are worth.
- Each line's share is its part of that discount rounded down to the cent, and the cents left
  over go to the largest eligible line, so the shares add up exactly to the discount. A
  share never exceeds its line's value: in the rare case the largest line cannot take every
  cent left over (lines of a cent or two at a high percentage), the next largest takes the
  rest, and so on.
- Codes apply one after another in the order they were added, each to what the codes before
  it left of the lines, so that together they never take off more than a line is worth.
  A code's minimum subtotal is compared with the subtotal before any discount.
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import NamedTuple

from carts.domain import CartLine, CodeTerms, Reason

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


class CodeOutcome(NamedTuple):
    terms: CodeTerms
    amount: Decimal
    reason: Reason | None  # None: it applies
    shares: dict[int, Decimal]  # line id: its share, for the lines it discounts


class Discounts(NamedTuple):
    codes: list[CodeOutcome]
    by_line: dict[int, Decimal]
    total: Decimal


NONE = Discounts([], {}, Decimal("0.00"))


def code_refusal(
    terms: CodeTerms, *, lines: Sequence[CartLine], currency: str, now: datetime
) -> Reason | None:
    """Why the code does not apply to these lines now, or None if it does."""
    if not terms.is_active:
        return Reason.NOT_FOUND
    if terms.starts_at is not None and now < terms.starts_at:
        return Reason.NOT_STARTED
    if terms.ends_at is not None and now >= terms.ends_at:
        return Reason.EXPIRED
    if terms.currency and terms.currency != currency:
        return Reason.CURRENCY_MISMATCH
    if not terms.uses_left:
        return Reason.USAGE_LIMIT_REACHED
    if terms.customer_refusal is not None:
        return terms.customer_refusal
    subtotal = sum((line.quantity * line.unit_price for line in lines), Decimal("0.00"))
    if terms.min_subtotal is not None and subtotal < terms.min_subtotal:
        return Reason.MIN_SUBTOTAL_NOT_MET
    if not any(_eligible(terms, line) for line in lines):
        return Reason.NOT_APPLICABLE
    return None


def _eligible(terms: CodeTerms, line: CartLine) -> bool:
    return not terms.product_ids or line.product_id in terms.product_ids


def discounts_evaluate(
    codes: Sequence[CodeTerms], *, lines: Sequence[CartLine], currency: str, now: datetime
) -> Discounts:
    """What each code takes off the lines, in order, and what each line is discounted by.
    A code charged at checkout takes off what it took then, whatever its terms say now."""
    if not codes:
        return NONE
    left = {line.id: line.quantity * line.unit_price for line in lines}
    by_line: dict[int, Decimal] = {}
    outcomes = []
    for terms in codes:
        reason = None
        if terms.charged is not None:
            shares = dict(terms.charged_shares or {})
        elif (reason := code_refusal(terms, lines=lines, currency=currency, now=now)) is not None:
            shares = {}
        else:
            eligible = [line.id for line in lines if _eligible(terms, line)]
            amounts = discount_shares(
                kind=DiscountKind(terms.kind),
                value=terms.value,
                line_totals=[left[line_id] for line_id in eligible],
            )
            shares = dict(zip(eligible, amounts, strict=True))
        for line_id, share in shares.items():
            left[line_id] = left.get(line_id, Decimal("0.00")) - share
            by_line[line_id] = by_line.get(line_id, Decimal("0.00")) + share
        amount = terms.charged if terms.charged is not None else sum(shares.values(), CENT * 0)
        outcomes.append(CodeOutcome(terms, amount, reason, shares))
    return Discounts(outcomes, by_line, sum((o.amount for o in outcomes), Decimal("0.00")))


def code_faults(discounts: Discounts) -> list[dict]:
    """The codes that do not apply, as checkout's conflict lists them."""
    return [
        {"code": outcome.terms.code, "reason": str(outcome.reason)}
        for outcome in discounts.codes
        if outcome.reason is not None
    ]
