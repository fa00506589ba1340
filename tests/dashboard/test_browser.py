"""The dashboards in headless Chromium against a live server, as a staff member uses them.

Debian's chromium and chromedriver (scripts/ensure-debian-packages.sh installs them; nothing is
downloaded here). Screenshots at phone (390 px) and wide (1440 px) widths are saved under
test-artifacts/screenshots/.
"""

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait

from carts.analytics import business_metrics
from tests.dashboard.pages import expected_figures
from tests.factories import PASSWORD, StaffFactory, UserFactory
from tests.live import ROOT, JsonService, free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE, WIDE = 390, 1440
REFRESH_WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            "Chromium is not installed: run scripts/ensure-debian-packages.sh (make test does)."
        )
    with tempfile.TemporaryDirectory(prefix="addtocart-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--lang=en-US",
            f"--window-size={WIDE},900",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(
            service=Service(executable_path=str(CHROMEDRIVER)), options=options
        )
        driver.set_page_load_timeout(30)
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture
def page(browser, live_server):
    """The browser, signed out, with `page.open(path)` on the live server."""
    browser.delete_all_cookies()
    browser.get_log("browser")  # forget the previous test's messages

    class Page:
        driver = browser
        url = live_server.url

        def open(self, path: str) -> None:
            browser.get(self.url + path)

        def path(self) -> str:
            return browser.current_url.removeprefix(self.url)

        def wait(self, condition, seconds: float = 10, message: str = ""):
            return WebDriverWait(browser, seconds).until(lambda _: condition(), message)

        def sign_in(self, username: str, next_path: str) -> None:
            self.open(f"/admin/login/?next={next_path}")
            browser.find_element(By.ID, "id_username").send_keys(username)
            browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
            login_page = browser.find_element(By.TAG_NAME, "html")
            browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
            WebDriverWait(browser, 10).until(staleness_of(login_page))

        def text(self, css: str) -> str:
            return browser.find_element(By.CSS_SELECTOR, css).text

        def figures(self) -> dict[str, str]:
            cards = browser.find_elements(By.CSS_SELECTOR, "[data-figure]")
            return {
                card.get_attribute("data-figure"): card.find_element(
                    By.TAG_NAME, "data"
                ).get_attribute("value")
                for card in cards
            }

        def period(self) -> tuple[datetime, datetime, str]:
            element = browser.find_element(By.ID, "period")
            return (
                datetime.fromisoformat(element.get_attribute("data-start")),
                datetime.fromisoformat(element.get_attribute("data-end")),
                element.get_attribute("data-name"),
            )

        def screenshot(self, name: str) -> None:
            """The whole page at phone and at wide width."""
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for width in (PHONE, WIDE):
                metrics = {"width": width, "deviceScaleFactor": 1, "mobile": width == PHONE}
                browser.execute_cdp_cmd(
                    "Emulation.setDeviceMetricsOverride", {**metrics, "height": 900}
                )
                height = browser.execute_script("return document.documentElement.scrollHeight")
                browser.execute_cdp_cmd(
                    "Emulation.setDeviceMetricsOverride", {**metrics, "height": min(height, 6000)}
                )
                path = SCREENSHOTS / f"{name}-{width}.png"
                assert browser.save_screenshot(str(path)), path
            browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

        def console_errors(self) -> list[str]:
            """Script errors and policy violations (not the 400 of a bad period, nor the
            admin login page's missing favicon)."""
            return [
                entry["message"]
                for entry in browser.get_log("browser")
                if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]
            ]

    return Page()


def healthy(method: str, path: str, body: object | None) -> tuple[int, object]:
    """A stand-in external service whose GET /health answers 200."""
    return (200 if path == "/health" else 404), {"status": "ok"}


def assert_figures_match_the_analytics(page) -> str:
    start, end, name = page.period()
    assert page.figures() == expected_figures(business_metrics(start=start, end=end))
    return name


def test_a_staff_member_reads_the_business_dashboard(page, shop):
    StaffFactory(username="ada")
    page.sign_in("ada", "/dashboard/")
    page.wait(lambda: page.path() == "/dashboard/", message="not taken to the dashboard")
    assert page.driver.title.startswith("Business")
    assert assert_figures_match_the_analytics(page) == "7d"
    assert page.figures()["created"] == "6"
    assert page.text('[data-figure="revenue"] data') == "60.00"
    assert page.text('[data-figure="conversion_rate"] data') == "40.0 %"
    assert page.driver.find_element(By.ID, "timeline").is_displayed()
    assert page.driver.find_element(By.ID, "funnel").is_displayed()
    assert page.text("#top-quantity tbody tr:first-child th") == "Mug MUG"
    page.screenshot("dashboard-7d")

    page.driver.find_element(By.LINK_TEXT, "24h").click()
    page.wait(lambda: page.path() == "/dashboard/?period=24h")
    assert assert_figures_match_the_analytics(page) == "24h"
    assert page.figures()["created"] == "2"
    today = timezone.localdate().isoformat()  # one whole day, not yesterday and today
    assert [field_value(page, name) for name in ("from", "to")] == [today, today]
    assert page.text('.presets a[aria-current="true"]') == "24h"
    page.screenshot("dashboard-24h")

    page.driver.find_element(By.LINK_TEXT, "30d").click()
    page.wait(lambda: page.path() == "/dashboard/?period=30d")
    assert assert_figures_match_the_analytics(page) == "30d"
    assert page.figures()["created"] == "7"

    first, last = (shop - timedelta(days=3)).date(), timezone.localtime(shop).date()
    set_date(page, "from", first)
    set_date(page, "to", last)
    page.driver.find_element(By.CSS_SELECTOR, ".custom-period button").click()
    page.wait(lambda: page.path() == f"/dashboard/?from={first}&to={last}")
    assert assert_figures_match_the_analytics(page) == "custom"
    start, end, _ = page.period()
    assert (start.date(), end - start) == (first, timedelta(days=4))
    page.screenshot("dashboard-custom")

    set_date(page, "from", last)
    set_date(page, "to", first)
    page.driver.find_element(By.CSS_SELECTOR, ".custom-period button").click()
    page.wait(lambda: page.driver.find_elements(By.CSS_SELECTOR, "[role=alert]"))
    assert "from must be before to" in page.text("[role=alert]")
    assert page.period()[2] == "7d"
    assert page.text('.presets a[aria-current="true"]') == "7d"  # the period shown instead
    page.screenshot("dashboard-bad-period")
    assert page.console_errors() == []


def field_value(page, name: str) -> str:
    return page.driver.find_element(By.NAME, name).get_attribute("value")


def set_date(page, name: str, day) -> None:
    """Type a date into a date field as a person does (en-US: month, day, year)."""
    field = page.driver.find_element(By.NAME, name)
    field.send_keys(f"{day:%m}{day:%d}{day:%Y}")
    assert field.get_attribute("value") == day.isoformat()


def test_the_health_dashboard_follows_the_services(page, settings):
    settings.PRODUCT_SERVICE_URL = settings.AUTH_SERVICE_URL = settings.PAYMENT_SERVICE_URL = ""
    StaffFactory(username="grace")
    page.sign_in("grace", "/dashboard/health/")
    page.wait(lambda: page.path() == "/dashboard/health/")
    assert page.text('[data-key="overall"]') == "OK"
    assert page.text('[data-key="database.status"]') == "Up"
    assert page.text('[data-key="redis.status"]') == "Up"
    assert page.text('[data-key="product.status"]') == "Not configured"
    first_update = page.text('[data-key="updated"]')

    with JsonService(healthy) as product:
        settings.PRODUCT_SERVICE_URL = product.url
        settings.PAYMENT_SERVICE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens
        page.wait(
            lambda: page.text('[data-key="payment.status"]') == "Down",
            REFRESH_WAIT_SECONDS,
            "the page did not refresh itself",
        )
        state = page.driver.find_element(By.CSS_SELECTOR, '[data-key="payment.status"]')
        assert state.get_attribute("data-state") == "bad"
        assert page.text('[data-key="product.status"]') == "Up"
        assert page.text('[data-key="overall"]') == "Degraded"
        assert page.text('[data-key="updated"]') != first_update
        panel = page.driver.find_element(By.ID, "panel-payment")
        assert panel.get_attribute("data-state") == "bad"
        page.screenshot("health-degraded")

    settings.PRODUCT_SERVICE_URL = settings.PAYMENT_SERVICE_URL = ""
    page.wait(lambda: page.text('[data-key="overall"]') == "OK", REFRESH_WAIT_SECONDS)
    page.screenshot("health")
    assert page.console_errors() == []


def test_the_admin_links_the_dashboards_and_lists_carts(page, shop):
    StaffFactory(username="root", is_superuser=True)
    page.sign_in("root", "/admin/")
    page.wait(lambda: page.path() == "/admin/")
    page.driver.find_element(By.LINK_TEXT, "Business metrics")
    page.screenshot("admin-index")
    page.open("/admin/carts/cart/")
    assert "Select cart to view" in page.driver.page_source or "cart" in page.driver.title
    page.screenshot("admin-carts")
    page.open("/admin/")
    page.driver.find_element(By.LINK_TEXT, "Service health").click()
    page.wait(lambda: page.path() == "/dashboard/health/")


def test_shoppers_and_visitors_are_refused(page):
    UserFactory(username="shopper")
    page.open("/dashboard/")
    assert page.path() == "/admin/login/?next=/dashboard/"
    page.sign_in("shopper", "/dashboard/")
    assert page.path().startswith("/admin/login/")
    assert "staff account" in page.text(".errornote")
    page.open("/dashboard/health/")
    assert page.path() == "/admin/login/?next=/dashboard/health/"
