"""The staff dashboards: server-rendered pages, staff only (others go to the admin login)."""

import re

from django.contrib.admin.views.decorators import staff_member_required
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from carts.analytics import consecutive_business_metrics
from carts.demand import products_at_risk
from carts.discount_analytics import consecutive_discount_metrics
from carts.refusal_analytics import consecutive_refusal_metrics
from dashboard import charts
from dashboard.figures import discount_figures, figures, refusal_figures
from dashboard.health import health_snapshot, snapshot_json
from dashboard.periods import (
    PRESET_LABELS,
    InvalidPeriod,
    form_dates,
    period_from_params,
)
from dashboard.security import content_security_policy

HEALTH_REFRESH_SECONDS = 5
TOP_PRODUCTS = 10
TOP_CODES = 10
TOP_REFUSED_SKUS = 10


def staff_page(view):
    """Staff only, never cached, GET or HEAD, with the dashboards' Content-Security-Policy."""
    return content_security_policy(never_cache(staff_member_required(require_safe(view))))


@staff_page
def business(request):
    now = timezone.now()
    error = ""
    try:
        period = period_from_params(request.GET, now=now)
    except InvalidPeriod as exc:
        error = _with_code(exc.detail)
        period = period_from_params({}, now=now)
    previous = period.previous()
    bounds = [previous.start, period.start, period.end]
    before, current = consecutive_business_metrics(bounds, now=now, top=TOP_PRODUCTS)
    discounts_before, discounts = consecutive_discount_metrics(bounds, top=TOP_CODES)
    refusals_before, refusals = consecutive_refusal_metrics(bounds, top=TOP_REFUSED_SKUS)
    points = charts.timeline(
        start=period.start,
        end=period.end,
        unit=current.series_unit,
        created=current.created_series,
        checked_out=current.checked_out_series,
    )
    date_from, date_to = form_dates(period)
    typed = request.GET if error else {}  # a bad period's dates, as typed, to correct them
    context = {
        "section": "business",
        "period": period,
        "previous": previous,
        "presets": PRESET_LABELS,
        "active_preset": period.name,  # after a bad period, that of the period shown instead
        "error": error,
        "form_from": typed.get("from", date_from.isoformat()),
        "form_to": typed.get("to", date_to.isoformat()),
        "metrics": current,
        "figures": figures(current, before),
        "discounts": discounts,
        "discount_figures": discount_figures(discounts, discounts_before),
        "refusals": refusals,
        "refusal_figures": refusal_figures(refusals, refusals_before),
        "refusals_top": TOP_REFUSED_SKUS,
        "products_at_risk": products_at_risk(),  # now, whatever the period
        "points": points,
        "timeline_svg": charts.timeline_svg(points, unit=current.series_unit),
        "funnel_svg": charts.funnel_svg(
            created=current.created, with_items=current.with_items, checked_out=current.checked_out
        ),
    }
    return render(request, "dashboard/business.html", context, status=400 if error else 200)


def _with_code(message: str) -> str:
    """The API's message, with its `names` shown as code."""
    return mark_safe(re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(message)))  # noqa: S308


@staff_page
def health(request):
    context = {
        "section": "health",
        "snapshot": health_snapshot(),
        "refresh_seconds": HEALTH_REFRESH_SECONDS,
    }
    return render(request, "dashboard/health.html", context)


@staff_page
def health_data(request):
    """The health page's readings as JSON, for its script to refresh the page in place."""
    return JsonResponse(snapshot_json(health_snapshot()))
