"""Reading what the dashboard pages show, for the test-client and the browser tests."""

import re
from datetime import datetime

from carts.analytics import BusinessMetrics

FIGURES = [
    "created",
    "with_items",
    "checked_out",
    "abandoned",
    "in_progress",
    "abandonment_rate",
    "conversion_rate",
    "average_cart_value",
    "average_order_value",
    "revenue",
]
FIGURE = re.compile(r'data-figure="(\w+)".*?<data value="([^"]*)">([^<]*)</data>', re.DOTALL)
PERIOD = re.compile(r'id="period" data-start="([^"]+)" data-end="([^"]+)" data-name="(\w+)"')


def shown_figures(html: str) -> dict[str, str]:
    """Each figure card's exact value (its <data value>), by metric name."""
    return {key: value for key, value, _ in FIGURE.findall(html)}


def shown_texts(html: str) -> dict[str, str]:
    """Each figure card's value as people read it."""
    return {key: text for key, _, text in FIGURE.findall(html)}


def shown_period(html: str) -> tuple[datetime, datetime, str]:
    start, end, name = PERIOD.search(html).groups()
    return datetime.fromisoformat(start), datetime.fromisoformat(end), name


def expected_figures(metrics: BusinessMetrics) -> dict[str, str]:
    """What the page must show for these metrics: the values of carts.analytics, unrounded."""
    return {
        key: "" if getattr(metrics, key) is None else str(getattr(metrics, key)) for key in FIGURES
    }
