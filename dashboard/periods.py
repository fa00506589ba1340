"""The period a dashboard or the metrics API looks at, from the query string.

`period=24h|7d|30d` (default 7d) ends now. Or `from` and `to`, each an ISO date or date and
time: the period is [from, to), and a `to` given as a date alone includes that whole day, so
`from=2026-11-01&to=2026-11-07` is the first week of November. Naive times are in
TIME_ZONE. A custom period is at most 366 days long.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from addtocart.api.problems import DomainError

PRESETS = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
PRESET_LABELS = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
DEFAULT_PERIOD = "7d"
CUSTOM = "custom"
MAX_LENGTH = timedelta(days=366)


class InvalidPeriod(DomainError):
    status = 400
    code = "invalid_period"
    title = "The period is not valid."


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    name: str  # a preset's name, or "custom"

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def label(self) -> str:
        return PRESET_LABELS.get(self.name, "Custom period")

    def previous(self) -> "Period":
        """The period of the same length just before this one."""
        return Period(start=self.start - self.length, end=self.start, name=self.name)


def period_from_params(params: Mapping[str, str], *, now: datetime) -> Period:
    """The period the query parameters ask for; raises InvalidPeriod with a readable message."""
    if "from" not in params and "to" not in params:
        name = params.get("period", DEFAULT_PERIOD)
        if name not in PRESETS:
            raise InvalidPeriod(f"`period` must be one of {', '.join(PRESETS)}, not {name!r}.")
        return Period(start=now - PRESETS[name], end=now, name=name)
    if "period" in params:
        raise InvalidPeriod("Give either `period` or `from` and `to`, not both.")
    if not params.get("from", "").strip() or not params.get("to", "").strip():
        raise InvalidPeriod("Give both `from` and `to`.")
    start = _instant(params["from"], "from")
    end = _instant(params["to"], "to", whole_day=True)
    if start >= end:
        raise InvalidPeriod("`from` must be before `to`.")
    if end - start > MAX_LENGTH:
        raise InvalidPeriod(f"A period is at most {MAX_LENGTH.days} days long.")
    period = Period(start=start, end=end, name=CUSTOM)
    try:
        period.previous()
    except OverflowError:
        raise InvalidPeriod("`from` is too far in the past.") from None
    return period


def _instant(text: str, name: str, *, whole_day: bool = False) -> datetime:
    text = text.strip()
    try:
        day = parse_date(text)
        moment = None if day else parse_datetime(text)
        if day is not None:
            moment = datetime.combine(day + timedelta(days=1) if whole_day else day, time.min)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise InvalidPeriod(
            f"`{name}` must be an ISO date (2026-11-01) or date and time "
            f"(2026-11-01T08:00:00Z), not {text[:40]!r}."
        )
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def form_dates(period: Period) -> tuple[date, date]:
    """The (from, to) dates a form shows for a period: `to` is the last day it includes.

    A preset ends now, and its hours reach into one calendar day more than it lasts (24h:
    yesterday and today): the form shows as many whole days as the preset lasts, ending
    today (24h: today; 7d: the last 7 days, today included), what applying them would show.
    """
    last = timezone.localtime(period.end - timedelta(microseconds=1)).date()
    if period.name in PRESETS:
        return last - timedelta(days=PRESETS[period.name].days - 1), last
    return timezone.localtime(period.start).date(), last
