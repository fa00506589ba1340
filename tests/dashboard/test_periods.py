from datetime import UTC, date, datetime, timedelta

import pytest

from dashboard.periods import InvalidPeriod, Period, form_dates, period_from_params

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "length", "name"),
    [
        ({}, timedelta(days=7), "7d"),
        ({"period": "24h"}, timedelta(hours=24), "24h"),
        ({"period": "7d"}, timedelta(days=7), "7d"),
        ({"period": "30d"}, timedelta(days=30), "30d"),
    ],
)
def test_a_preset_ends_now(params, length, name):
    period = period_from_params(params, now=NOW)
    assert (period.start, period.end, period.name) == (NOW - length, NOW, name)


def test_dates_cover_whole_days_and_to_is_included():
    period = period_from_params({"from": "2026-11-01", "to": "2026-11-07"}, now=NOW)
    assert period.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 8, tzinfo=UTC)
    assert period.name == "custom"
    assert form_dates(period) == (date(2026, 11, 1), date(2026, 11, 7))


def test_one_day():
    period = period_from_params({"from": "2026-11-01", "to": "2026-11-01"}, now=NOW)
    assert period.length == timedelta(days=1)


@pytest.mark.parametrize(
    ("given_from", "given_to", "start", "end"),
    [
        (
            "2026-11-01T08:00:00Z",
            "2026-11-01T20:00:00Z",
            datetime(2026, 11, 1, 8, tzinfo=UTC),
            datetime(2026, 11, 1, 20, tzinfo=UTC),
        ),
        (  # naive times are in TIME_ZONE (UTC); offsets are honoured
            "2026-11-01T08:00",
            "2026-11-01T20:00:00+02:00",
            datetime(2026, 11, 1, 8, tzinfo=UTC),
            datetime(2026, 11, 1, 18, tzinfo=UTC),
        ),
        (
            "2026-11-01",
            "2026-11-02T06:00:00Z",
            datetime(2026, 11, 1, tzinfo=UTC),
            datetime(2026, 11, 2, 6, tzinfo=UTC),
        ),
    ],
)
def test_datetimes_are_taken_as_given(given_from, given_to, start, end):
    period = period_from_params({"from": given_from, "to": given_to}, now=NOW)
    assert (period.start, period.end) == (start, end)


def test_the_longest_period_is_366_days():
    period = period_from_params({"from": "2024-01-01", "to": "2024-12-31"}, now=NOW)
    assert period.length == timedelta(days=366)  # 2024 is a leap year


def test_the_previous_period_has_the_same_length_and_ends_where_this_starts():
    period = Period(start=NOW - timedelta(days=7), end=NOW, name="7d")
    previous = period.previous()
    assert (previous.start, previous.end) == (NOW - timedelta(days=14), NOW - timedelta(days=7))
    assert previous.length == period.length


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "1y"}, "`period` must be one of 24h, 7d, 30d"),
        ({"period": ""}, "`period` must be one of"),
        ({"from": "2026-11-01"}, "Give both `from` and `to`"),
        ({"to": "2026-11-01"}, "Give both `from` and `to`"),
        ({"from": "", "to": ""}, "Give both `from` and `to`"),
        ({"period": "7d", "from": "2026-11-01", "to": "2026-11-02"}, "not both"),
        ({"from": "yesterday", "to": "2026-11-02"}, "`from` must be an ISO date"),
        ({"from": "2026-11-01", "to": "2026-13-01"}, "`to` must be an ISO date"),
        ({"from": "2026-02-30", "to": "2026-03-02"}, "`from` must be an ISO date"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "`from` must be before `to`"),
        (
            {"from": "2026-11-01T10:00:00Z", "to": "2026-11-01T10:00:00Z"},
            "`from` must be before `to`",
        ),
        ({"from": "2024-01-01", "to": "2025-01-01T00:00:01Z"}, "at most 366 days"),
        ({"from": "2026-11-01", "to": "9999-12-31"}, "`to` must be an ISO date"),
        ({"from": "0001-01-01", "to": "0001-06-01"}, "too far in the past"),
    ],
)
def test_invalid_periods_say_what_is_wrong(params, message):
    with pytest.raises(InvalidPeriod) as caught:
        period_from_params(params, now=NOW)
    assert message in caught.value.detail
    assert (caught.value.status, caught.value.code) == (400, "invalid_period")
