"""The dashboards through Django's test client: access, periods, figures, queries, headers."""

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.utils import timezone

from carts.analytics import business_metrics
from carts.models import CartStatus
from dashboard.figures import format_value
from dashboard.security import POLICY
from tests.dashboard.pages import (
    FIGURES,
    expected_figures,
    shown_figures,
    shown_period,
    shown_texts,
)
from tests.factories import ProductFactory, make_cart

PAGES = ["/dashboard/", "/dashboard/health/", "/dashboard/health/data"]


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_the_admin_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={quote(path)}"


@pytest.mark.parametrize("path", PAGES)
def test_shoppers_are_sent_to_the_admin_login(client, user, path):
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


def test_an_inactive_staff_member_is_sent_to_the_admin_login(client, staff):
    client.force_login(staff)
    staff.is_active = False
    staff.save()
    assert client.get("/dashboard/").status_code == 302


@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_a_same_origin_content_security_policy(staff_client, path):
    response = staff_client.get(path)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == POLICY
    assert "default-src 'self'" in POLICY
    assert "frame-ancestors 'none'" in POLICY
    assert response["X-Frame-Options"] == "DENY"
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/health/"])
def test_pages_load_nothing_from_elsewhere_and_have_no_inline_script_or_style(staff_client, path):
    html = staff_client.get(path).content.decode()
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<style" not in html
    assert " style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_the_pages_take_get_only(staff_client):
    assert staff_client.post("/dashboard/").status_code == 405


def test_the_business_dashboard_shows_the_figures_of_the_analytics(staff_client, shop):
    html = staff_client.get("/dashboard/").content.decode()
    start, end, name = shown_period(html)
    assert (name, end - start) == ("7d", timedelta(days=7))
    shown = shown_figures(html)
    assert shown == expected_figures(business_metrics(start=start, end=end))
    assert {key: shown[key] for key in FIGURES[:5]} == {
        "created": "6",
        "with_items": "5",
        "checked_out": "2",
        "abandoned": "2",
        "in_progress": "2",
    }
    assert (shown["abandonment_rate"], shown["conversion_rate"]) == ("0.5", "0.4")
    texts = shown_texts(html)
    assert texts["conversion_rate"] == "40.0 %"
    assert texts["average_cart_value"] == "23.00"
    assert texts["average_order_value"] == "30.00"
    assert texts["revenue"] == "60.00"


def test_each_figure_shows_its_change_against_the_previous_period(staff_client, shop):
    html = staff_client.get("/dashboard/").content.decode()
    cards = dict(re.findall(r'data-figure="(\w+)"(.*?)</article>', html, re.DOTALL))
    # Revenue 60.00 against 180.00 the week before: down two thirds, which is bad.
    assert "tone-bad" in cards["revenue"]
    assert "▼" in cards["revenue"]
    assert "66.7 %" in cards["revenue"]
    assert "down 66.7 % on 180.00 before, worse" in cards["revenue"]
    # Conversion 40 % against 100 %: in points.
    assert "60.0 pts" in cards["conversion_rate"]
    # Carts created 6 against 1: up 500 %, which is good.
    assert "▲" in cards["created"]
    assert "500.0 %" in cards["created"]
    assert "tone-good" in cards["created"]
    # Abandonment 50 % against 0 %: up, which is bad.
    assert "tone-bad" in cards["abandonment_rate"]
    # Abandoned 2 against none: no percentage can be told.
    assert "—" in cards["abandoned"]


def test_the_previous_figures_are_those_of_the_period_before(staff_client, shop):
    html = staff_client.get("/dashboard/").content.decode()
    start, end, _ = shown_period(html)
    before = business_metrics(start=start - (end - start), end=start)
    shown = dict(
        re.findall(r'data-figure="(\w+)".*?class="previous"[^>]*>vs ([^<]*)<', html, re.DOTALL)
    )
    assert shown["revenue"] == "180.00" == format_value(before.revenue, "money")
    assert shown["average_cart_value"] == format_value(before.average_cart_value, "money")
    assert shown["created"] == "1"
    assert shown["abandonment_rate"] == "0.0 %"


def test_an_empty_period_shows_dashes_for_rates_and_averages(staff_client, db):
    html = staff_client.get("/dashboard/?period=24h").content.decode()
    texts = shown_texts(html)
    assert texts["conversion_rate"] == texts["average_order_value"] == "—"
    assert shown_figures(html)["conversion_rate"] == ""
    assert texts["created"] == "0"
    assert "No product was added to a cart in this period." in html


@pytest.mark.parametrize(("period", "created"), [("24h", 2), ("7d", 6), ("30d", 7)])
def test_presets(staff_client, shop, period, created):
    response = staff_client.get(f"/dashboard/?period={period}")
    html = response.content.decode()
    start, end, name = shown_period(html)
    assert name == period
    assert shown_figures(html)["created"] == str(created)
    assert shown_figures(html) == expected_figures(business_metrics(start=start, end=end))
    assert f'href="?period={period}" aria-current="true"' in html


def test_a_custom_period_of_dates(staff_client, shop):
    first = (shop - timedelta(days=3)).date()
    last = shop.date()
    html = staff_client.get(f"/dashboard/?from={first}&to={last}").content.decode()
    start, end, name = shown_period(html)
    assert name == "custom"
    assert start.date() == first
    assert end - start == timedelta(days=4)
    assert shown_figures(html) == expected_figures(business_metrics(start=start, end=end))
    assert f'name="from" value="{first}"' in html
    assert f'name="to" value="{last}"' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("period=1y", "`period` must be one of 24h, 7d, 30d"),
        ("from=2026-11-02&to=2026-11-01", "`from` must be before `to`"),
        ("from=2024-01-01&to=2026-01-01", "at most 366 days"),
        ("from=someday&to=2026-11-01", "`from` must be an ISO date"),
        ("from=&to=", "Give both `from` and `to`"),
    ],
)
def test_a_bad_period_is_a_message_on_the_page(staff_client, shop, query, message):
    response = staff_client.get(f"/dashboard/?{query}")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html
    assert message.replace("`", "") in re.sub(r"</?code>", "", html)
    assert "<code>" in html
    # The default period is shown instead, and its button says so.
    assert shown_period(html)[2] == "7d"
    assert shown_figures(html)["created"] == "6"
    assert re.findall(r'href="\?period=(\w+)" aria-current="true"', html) == ["7d"]


@pytest.mark.parametrize(("period", "days"), [("24h", 1), ("7d", 7), ("30d", 30)])
def test_a_preset_fills_the_date_fields_with_as_many_whole_days_ending_today(
    staff_client, db, period, days
):
    """Not the calendar days its hours touch: 24h was yesterday and today."""
    html = staff_client.get(f"/dashboard/?period={period}").content.decode()
    today = timezone.localdate()
    assert f'name="from" value="{today - timedelta(days=days - 1)}"' in html
    assert f'name="to" value="{today}"' in html


def test_after_a_bad_period_the_fields_keep_what_was_typed_or_show_the_period_shown(
    staff_client, db
):
    typed = staff_client.get("/dashboard/?from=2026-11-02&to=2026-11-01").content.decode()
    assert 'name="from" value="2026-11-02"' in typed
    assert 'name="to" value="2026-11-01"' in typed
    html = staff_client.get("/dashboard/?period=1y").content.decode()
    today = timezone.localdate()
    assert f'name="from" value="{today - timedelta(days=6)}"' in html


def test_each_card_says_what_it_counts(staff_client, shop):
    html = staff_client.get("/dashboard/").content.decode()
    helps = dict(re.findall(r'data-figure="(\w+)".*?class="figure-help">([^<]*)<', html, re.DOTALL))
    assert helps["conversion_rate"] == "Checked out ÷ with items: 2 of 5."
    assert helps["abandonment_rate"].startswith("Abandoned ÷ (abandoned + checked out): 2 of 4.")
    assert helps["average_cart_value"].startswith("Mean value of the 5 carts holding lines")
    assert "after codes" in helps["revenue"]


def test_open_carts_beside_the_abandonment_rate_are_told_next_to_it(staff_client, db):
    """The issue's 0.0 % beside 10 open carts, with no hint why but in the small print."""
    now, tee = timezone.now(), ProductFactory(price=Decimal("20.00"))
    checked_out = CartStatus.CHECKED_OUT
    make_cart(now=now, hours_ago=5, status=checked_out, lines=[(tee, 1)], total=Decimal("20"))
    for hours in range(10):
        make_cart(now=now, hours_ago=hours + 1, lines=[(tee, 1)], idle_hours=0)
    html = staff_client.get("/dashboard/?period=24h").content.decode()
    card = re.search(r'data-figure="abandonment_rate"(.*?)</article>', html, re.DOTALL)[1]
    assert '<data value="0.0">0.0 %</data>' in card
    value_then_note = (
        r'</p>\s*<p class="note figure-note">10 open carts with items not counted yet.'
    )
    assert re.search(value_then_note, card)


def test_what_was_typed_is_escaped_in_the_message(staff_client, db):
    html = staff_client.get("/dashboard/", {"from": "<b>`x`</b>", "to": "2026-11-01"}).content
    assert b"<b>" not in html
    assert b"&lt;b&gt;" in html


def test_the_charts_are_inline_svg_with_titles(staff_client, shop):
    html = staff_client.get("/dashboard/").content.decode()
    assert '<svg class="chart" id="timeline"' in html
    assert '<title id="timeline-title">Carts created and checked out per day</title>' in html
    assert "6 carts created and 2 checked out" in html
    assert '<svg class="chart" id="funnel"' in html
    assert "Of 6 carts created, 5 got items (83 %) and 2 were checked out (33 %)." in html


def test_the_top_products_tables(staff_client, shop):
    html = staff_client.get("/dashboard/").content.decode()
    by_quantity = html[html.index('id="top-quantity"') : html.index('id="top-revenue"')]
    by_revenue = html[html.index('id="top-revenue"') :]
    row = r'data-sku="(\w+)".*?data-quantity="(\d+)".*?data-value="([\d.]+)"'
    # Units in carts and their value; units checked out and their revenue (see the fixture).
    assert re.findall(row, by_quantity, re.DOTALL) == [("MUG", "7", "35.00"), ("TEE", "4", "80.00")]
    assert re.findall(row, by_revenue, re.DOTALL) == [("TEE", "2", "40.00"), ("MUG", "4", "20.00")]
    assert '<th scope="col" class="num">Units in carts</th>' in by_quantity
    assert '<th scope="col" class="num">Units sold</th>' in by_revenue


@pytest.mark.parametrize("carts", [1, 40])
def test_the_business_dashboard_makes_a_fixed_number_of_queries(
    staff_client, db, django_assert_num_queries, carts
):
    """Session, user, then the four queries of business_metrics, which read this period and
    the one before together, the discount figures' totals (no code was used: their codes
    are not ranked), the three of the refused checkouts and the one of the products at risk
    (carts/demand.py): 11."""
    now = timezone.now()
    products = ProductFactory.create_batch(5)
    for index in range(carts):
        status = CartStatus.CHECKED_OUT if index % 2 else CartStatus.ACTIVE
        lines = [(product, index % 3 + 1) for product in products[: index % 5 + 1]]
        make_cart(
            now=now,
            hours_ago=index * 3 + 1,
            status=status,
            lines=lines,
            total=Decimal("10") if status == CartStatus.CHECKED_OUT else None,
        )
    with django_assert_num_queries(11):
        assert staff_client.get("/dashboard/?period=30d").status_code == 200


def test_the_health_dashboard_shows_every_dependency(staff_client, settings):
    settings.PRODUCT_SERVICE_URL = settings.AUTH_SERVICE_URL = settings.PAYMENT_SERVICE_URL = ""
    html = staff_client.get("/dashboard/health/").content.decode()
    assert re.search(r'data-key="overall" data-state="ok">OK<', html)
    assert re.search(r'data-key="database.status" data-state="ok">Up<', html)
    assert re.search(r'data-key="redis.status" data-state="ok">Up<', html)
    for service in ("product", "auth", "payment"):
        assert re.search(rf'data-key="{service}.status" data-state="off">Not configured<', html)
        assert re.search(rf'data-key="{service}.breaker" data-state="off">Not configured<', html)
    for key in ("process.memory", "requests.rate", "requests.error_rate", "requests.p95"):
        assert f'data-key="{key}"' in html
    assert 'src="/static/dashboard/health.js"' in html
    assert '<noscript><meta http-equiv="refresh"' in html


def test_the_health_data_has_every_reading_of_the_page(staff_client):
    page = staff_client.get("/dashboard/health/").content.decode()
    response = staff_client.get("/dashboard/health/data")
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["readings"]) == set(re.findall(r'data-key="([\w.]+)"', page))
    assert body["readings"]["database.status"] == {"text": "Up", "state": "ok"}


def test_the_admin_index_links_the_dashboards(staff_client, staff):
    staff.is_superuser = True
    staff.save()
    html = staff_client.get("/admin/").content.decode()
    assert 'href="/dashboard/"' in html
    assert 'href="/dashboard/health/"' in html
    assert "Site administration" in html  # still Django's index underneath
