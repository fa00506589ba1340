"""The discount codes' figures in GET /api/v1/metrics/business/ and on the business dashboard
(Django's test client, and headless Chromium as a staff member reads them)."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from carts.analytics import business_metrics
from carts.discount_analytics import discount_metrics
from carts.models import CartStatus
from dashboard.periods import period_from_params
from tests.carts.test_discount_analytics import checkout
from tests.dashboard import test_browser
from tests.dashboard.pages import expected_figures, shown_figures, shown_period
from tests.factories import DiscountCodeFactory, ProductFactory, StaffFactory, make_cart
from tests.schema import assert_ok

URL = "/api/v1/metrics/business/"
browser, page = test_browser.browser, test_browser.page  # its fixtures, for the browser test
DISCOUNT_FIGURE = re.compile(
    r'data-discount-figure="(\w+)".*?<data value="([^"]*)">([^<]*)</data>(.*?)</article>',
    re.DOTALL,
)


@pytest.fixture
def coded(shop):
    """The dashboards' shop (2 checkouts without a code in the last 7 days, 1 the week
    before) and checkouts with codes. Last 7 days: 5 checkouts, 3 with a code, 36.00 off:
    SAVE10 2 uses, 36.00 + 88.00 = 124.00, 6.00 off; VIP 1 use, 180.00, 20.00 off;
    TENOFF 1 use, 88.00, 10.00 off. The week before: 2 checkouts, 1 with VIP, 5.00 off.
    Last 24 hours: the 3 with a code."""
    big = ProductFactory(sku="BIG", price=Decimal("20.00"))
    save10, vip = DiscountCodeFactory(code="SAVE10"), DiscountCodeFactory(code="VIP")
    tenoff = DiscountCodeFactory(
        code="TENOFF", kind="fixed_amount", value=Decimal("10.00"), currency="EUR"
    )

    def made(**fields):
        return checkout(now=shop, **fields)

    made(hours_ago=5, lines=[(big, 2)], codes=[(save10, Decimal("4.00"))])  # 36.00
    made(  # 100.00 - 12.00
        hours_ago=8,
        lines=[(big, 5)],
        codes=[(save10, Decimal("2.00")), (tenoff, Decimal("10.00"))],
    )
    made(hours_ago=20, lines=[(big, 10)], codes=[(vip, Decimal("20.00"))])  # 180.00
    made(hours_ago=24 * 12, lines=[(big, 1)], codes=[(vip, Decimal("5.00"))])  # 15.00
    made(hours_ago=1, lines=[(big, 1)], codes=[(vip, None)], status=CartStatus.ACTIVE)
    return shop


def codes(rows) -> list[tuple]:
    return [(row["code"], row["uses"], row["revenue"], row["discounted_amount"]) for row in rows]


BY_USES = [
    ("SAVE10", 2, "124.00", "6.00"),
    ("VIP", 1, "180.00", "20.00"),
    ("TENOFF", 1, "88.00", "10.00"),
]
BY_REVENUE = [BY_USES[1], BY_USES[0], BY_USES[2]]


def test_the_api_answers_the_discount_figures(staff_api, coded):
    body = assert_ok(staff_api.get(URL))  # the last 7 days, checked against the schema
    assert (body["checkouts"], body["checkouts_with_code"]) == (5, 3)
    assert body["checkouts_with_code_share"] == 0.6
    assert body["discounted_amount"] == "36.00"
    assert codes(body["top_codes_by_uses"]) == BY_USES
    assert codes(body["top_codes_by_revenue"]) == BY_REVENUE
    assert isinstance(body["top_codes_by_uses"][0]["code_id"], int)
    # The other figures are those of the carts created in the period, as before.
    assert body["checked_out"] == 2 + 3


def test_the_api_answers_the_figures_of_discount_analytics(staff_api, coded):
    body = assert_ok(staff_api.get(URL, {"period": "24h"}))
    period = period_from_params({"period": "24h"}, now=coded)
    figures = discount_metrics(start=period.start, end=period.end)
    assert (
        (body["checkouts"], body["checkouts_with_code"])
        == (3, 3)
        == (
            figures.checkouts,
            figures.checkouts_with_code,
        )
    )
    assert body["checkouts_with_code_share"] == 1.0
    assert body["discounted_amount"] == str(figures.discounted_amount) == "36.00"
    assert codes(body["top_codes_by_uses"]) == BY_USES


def test_the_api_of_a_period_without_codes(staff_api, shop):
    body = assert_ok(staff_api.get(URL))
    assert (body["checkouts"], body["checkouts_with_code"]) == (2, 0)
    assert body["checkouts_with_code_share"] == 0.0
    assert body["discounted_amount"] == "0.00"
    assert body["top_codes_by_uses"] == body["top_codes_by_revenue"] == []
    empty = assert_ok(staff_api.get(URL, {"from": "2020-01-01", "to": "2020-01-02"}))
    assert empty["checkouts_with_code_share"] is None
    assert empty["checkouts"] == 0


def test_the_api_makes_a_fixed_number_of_queries(staff_api, coded, django_assert_num_queries):
    """The staff check, the four queries of business_metrics, the two of discount_metrics,
    the three of refusal_metrics, the one of the products at risk."""
    with django_assert_num_queries(11):
        assert_ok(staff_api.get(URL))


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def discount_cards(html: str) -> dict[str, tuple[str, str, str]]:
    """Each discount card's exact value, its text and the rest of the card."""
    return {key: (value, text, rest) for key, value, text, rest in DISCOUNT_FIGURE.findall(html)}


def table(html: str, table_id: str) -> list[tuple[str, str, str, str]]:
    start = html.index(f'<table id="{table_id}"')
    rows = html[start : html.index("</table>", start)]
    return re.findall(
        r'data-code="(\w+)".*?data-uses="(\d+)".*?data-revenue="([\d.]+)"'
        r'.*?data-discounted="([\d.]+)"',
        rows,
        re.DOTALL,
    )


def test_the_dashboard_shows_the_discount_figures(staff_client, coded):
    html = staff_client.get("/dashboard/").content.decode()
    start, end, _ = shown_period(html)
    figures = discount_metrics(start=start, end=end)
    cards = discount_cards(html)
    assert list(cards) == ["discounted_amount", "checkouts_with_code_share"]
    value, text, rest = cards["discounted_amount"]
    assert (value, text) == (str(figures.discounted_amount), "36.00") == ("36.00", "36.00")
    assert '<span class="unit">EUR</span>' in rest
    # 36.00 against 5.00 the week before: up, neither better nor worse.
    assert "620.0 %" in rest
    assert "tone-neutral" in rest
    assert "vs 5.00" in rest
    value, text, rest = cards["checkouts_with_code_share"]
    assert (value, text) == ("0.6", "60.0 %")
    assert "3 of 5 checkouts used at least one code." in rest
    assert "10.0 pts" in rest  # against 50 %
    assert [row[0] for row in table(html, "top-codes-uses")] == ["SAVE10", "VIP", "TENOFF"]
    assert table(html, "top-codes-uses")[0] == ("SAVE10", "2", "124.00", "6.00")
    assert [row[0] for row in table(html, "top-codes-revenue")] == ["VIP", "SAVE10", "TENOFF"]
    assert "No code used in this period." not in html


def test_the_other_figure_cards_are_unchanged(staff_client, coded):
    html = staff_client.get("/dashboard/").content.decode()
    start, end, _ = shown_period(html)
    assert shown_figures(html) == expected_figures(business_metrics(start=start, end=end))


def test_a_period_without_codes_says_so(staff_client, shop):
    html = staff_client.get("/dashboard/").content.decode()
    assert html.count("No code used in this period.") == 2
    assert 'id="top-codes-uses"' not in html
    cards = discount_cards(html)
    assert cards["discounted_amount"][:2] == ("0.00", "0.00")
    assert cards["checkouts_with_code_share"][:2] == ("0.0", "0.0 %")
    assert "0 of 2 checkouts used at least one code." in cards["checkouts_with_code_share"][2]
    empty = staff_client.get("/dashboard/?from=2020-01-01&to=2020-01-02").content.decode()
    assert discount_cards(empty)["checkouts_with_code_share"][:2] == ("", "—")
    assert "0 of 0 checkouts" in empty


@pytest.mark.parametrize("carts", [1, 40])
def test_the_dashboard_makes_a_fixed_number_of_queries(
    staff_client, db, django_assert_num_queries, carts
):
    """Session, user, the four queries of business_metrics, the two of the discount
    figures and the three of the refused checkouts, each reading this period and the one
    before together, and the one of the products at risk: 12."""
    now = timezone.now()
    product = ProductFactory()
    code = DiscountCodeFactory(code="WELCOME")
    for index in range(carts):
        checkout(
            now=now,
            hours_ago=index * 3 + 1,
            lines=[(product, index % 3 + 1)],
            codes=[] if index % 2 else [(code, Decimal("1.00"))],
        )
        make_cart(now=now, hours_ago=index * 3 + 2, lines=[(product, 1)])
    with django_assert_num_queries(12):
        assert staff_client.get("/dashboard/?period=30d").status_code == 200


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_staff_member_reads_the_discount_figures(page, coded):
    StaffFactory(username="lin")
    page.sign_in("lin", "/dashboard/")
    page.wait(lambda: page.path() == "/dashboard/", message="not taken to the dashboard")
    assert page.text('[data-discount-figure="discounted_amount"] data') == "36.00"
    share = page.driver.find_element(By.CSS_SELECTOR, '[data-discount-figure$="share"] data')
    assert (share.text, share.get_attribute("value")) == ("60.0 %", "0.6")
    assert page.text("#discounts-heading") == "DISCOUNT CODES AT CHECKOUT"  # uppercase style
    assert page.text("#top-codes-uses tbody tr:first-child th") == "SAVE10"
    assert page.text("#top-codes-revenue tbody tr:first-child th") == "VIP"
    assert page.driver.find_element(By.ID, "top-codes-revenue").is_displayed()
    page.screenshot("dashboard-discounts")

    page.driver.find_element(By.LINK_TEXT, "24h").click()
    page.wait(lambda: page.path() == "/dashboard/?period=24h")
    assert page.text('[data-discount-figure="checkouts_with_code_share"] data') == "100.0 %"
    page.open("/dashboard/?from=2020-01-01&to=2020-01-02")
    empty = page.driver.find_elements(By.CSS_SELECTOR, "#discounts .empty")
    assert [element.text for element in empty] == ["No code used in this period."] * 2
    assert page.console_errors() == []
