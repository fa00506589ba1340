from datetime import UTC, datetime
from decimal import Decimal

import pytest

from carts.analytics import BusinessMetrics
from carts.refusal_analytics import RefusalMetrics
from dashboard.figures import change, figures, format_value, refusal_figures

NOW = datetime(2026, 11, 28, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (None, "count", "—"),
        (1234, "count", "1,234"),
        (0.4, "rate", "40.0 %"),
        (0.12345, "rate", "12.3 %"),
        (Decimal("1234.5"), "money", "1,234.50"),
    ],
)
def test_values_are_formatted_for_people(value, kind, text):
    assert format_value(value, kind) == text


@pytest.mark.parametrize(
    ("current", "previous", "kind", "up_is_good", "expected"),
    [
        (6, 4, "count", True, ("up", "good", "50.0 %")),
        (2, 4, "count", True, ("down", "bad", "50.0 %")),
        (3, 3, "count", True, ("flat", "neutral", "0.0 %")),
        (0, 0, "count", True, ("flat", "neutral", "0.0 %")),
        (2, 0, "count", True, ("flat", "neutral", "—")),  # no percentage of nothing
        (0.6, 0.4, "rate", False, ("up", "bad", "20.0 pts")),
        (0.3, 0.4, "rate", False, ("down", "good", "10.0 pts")),
        (None, 0.4, "rate", True, ("flat", "neutral", "—")),
        (Decimal("30.00"), None, "money", True, ("flat", "neutral", "—")),
        (Decimal("60.00"), Decimal("180.00"), "money", True, ("down", "bad", "66.7 %")),
        (5, 1, "count", None, ("up", "neutral", "400.0 %")),
    ],
)
def test_changes_against_the_previous_period(current, previous, kind, up_is_good, expected):
    result = change(current, previous, kind=kind, up_is_good=up_is_good)
    assert (result.direction, result.tone, result.text) == expected


def test_a_change_is_told_in_words_too():
    result = change(Decimal("60.00"), Decimal("180.00"), kind="money", up_is_good=True)
    assert result.arrow == "▼"
    assert result.description == "down 66.7 % on 180.00 before, worse"
    assert change(None, 1, kind="count", up_is_good=True).arrow == ""


def metrics(**figures) -> BusinessMetrics:
    defaults = {
        "start": NOW,
        "end": NOW,
        "created": 0,
        "with_items": 0,
        "checked_out": 0,
        "abandoned": 0,
        "in_progress": 0,
        "undecided": 0,
        "carts_holding_lines": 0,
        "abandonment_rate": None,
        "conversion_rate": None,
        "average_cart_value": None,
        "average_order_value": None,
        "revenue": Decimal("0.00"),
        "series_unit": "day",
    }
    return BusinessMetrics(**{**defaults, **figures})


def test_every_business_metric_has_a_card(settings):
    settings.CART_DEFAULT_CURRENCY = "EUR"
    cards = figures(metrics(created=3, revenue=Decimal("9.50")), metrics())
    assert [card.key for card in cards] == [
        "revenue",
        "checked_out",
        "conversion_rate",
        "abandonment_rate",
        "average_order_value",
        "average_cart_value",
        "created",
        "with_items",
        "abandoned",
        "in_progress",
    ]
    revenue = cards[0]
    assert (revenue.raw, revenue.text, revenue.unit) == ("9.50", "9.50", "EUR")
    conversion = cards[2]
    assert (conversion.raw, conversion.text, conversion.unit) == ("", "—", "")


def test_the_abandonment_card_tells_of_the_open_carts_it_leaves_out(settings):
    settings.CART_ABANDONMENT_MINUTES = 120
    current = metrics(
        with_items=11, checked_out=1, undecided=10, abandonment_rate=0.0, carts_holding_lines=11
    )
    cards = {card.key: card for card in figures(current, metrics())}
    abandonment = cards["abandonment_rate"]
    assert (abandonment.text, abandonment.note) == (
        "0.0 %",
        "10 open carts with items not counted yet.",
    )
    assert abandonment.help == (
        "Abandoned ÷ (abandoned + checked out): 0 of 1. A cart with items counts once checked "
        "out or idle over 2 h."
    )
    assert cards["average_cart_value"].help.startswith("Mean value of the 11 carts holding")
    assert (
        figures(metrics(undecided=1), metrics())[3].note
        == "1 open cart with items not counted yet."
    )
    assert all(not card.note for card in figures(metrics(), metrics()))


def test_the_refusal_cards(settings):
    settings.CART_DEFAULT_CURRENCY = "EUR"
    current = RefusalMetrics(
        start=NOW,
        end=NOW,
        refusals=5,
        carts=3,
        carts_checked_out_since=1,
        blocked_value=Decimal("122.00"),
    )
    previous = RefusalMetrics(
        start=NOW,
        end=NOW,
        refusals=1,
        carts=1,
        carts_checked_out_since=0,
        blocked_value=Decimal("5.00"),
    )
    cards = refusal_figures(current, previous)
    assert [(card.key, card.text, card.unit) for card in cards] == [
        ("refusals", "5", ""),
        ("carts", "3", ""),
        ("blocked_value", "122.00", "EUR"),
    ]
    assert "1 checked out since" in cards[1].help
    assert all(card.change.tone == "bad" for card in cards)  # more refusals is worse
