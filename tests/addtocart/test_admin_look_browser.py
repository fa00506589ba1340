"""What staff see in the admin, on the health page and in the API docs, in headless Chromium
at a phone's width (390 px) and a wide screen's (1440 px), after a shop has been used through
the API; and the schema and the icon those pages rely on.

The browser, the live server and the static files are the dashboards' (tests/dashboard).
"""

import re

import pytest
from django.test import Client
from selenium.webdriver.common.by import By

from carts.models import Cart, CartStatus
from tests.dashboard.conftest import (  # noqa: F401
    _fresh_health_checks,
    _static_files_without_manifest,
)
from tests.dashboard.test_browser import browser, page  # noqa: F401
from tests.factories import StaffFactory
from tests.schema import schema_document
from tests.test_pages_fit_browser import at_width, fit_problems, shop_through_the_api

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE, WIDE = 390, 1440
# The endpoints anyone may call without a token: the docs show them without a lock.
PUBLIC = [
    ("/api/v1/auth/register/", "post"),
    ("/api/v1/auth/token/", "post"),
    ("/api/v1/auth/token/refresh/", "post"),
]


@pytest.fixture
def staff_browser(page):  # noqa: F811
    """The browser, signed in as a superuser, on a shop with 17 carts made through the API."""
    shop_through_the_api()
    StaffFactory(username="root", is_superuser=True)
    page.sign_in("root", "/admin/")
    return page


def lines_of(element) -> int:
    """How many lines the element's text takes."""
    return element.parent.execute_script(
        "const r = document.createRange(); r.selectNodeContents(arguments[0]);"
        "return new Set([...r.getClientRects()].map((box) => Math.round(box.top))).size;",
        element,
    )


def texts(driver, css: str) -> list[str]:
    return [element.text for element in driver.find_elements(By.CSS_SELECTOR, css)]


@pytest.mark.parametrize("width", [PHONE, WIDE])
def test_the_admin_index_lists_the_dashboards_readably_under_the_services_name(
    staff_browser, width
):
    driver = staff_browser.driver
    at_width(driver, width)
    staff_browser.open("/admin/")
    assert driver.find_element(By.CSS_SELECTOR, "#site-name").text == "Add-to-Cart admin"
    assert driver.title.endswith("| Add-to-Cart admin")
    links = driver.find_elements(By.CSS_SELECTOR, "#dashboards-module th a")
    assert [link.text for link in links] == ["Business metrics", "Service health"]
    assert [lines_of(link) for link in links] == [1, 1]  # not a letter a line
    document, screen, problems = fit_problems(driver)
    assert (document, problems) == (screen, [])
    staff_browser.open("/admin/carts/")  # an app's own index lists its models alone
    assert driver.find_elements(By.ID, "dashboards-module") == []


def test_the_cart_list_shows_every_column_with_short_ids_totals_and_zoned_times(staff_browser):
    driver = staff_browser.driver
    at_width(driver, WIDE)
    staff_browser.open("/admin/carts/cart/")
    headings = texts(driver, "#result_list thead th")[1:]
    assert [" ".join(heading.lower().split()) for heading in headings] == [
        "cart",
        "owner",
        "status",
        "lines",
        "units",
        "subtotal",
        "total at checkout",
        "checked out",
        "last activity",
        "created",
    ]
    assert driver.execute_script(  # the table fits its box: "Created" is not cut off
        "const box = document.querySelector('.results');return box.scrollWidth <= box.clientWidth;"
    )
    cart = Cart.objects.filter(status=CartStatus.CHECKED_OUT).order_by("-created_at").first()
    row = driver.find_element(By.XPATH, f"//tr[.//a[contains(@href, '{cart.pk}')]]")
    cell = row.find_element(By.CSS_SELECTOR, "th.field-cart")
    short = cell.find_element(By.CSS_SELECTOR, ".cart-id")
    assert (short.text, short.get_attribute("title")) == (str(cart.pk)[:8], str(cart.pk))
    assert lines_of(short) == 1
    total = row.find_element(By.CSS_SELECTOR, ".field-checkout_total").text
    assert total == f"{cart.total:.2f} {cart.currency}"
    for column in ("checked_out", "last_activity", "created"):
        shown = " ".join(row.find_element(By.CSS_SELECTOR, f".field-{column}").text.split())
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", shown), (column, shown)
    at_width(driver, PHONE)
    staff_browser.open("/admin/carts/cart/")
    document, screen, problems = fit_problems(driver)
    assert (document, problems) == (screen, [])


def test_a_carts_page_says_its_status_and_its_amounts_as_staff_read_them(staff_browser):
    driver = staff_browser.driver
    cart = Cart.objects.filter(status=CartStatus.CHECKED_OUT, discount_count=1).first()
    for width in (PHONE, WIDE):
        at_width(driver, width)
        staff_browser.open(f"/admin/carts/cart/{cart.pk}/change/")
        title = f"Cart {str(cart.pk)[:8]} · Checked out"
        assert driver.find_element(By.CSS_SELECTOR, "#content h2").text == title
        assert driver.find_element(By.CSS_SELECTOR, ".breadcrumbs").text.endswith(title)
        assert driver.title.startswith(f"{title} |")
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "checked_out" not in body
        assert not re.search(r"\d+ x \d+ in ", body)  # no "1 x 6 in <cart id>" caption
        field = driver.find_element(By.CSS_SELECTOR, ".field-checkout_total .readonly")
        assert field.text == f"{cart.total:.2f} EUR"
        for name in ("subtotal", "discount_total", "estimated_total"):
            amount = driver.find_element(By.CSS_SELECTOR, f".field-{name} .readonly").text
            assert re.fullmatch(r"\d+\.\d\d EUR", amount), (name, amount)
        created = driver.find_element(By.CSS_SELECTOR, ".field-created_at_shown .readonly")
        assert created.text.endswith(" UTC")
        lines = driver.find_elements(By.CSS_SELECTOR, ".cart-lines tbody tr")
        assert len(lines) == cart.items.count()
        for line in lines:
            for column in ("price", "line_total"):
                amount = line.find_element(By.CSS_SELECTOR, f".field-{column}").text
                assert amount.endswith(" EUR"), amount
            assert line.find_elements(By.CSS_SELECTOR, "td.original") == []
        document, screen, problems = fit_problems(driver)
        assert (document, problems) == (screen, [])


def test_the_health_page_shows_a_true_peak_and_no_breaker_for_services_not_configured(
    staff_browser, settings
):
    settings.PRODUCT_SERVICE_URL = settings.AUTH_SERVICE_URL = settings.PAYMENT_SERVICE_URL = ""
    driver = staff_browser.driver
    for width in (PHONE, WIDE):
        at_width(driver, width)
        staff_browser.open("/dashboard/health/")
        reading = {
            element.get_attribute("data-key"): element
            for element in driver.find_elements(By.CSS_SELECTOR, "dd[data-key]")
        }
        current = in_mib(reading["process.memory"].text)
        assert in_mib(reading["process.peak_memory"].text) >= current
        up_colour = reading["database.status"].value_of_css_property("color")
        for service in ("product", "auth", "payment"):
            breaker = reading[f"{service}.breaker"]
            assert (breaker.text, breaker.get_attribute("data-state")) == ("Not configured", "off")
            assert breaker.value_of_css_property("color") != up_colour  # not green
        document, screen, problems = fit_problems(driver)
        assert (document, problems) == (screen, [])


def in_mib(text: str) -> float:
    number, unit = text.split()
    return float(number.replace(",", "")) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


def test_every_page_has_the_icon_and_no_request_for_it_fails(staff_browser):
    driver = staff_browser.driver
    driver.get_log("browser")
    for path in ("/admin/", "/admin/carts/cart/", "/dashboard/health/", "/admin/login/"):
        staff_browser.open(path)
        icons = driver.find_elements(By.CSS_SELECTOR, "link[rel=icon]")
        assert icons, path
        for icon in icons:
            status = driver.execute_async_script(
                "fetch(arguments[0]).then((r) => arguments[1](r.status));",
                icon.get_attribute("href"),
            )
            assert status == 200, (path, icon.get_attribute("href"))
    status, kind = driver.execute_async_script(
        "fetch('/favicon.ico')"
        ".then((r) => arguments[0]([r.status, r.headers.get('Content-Type')]));"
    )
    assert (status, kind) in [(200, "image/x-icon"), (200, "image/vnd.microsoft.icon")]
    failed = [e["message"] for e in driver.get_log("browser") if "Failed to load" in e["message"]]
    assert failed == []


def test_the_api_docs_load_without_a_policy_error_and_with_a_summary_for_each_operation(
    staff_browser,
):
    driver = staff_browser.driver
    driver.get_log("browser")
    for width in (PHONE, WIDE):
        at_width(driver, width)
        staff_browser.open("/api/v1/docs/")
        staff_browser.wait(lambda: driver.find_elements(By.CSS_SELECTOR, ".opblock"))
        blocks = driver.find_elements(By.CSS_SELECTOR, ".opblock")
        operations = sum(len(methods) for methods in schema_document()["paths"].values())
        assert len(blocks) == operations
        summaries = texts(driver, ".opblock .opblock-summary-description")
        assert len(summaries) == operations
        assert all(summaries), summaries
        for path, method in PUBLIC:
            block = operation_block(driver, path, method)
            assert block.find_elements(By.CSS_SELECTOR, ".authorization__btn") == [], path
        private = operation_block(driver, "/api/v1/auth/password/", "post")
        assert private.find_elements(By.CSS_SELECTOR, ".authorization__btn")
        document, screen, problems = fit_problems(driver)
        assert (document, problems) == (screen, [])
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def operation_block(driver, path: str, method: str):
    for block in driver.find_elements(By.CSS_SELECTOR, f".opblock-{method}"):
        if block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").text == path:
            return block
    raise AssertionError(f"no {method} {path} in the docs")


# The documents behind the pages.


def test_every_operation_has_a_summary_and_the_public_ones_need_no_token():
    paths = schema_document()["paths"]
    operations = [(path, method, op) for path, ops in paths.items() for method, op in ops.items()]
    summaries = [op.get("summary", "") for _, _, op in operations]
    assert all(summaries), [f"{m} {p}" for p, m, op in operations if not op.get("summary")]
    assert len(set(summaries)) == len(summaries)  # each says what its operation does
    assert not any(summary.endswith(".") for summary in summaries)
    assert "security" not in schema_document()  # nothing asked of every operation
    for path, method in PUBLIC:
        assert paths[path][method].get("security", []) == [], path


def test_the_browsers_favicon_request_goes_to_a_real_icon_kept_a_day():
    client = Client()
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert "max-age=86400" in response["Cache-Control"]
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    content = b"".join(icon.streaming_content) if icon.streaming else icon.content
    assert content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert len(content) < 4096  # a small one
