from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from dashboard.charts import Point, _nice_step, funnel_svg, timeline, timeline_svg

SVG = "{http://www.w3.org/2000/svg}"
DAY = datetime(2026, 11, 20, tzinfo=UTC)


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 - our own markup


def test_the_timeline_has_every_day_with_zeros_where_nothing_happened():
    points = timeline(
        start=DAY + timedelta(hours=9),
        end=DAY + timedelta(days=3, hours=9),
        unit="day",
        created=[(DAY, 2), (DAY + timedelta(days=2), 5)],
        checked_out=[(DAY + timedelta(days=1), 1)],
    )
    assert points == [
        Point(DAY, 2, 0),
        Point(DAY + timedelta(days=1), 0, 1),
        Point(DAY + timedelta(days=2), 5, 0),
        Point(DAY + timedelta(days=3), 0, 0),
    ]


def test_a_day_has_twenty_five_hours_when_it_does_not_start_on_the_hour():
    points = timeline(
        start=DAY + timedelta(minutes=20),
        end=DAY + timedelta(days=1, minutes=20),
        unit="hour",
        created=[],
        checked_out=[],
    )
    assert len(points) == 25
    assert points[0].at == DAY


def test_the_timeline_chart_says_what_it_shows():
    points = [Point(DAY, 3, 1), Point(DAY + timedelta(days=1), 7, 2)]
    root = parse(timeline_svg(points, unit="day"))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "timeline-title timeline-desc"
    assert root.find(f"{SVG}title").text == "Carts created and checked out per day"
    assert root.find(f"{SVG}desc").text == (
        "10 carts created and 3 checked out from 20 Nov to 21 Nov; most created: 7 at 21 Nov."
    )
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"Created (10)", "Checked out (3)", "20 Nov", "0", "8"} <= set(texts)
    # The series differ by shape, not only by colour: circles and squares.
    assert len(root.findall(f".//{SVG}circle")) == 2 + 1  # points, and the legend's
    assert len(root.findall(f".//{SVG}rect")) == 2 + 1


def test_an_empty_timeline_still_draws_its_axes():
    root = parse(timeline_svg([], unit="hour"))
    assert root.find(f"{SVG}desc").text == "0 carts created and 0 checked out."
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "axis"] == [
        "0",
        "1",
        "2",
        "3",
        "4",
    ]


@pytest.mark.parametrize(
    ("top", "step"), [(0, 1), (4, 1), (5, 2), (9, 5), (37, 10), (90, 25), (1000, 250), (1001, 500)]
)
def test_the_axis_steps_are_round(top, step):
    assert _nice_step(top) == step
    assert 4 * step >= top


def test_the_funnel_gives_counts_and_shares_in_words():
    root = parse(funnel_svg(created=8, with_items=6, checked_out=2))
    assert root.find(f"{SVG}title").text == "Conversion funnel"
    assert root.find(f"{SVG}desc").text == (
        "Of 8 carts created, 6 got items (75 %) and 2 were checked out (25 %)."
    )
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["Created", "8 · 100 %", "With items", "6 · 75 %", "Checked out", "2 · 25 %"]
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class").startswith("bar")]
    widths = [float(r.get("width")) for r in bars]
    assert widths[0] > widths[1] > widths[2] == widths[0] / 4


def test_an_empty_funnel():
    root = parse(funnel_svg(created=0, with_items=0, checked_out=0))
    assert "—" in root.find(f"{SVG}desc").text
    assert not [r for r in root.iter(f"{SVG}rect") if r.get("class").startswith("bar")]


def test_charts_load_nothing_and_carry_no_style_or_script():
    svg = str(timeline_svg([Point(DAY, 1, 1)], unit="day")) + str(
        funnel_svg(created=1, with_items=1, checked_out=1)
    )
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "style" not in svg
    assert "<script" not in svg
