from datetime import UTC, datetime
from decimal import Decimal

import pytest

from carts.analytics import BusinessMetrics
from dashboard.figures import change, figures, format_value

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
