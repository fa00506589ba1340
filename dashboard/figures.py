"""The figure cards of the business dashboard: each metric of `carts.analytics` (and of
`carts.discount_analytics`), formatted, with its change against the previous period.
Definitions live in those modules only."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from carts.analytics import BusinessMetrics
from carts.discount_analytics import DiscountMetrics

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


def figures(current: BusinessMetrics, previous: BusinessMetrics) -> list[Figure]:
    idle_hours = settings.CART_ABANDONMENT_MINUTES / 60

    def figure(key: str, label: str, kind: str, help_text: str, up_is_good=True) -> Figure:
        return Figure(
            key=key,
            label=label,
            kind=kind,
            value=getattr(current, key),
            previous=getattr(previous, key),
            help=help_text,
            up_is_good=up_is_good,
        )

    return [
        figure("revenue", "Revenue", "money", "Sum of the totals at checkout."),
        figure("checked_out", "Checked out", "count", "Carts created and checked out."),
        figure("conversion_rate", "Checkout conversion", "rate", "Checked out ÷ with items."),
        figure(
            "abandonment_rate",
            "Abandonment rate",
            "rate",
            "Abandoned ÷ (abandoned + checked out).",
            up_is_good=False,
        ),
        figure("average_order_value", "Average order", "money", "Mean total at checkout."),
        figure(
            "average_cart_value",
            "Average cart",
            "money",
            "Mean value of the carts with items.",
        ),
        figure("created", "Carts created", "count", "Every cart created in the period."),
        figure("with_items", "With items", "count", "Carts that ever held a line."),
        figure(
            "abandoned",
            "Abandoned",
            "count",
            f"With items, idle over {idle_hours:g} h, not checked out.",
            up_is_good=False,
        ),
        figure(
            "in_progress",
            "In progress",
            "count",
            "Neither checked out nor abandoned yet.",
            up_is_good=None,
        ),
    ]


def discount_figures(current: DiscountMetrics, previous: DiscountMetrics) -> list[Figure]:
    """The discount codes' cards: over the checkouts of the period, whenever the carts were
    created. Neither more nor less discount is better in itself: their changes are neutral."""
    with_code, checkouts = current.checkouts_with_code, current.checkouts
    noun = "checkout" if checkouts == 1 else "checkouts"
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
            help=f"{with_code:,} of {checkouts:,} {noun} used at least one code.",
            up_is_good=None,
        ),
    ]
