"""Charts as inline SVG, drawn here in Python: no script, no request leaving the page.

Each chart has a <title> and a <desc> that says in words what it shows, text labels on the
axes and bars, and series told apart by line style and marker shape, not by colour alone.
Colours come from the stylesheet through class names (the CSP allows no inline style).
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 440, 250
LEFT, RIGHT, TOP, BOTTOM = 34, 10, 40, 30
MAX_X_LABELS = 5
MAX_MARKERS = 62


@dataclass(frozen=True)
class Point:
    at: datetime
    created: int
    checked_out: int


def timeline(
    *,
    start: datetime,
    end: datetime,
    unit: str,
    created: list[tuple[datetime, int]],
    checked_out: list[tuple[datetime, int]],
) -> list[Point]:
    """One point per hour or day from `start` to `end`, zero where nothing happened."""
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    at = timezone.localtime(start).replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        at = at.replace(hour=0)
    created_at, checked_out_at = dict(created), dict(checked_out)
    points = []
    while at < end:
        points.append(Point(at, created_at.get(at, 0), checked_out_at.get(at, 0)))
        at += step
    return points


def bucket_label(at: datetime, unit: str) -> str:
    return f"{at:%H:%M}" if unit == "hour" else f"{at.day} {at:%b}"


def _nice_step(top: int, ticks: int = 4) -> int:
    """The smallest whole step of 1, 2, 2.5 or 5 times a power of ten that reaches `top` in
    `ticks` steps: 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, ..."""
    raw = max(top, 1) / ticks
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    for factor in (1, 2, 2.5, 5):
        step = factor * magnitude
        if step >= raw and step == int(step):
            return int(step)
    return 10 * magnitude


def _svg(chart_id: str, title: str, desc: str, body: list[str], height: int) -> SafeString:
    return mark_safe(  # noqa: S308 - every piece of text below went through escape()
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, cls: str, anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def _marker(series: str, x: float, y: float, size: float = 3.5) -> str:
    if series == "created":
        return f'<circle class="marker created" cx="{x:.1f}" cy="{y:.1f}" r="{size}"/>'
    return (
        f'<rect class="marker checked-out" x="{x - size:.1f}" y="{y - size:.1f}" '
        f'width="{2 * size}" height="{2 * size}"/>'
    )


def timeline_svg(points: list[Point], *, unit: str, chart_id: str = "timeline") -> SafeString:
    """Carts created (solid line, circles) and checked out (dashed line, squares) over time."""
    per = "hour" if unit == "hour" else "day"
    total_created = sum(p.created for p in points)
    total_checked_out = sum(p.checked_out for p in points)
    title = f"Carts created and checked out per {per}"
    desc = f"{total_created} carts created and {total_checked_out} checked out"
    if points:
        busiest = max(points, key=lambda p: p.created)
        desc += f" from {bucket_label(points[0].at, unit)} to {bucket_label(points[-1].at, unit)}"
        if busiest.created:
            desc += f"; most created: {busiest.created} at {bucket_label(busiest.at, unit)}"
    desc += "."

    step = _nice_step(max([p.created for p in points] + [p.checked_out for p in points] + [0]))
    top_value = step * 4
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(points)

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / n if n else 0)

    def y(value: int) -> float:
        return TOP + plot_h - plot_h * value / top_value

    body = []
    for tick in range(5):
        value = step * tick
        body.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
            f'y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
        )
        body.append(_text(LEFT - 6, y(value) + 4, f"{value:,}", "axis", "end"))
    every = max(1, math.ceil(n / MAX_X_LABELS))
    for i in range(0, n, every):
        body.append(
            _text(x(i), HEIGHT - BOTTOM + 19, bucket_label(points[i].at, unit), "axis", "middle")
        )
    for series, cls in (("created", "created"), ("checked_out", "checked-out")):
        coords = [(x(i), y(getattr(p, series))) for i, p in enumerate(points)]
        if not coords:
            continue
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
        if series == "created":
            base = TOP + plot_h
            body.append(
                f'<polygon class="area created" points="{coords[0][0]:.1f},{base} {path} '
                f'{coords[-1][0]:.1f},{base}"/>'
            )
        body.append(f'<polyline class="line {cls}" points="{path}"/>')
        if n <= MAX_MARKERS:
            body.extend(_marker(series, cx, cy) for cx, cy in coords)
    # The legend, in words and with the same marker shapes as the lines.
    created_label = f"Created ({total_created:,})"
    body.append(f'<line class="line created" x1="{LEFT}" x2="{LEFT + 24}" y1="16" y2="16"/>')
    body.append(_marker("created", LEFT + 12, 16))
    body.append(_text(LEFT + 32, 21, created_label, "legend"))
    legend_x = LEFT + 56 + 9 * len(created_label)  # past the first label at its largest size
    body.append(
        f'<line class="line checked-out" x1="{legend_x}" x2="{legend_x + 24}" y1="16" y2="16"/>'
    )
    body.append(_marker("checked_out", legend_x + 12, 16))
    body.append(_text(legend_x + 32, 21, f"Checked out ({total_checked_out:,})", "legend"))
    return _svg(chart_id, title, desc, body, HEIGHT)


def funnel_svg(
    *, created: int, with_items: int, checked_out: int, chart_id: str = "funnel"
) -> SafeString:
    """Created -> with items -> checked out, as bars in proportion to the carts created."""
    steps = [("Created", created, "created"), ("With items", with_items, "with-items")]
    steps.append(("Checked out", checked_out, "checked-out"))

    def share(part: int) -> str:
        return f"{part * 100 / created:.0f} %" if created else "—"

    title = "Conversion funnel"
    desc = (
        f"Of {created} carts created, {with_items} got items ({share(with_items)}) "
        f"and {checked_out} were checked out ({share(checked_out)})."
    )
    row, bar_h, margin = 68, 26, 2
    plot_w = WIDTH - 2 * margin
    body = []
    for index, (label, count, cls) in enumerate(steps):
        top = index * row
        body.append(_text(margin, top + 16, label, "label"))
        body.append(_text(WIDTH - margin, top + 16, f"{count:,} · {share(count)}", "value", "end"))
        body.append(_bar("track", margin, top + 26, plot_w, bar_h))
        if count and created:
            body.append(_bar(f"bar {cls}", margin, top + 26, plot_w * count / created, bar_h))
    return _svg(chart_id, title, desc, body, len(steps) * row - 10)


def _bar(cls: str, x: float, y: float, width: float, height: float) -> str:
    return (
        f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{max(width, 2):.1f}" '
        f'height="{height}" rx="5"/>'
    )
