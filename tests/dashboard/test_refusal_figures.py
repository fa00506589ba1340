"""The refused checkouts in GET /api/v1/metrics/business/ and on the business dashboard
(Django's test client, and headless Chromium as a staff member reads them). The refusals are
those of tests/carts/test_refusals.py, whose figures are known by hand."""

import re
from dataclasses import asdict

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from carts.models import RefusalReason
from carts.refusal_analytics import refusal_metrics
from dashboard.periods import period_from_params
from tests.carts.test_refusals import refused_shop
from tests.dashboard import test_browser
from tests.dashboard.pages import shown_period
from tests.factories import StaffFactory
from tests.schema import assert_ok

URL = "/api/v1/metrics/business/"
browser, page = test_browser.browser, test_browser.page  # its fixtures, for the browser test
STOCK = "insufficient_stock"
BY_REASON = [
    (STOCK, "Out of stock", 3, 2, "110.00"),
    ("code_invalid", "Discount code invalid", 1, 1, "80.00"),
    ("payment_refused", "Payment refused", 1, 1, "80.00"),
    ("price_changed", "Price changed", 1, 1, "30.00"),
    ("product_unavailable", "Product unavailable", 1, 1, "12.00"),
]
SKUS = [
    ("MUG", "Mug", STOCK, 3, 2, 6, "30.00"),
    ("TEE", "T-shirt", "price_changed", 1, 1, 1, "20.00"),
    ("HAT", "Hat", "product_unavailable", 1, 1, 1, "12.00"),
]


@pytest.fixture
def refused(db):
    now = timezone.now()
    refused_shop(now)
    return now


def test_the_api_answers_the_refused_checkouts(staff_api, refused):
    body = assert_ok(staff_api.get(URL))["refusals"]  # the last 7 days, against the schema
    totals = ("refusals", "carts", "carts_checked_out_since", "blocked_value")
    assert {key: body[key] for key in totals} == {
        "refusals": 5,
        "carts": 3,
        "carts_checked_out_since": 1,
        "blocked_value": "122.00",
    }
    reasons = ("reason", "label", "refusals", "carts", "blocked_value")
    assert [tuple(row[key] for key in reasons) for row in body["by_reason"]] == BY_REASON
    skus = ("sku", "name", "reason", "refusals", "carts", "units", "blocked_value")
    assert [tuple(row[key] for key in skus) for row in body["skus"]] == SKUS
    assert body["skus"][0]["product_id"] is not None


def test_the_api_answers_the_figures_of_refusal_analytics(staff_api, refused):
    body = assert_ok(staff_api.get(URL, {"period": "24h"}))["refusals"]
    period = period_from_params({"period": "24h"}, now=refused)
    figures = asdict(refusal_metrics(start=period.start, end=period.end))
    assert (body["refusals"], body["carts"], body["blocked_value"]) == (2, 1, "80.00")
    assert (body["refusals"], body["carts"]) == (figures["refusals"], figures["carts"])
    assert [row["reason"] for row in body["by_reason"]] == [
        row["reason"] for row in figures["by_reason"]
    ]


def test_the_api_of_a_period_without_refusals(staff_api, refused):
    body = assert_ok(staff_api.get(URL, {"from": "2020-01-01", "to": "2020-01-02"}))["refusals"]
    assert (body["refusals"], body["carts"], body["blocked_value"]) == (0, 0, "0.00")
    assert body["by_reason"] == body["skus"] == []


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def section(html: str) -> str:
    return html[html.index('id="refusals"') : html.index('class="footnote"')]


def cards(html: str) -> dict[str, tuple[str, str]]:
    """Each refusal card's exact value and the rest of the card."""
    found = re.findall(
        r'data-refusal-figure="(\w+)".*?<data value="([^"]*)">[^<]*</data>(.*?)</article>',
        html,
        re.DOTALL,
    )
    return {key: (value, rest) for key, value, rest in found}


def rows(html: str, table_id: str) -> list[list[str]]:
    """The cells of a table's body, as text."""
    start = html.index(f'<table id="{table_id}"')
    body = html[html.index("<tbody>", start) : html.index("</tbody>", start)]
    cell = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.DOTALL)
    text = lambda html: " ".join(re.sub(r"<[^>]+>", " ", html).split())  # noqa: E731
    return [[text(found) for found in cell.findall(row)] for row in body.split("</tr>")[:-1]]


def test_the_dashboard_shows_the_refused_checkouts(staff_client, refused):
    html = staff_client.get("/dashboard/").content.decode()
    assert shown_period(html)[2] == "7d"
    shown = cards(html)
    assert {key: value for key, (value, _) in shown.items()} == {
        "refusals": "5",
        "carts": "3",
        "blocked_value": "122.00",
    }
    assert "1 checked out since" in shown["carts"][1]
    assert "vs 5.00" in shown["blocked_value"][1]  # the week before
    assert "tone-bad" in shown["blocked_value"][1]  # more blocked is worse
    assert '<span class="unit">EUR</span>' in shown["blocked_value"][1]
    assert [tuple(row) for row in rows(html, "refusal-reasons")] == [
        (label, str(refusals), str(carts), value) for _, label, refusals, carts, value in BY_REASON
    ]
    assert rows(html, "refusal-skus") == [
        [str(rank), f"{name} {sku}", RefusalReason(reason).label, *map(str, figures)]
        for rank, (sku, name, reason, *figures) in enumerate(SKUS, 1)
    ]
    assert rows(html, "refusal-skus")[0] == ["1", "Mug MUG", "Out of stock", "3", "2", "6", "30.00"]
    assert 'data-sku="TEE" data-reason="price_changed"' in section(html)


def test_a_period_without_refusals_says_so(staff_client, refused):
    html = staff_client.get("/dashboard/?from=2020-01-01&to=2020-01-02").content.decode()
    assert "No checkout was refused in this period." in section(html)
    assert "No line was at fault in a refused checkout in this period." in section(html)
    assert 'id="refusal-reasons"' not in html
    assert cards(html)["refusals"][0] == "0"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_staff_member_reads_what_was_not_sold_and_why(page, refused):
    StaffFactory(username="ida")
    page.sign_in("ida", "/dashboard/")
    page.wait(lambda: page.path() == "/dashboard/", message="not taken to the dashboard")
    assert page.text('[data-refusal-figure="blocked_value"] data') == "122.00"
    assert page.text("#refusal-reasons tbody tr:first-child th") == "Out of stock"
    assert page.text("#refusal-skus tbody tr:first-child th") == "Mug MUG"
    page.driver.find_element(By.ID, "refusals").location_once_scrolled_into_view  # noqa: B018
    assert page.driver.find_element(By.ID, "refusal-skus").is_displayed()
    page.screenshot("dashboard-refusals")
    page.driver.find_element(By.LINK_TEXT, "24h").click()
    page.wait(lambda: page.path() == "/dashboard/?period=24h")
    assert page.text('[data-refusal-figure="refusals"] data') == "2"
    assert page.console_errors() == []
