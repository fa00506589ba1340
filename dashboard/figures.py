"""The figure cards of the business dashboard: each metric of `carts.analytics` (and of
`carts.discount_analytics` and `carts.refusal_analytics`), formatted, with its change against
the previous period, what it counts (its help) and, where the value alone would mislead, a
note beside it. Definitions live in those modules only."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from carts.analytics import BusinessMetrics
from carts.discount_analytics import DiscountMetrics
from carts.refusal_analytics import RefusalMetrics

NONE = "—"
ARROWS = {"up": "▲", "down": "▼", "flat": "="}


@dataclass(frozen=True)
class Change:
    direction: str  # up, down, flat
    tone: str  # good, bad, neutral
    text: str  # "12.5 %", "3.0 pts", or "—" when it cannot be told
    description: str  # the same for screen readers: "up 12.5 % on 8 before, better"

    @property
    def arrow(self) -> str:
        return ARROWS[self.direction] if self.text != NONE else ""


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    kind: str  # count, rate, money
    value: int | float | Decimal | None
    previous: int | float | Decimal | None
    help: str
    up_is_good: bool | None = True
    note: str = ""  # shown under the value, not in the small print

    @property
    def raw(self) -> str:
        """The exact value, for machines (the `value` of a <data> element)."""
        return "" if self.value is None else str(self.value)

    @property
    def text(self) -> str:
        return format_value(self.value, self.kind)

    @property
    def previous_text(self) -> str:
        return format_value(self.previous, self.kind)

    @property
    def unit(self) -> str:
        return settings.CART_DEFAULT_CURRENCY if self.kind == "money" else ""

    @property
    def change(self) -> Change:
        return change(self.value, self.previous, kind=self.kind, up_is_good=self.up_is_good)


def format_value(value, kind: str) -> str:
    if value is None:
        return NONE
    if kind == "rate":
        return f"{value * 100:.1f} %"
    if kind == "money":
        return f"{value:,.2f}"
    return f"{value:,}"


def change(current, previous, *, kind: str, up_is_good: bool | None) -> Change:
    """Rates change in percentage points, counts and money in per cent of the previous value."""
    if current is None or previous is None or (kind != "rate" and previous == 0 and current):
        return Change("flat", "neutral", NONE, "no comparison with the previous period")
    if kind == "rate":
        amount = (Decimal(str(current)) - Decimal(str(previous))) * 100
        text = f"{abs(amount):.1f} pts"
    else:
        amount = Decimal(0) if current == previous else (current - previous) * 100 / previous
        text = f"{abs(amount):.1f} %"
    direction = "up" if amount > 0 else "down" if amount < 0 else "flat"
    if direction == "flat" or up_is_good is None:
        tone = "neutral"
    else:
        tone = "good" if (direction == "up") == up_is_good else "bad"
    before = format_value(previous, kind)
    verdict = {"good": ", better", "bad": ", worse", "neutral": ""}[tone]
    word = {"up": "up", "down": "down", "flat": "unchanged,"}[direction]
    return Change(direction, tone, text, f"{word} {text} on {before} before{verdict}")


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def figures(current: BusinessMetrics, previous: BusinessMetrics) -> list[Figure]:
    """The cards of the carts created in the period (carts.analytics defines each figure)."""
    idle = f"{settings.CART_ABANDONMENT_MINUTES / 60:g} h"
    ended = current.abandoned + current.checked_out

    def figure(key: str, label: str, kind: str, help_text: str, up_is_good=True, note="") -> Figure:
        return Figure(
            key=key,
            label=label,
            kind=kind,
            value=getattr(current, key),
            previous=getattr(previous, key),
            help=help_text,
            up_is_good=up_is_good,
            note=note,
        )

    undecided = ""
    if current.undecided:
        undecided = f"{plural(current.undecided, 'open cart')} with items not counted yet."
    return [
        figure(
            "revenue", "Revenue", "money", "Totals at checkout, after codes, of the carts created."
        ),
        figure("checked_out", "Checked out", "count", "Carts created and checked out since."),
        figure(
            "conversion_rate",
            "Checkout conversion",
            "rate",
            f"Checked out ÷ with items: {current.checked_out:,} of {current.with_items:,}.",
        ),
        figure(
            "abandonment_rate",
            "Abandonment rate",
            "rate",
            f"Abandoned ÷ (abandoned + checked out): {current.abandoned:,} of {ended:,}. A cart "
            f"with items counts once checked out or idle over {idle}.",
            up_is_good=False,
            note=undecided,
        ),
        figure(
            "average_order_value",
            "Average order",
            "money",
            "Mean total at checkout, after codes, of the carts checked out.",
        ),
        figure(
            "average_cart_value",
            "Average cart",
            "money",
            f"Mean value of the {plural(current.carts_holding_lines, 'cart')} holding lines: "
            "checked out at their total, the others at their lines' prices. Emptied carts are "
            "left out.",
        ),
        figure("created", "Carts created", "count", "Every cart created in the period."),
        figure("with_items", "With items", "count", "Carts that ever held a line."),
        figure(
            "abandoned",
            "Abandoned",
            "count",
            f"With items, idle over {idle}, not checked out.",
            up_is_good=False,
        ),
        figure(
            "in_progress",
            "In progress",
            "count",
            "Neither checked out nor abandoned yet, empty carts included.",
            up_is_good=None,
        ),
    ]


def discount_figures(current: DiscountMetrics, previous: DiscountMetrics) -> list[Figure]:
    """The discount codes' cards: over the checkouts of the period, whenever the carts were
    created. Neither more nor less discount is better in itself: their changes are neutral."""
    with_code, checkouts = current.checkouts_with_code, current.checkouts
    return [
        Figure(
            key="discounted_amount",
            label="Discounted",
            kind="money",
            value=current.discounted_amount,
            previous=previous.discounted_amount,
            help="Sum of what the codes took off the checkouts.",
            up_is_good=None,
        ),
        Figure(
            key="checkouts_with_code_share",
            label="Checkouts with a code",
            kind="rate",
            value=current.checkouts_with_code_share,
            previous=previous.checkouts_with_code_share,
            help=f"{with_code:,} of {plural(checkouts, 'checkout')} used at least one code.",
            up_is_good=None,
        ),
    ]


def refusal_figures(current: RefusalMetrics, previous: RefusalMetrics) -> list[Figure]:
    """The refused checkouts' cards: over the refusals of the period (whenever the carts were
    created). Fewer is better."""

    def figure(key: str, label: str, kind: str, help_text: str) -> Figure:
        value, before = getattr(current, key), getattr(previous, key)
        return Figure(key, label, kind, value, before, help_text, up_is_good=False)

    return [
        figure(
            "refusals",
            "Refused checkouts",
            "count",
            "Checkouts refused in the period, each retry counted.",
        ),
        figure(
            "carts",
            "Carts refused",
            "count",
            f"The carts behind them, each once; {current.carts_checked_out_since:,} checked "
            "out since.",
        ),
        figure(
            "blocked_value",
            "Blocked value",
            "money",
            "What the carts refused were worth: each cart's subtotal (before codes) at its last "
            "refusal in the period.",
        ),
    ]
