"""Every staff page fits a phone (390 px) and a wide screen (1440 px), in headless Chromium.

The admin's index, each app's index and change list, a change page of each model with data,
the business dashboard for each period preset and a custom period, the health page and the
API docs, after a shop has been used through the API (17 carts: guests and signed-in
shoppers, lines with attributes, a discount code, checkouts). A page fails if the document is
wider than the screen, or if any text overflows its box: wider than the element holding it,
sticking out of its parent, or cut off by an ancestor that hides what overflows. A table that
scrolls inside a box of its own (overflow-x: auto) is fine; a page wider than the screen is
not. Every page is saved as a screenshot at both widths, `.local/screenshots/<page>-<width>.png`
(git-ignored), to look at.
"""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken
from selenium.webdriver.common.by import By

from events.models import WebhookEndpoint
from tests.conftest import bearer
from tests.dashboard.conftest import _static_files_without_manifest  # noqa: F401
from tests.dashboard.test_browser import browser, page  # noqa: F401
from tests.factories import DiscountCodeFactory, ProductFactory, StaffFactory, UserFactory
from tests.live import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = ROOT / ".local" / "screenshots"
WIDTHS = (390, 1440)

# Runs in the page; answers the document's widths and a line for each text that overflows.
FIT_CHECK = """
const root = document.documentElement;
const problems = [];
const scrolls = (style) => ["auto", "scroll"].includes(style.overflowX);
const clips = (style) => ["hidden", "clip"].includes(style.overflowX);
const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
  + [...el.classList].map((c) => "." + c).join("");
// Hidden on purpose: visually-hidden text for screen readers, text moved off an icon button.
const hidden = (style, rect) => style.visibility === "hidden" || rect.width <= 1
  || rect.height <= 1 || style.clip !== "auto" || style.clipPath !== "none"
  || parseFloat(style.textIndent) < -100;
const outside = (rect, box) => rect.left < box.left - 1 || rect.right > box.right + 1;
for (const el of document.body.querySelectorAll("*")) {
  // Chart labels are drawn in SVG; a list box's options scroll inside it.
  if (el.closest("svg, select")) continue;
  const text = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE)
    .map((n) => n.textContent).join("").trim();
  if (!text) continue;
  const style = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  if (hidden(style, rect)) continue;
  const what = `${name(el)} "${text.slice(0, 50)}"`;
  if (!scrolls(style) && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
    problems.push(`${what} is ${el.scrollWidth} px wide in a ${el.clientWidth} px box`);
    continue;
  }
  const parent = el.parentElement;
  if (parent !== document.body && !["absolute", "fixed"].includes(style.position)
      && !scrolls(getComputedStyle(parent)) && outside(rect, parent.getBoundingClientRect())) {
    problems.push(`${what} sticks out of ${name(parent)}`);
    continue;
  }
  for (let up = parent; up !== document.body; up = up.parentElement) {
    const upStyle = getComputedStyle(up);
    if (scrolls(upStyle)) break;
    if (!clips(upStyle)) continue;
    const box = up.getBoundingClientRect();
    if (!hidden(upStyle, box) && outside(rect, box)) {
      problems.push(`${what} is cut off by ${name(up)}`);
    }
    break;
  }
}
return {width: root.scrollWidth, screen: root.clientWidth, problems: problems};
"""


def shop_through_the_api() -> None:
    """A shop after a morning's use: 17 carts made through the API as shoppers make them,
    some with a discount code, some checked out; tokens, one revoked; a group and a webhook."""
    products = [
        ProductFactory(sku="TEE-BLK-M", name="Black T-shirt, M", price=Decimal("19.90")),
        ProductFactory(sku="MUG-CER", name="Ceramic mug", price=Decimal("5.00")),
        ProductFactory(sku="BOTTLE-STL", name="Steel water bottle", price=Decimal("24.50")),
        ProductFactory(
            sku="HOOD-ORG-XXL",
            name="Organic cotton hooded sweatshirt with a kangaroo pocket, XXL",
            price=Decimal("1249.00"),
        ),
    ]
    DiscountCodeFactory(code="WELCOME10")
    for number in range(17):
        client = APIClient()
        if number % 3 == 0:
            user = UserFactory(username=f"shopper{number:02d}", email=f"s{number}@example.com")
            client.credentials(HTTP_AUTHORIZATION=bearer(user))
        for line, product in enumerate(products[: 1 + number % len(products)]):
            body = {"product_id": product.pk, "quantity": 1 + line}
            if line == 1:
                body["attributes"] = {"size": "M", "engraving": "For Ada, with love"}
            response = client.post("/api/v1/cart/items/", body, format="json")
            assert response.status_code == 201, response.content
            if "X-Session-ID" in response:
                client.credentials(HTTP_X_SESSION_ID=response["X-Session-ID"])
        if number % 4 == 0:
            body = {"code": "WELCOME10"}
            response = client.post("/api/v1/cart/discount-codes/", body, format="json")
            assert response.status_code == 200, response.content
        if number % 2 == 0:
            key = {"Idempotency-Key": f"checkout-{number}"}
            response = client.post("/api/v1/cart/checkout/", {}, format="json", headers=key)
            assert response.status_code == 200, response.content
    RefreshToken.for_user(UserFactory(username="signed-out")).blacklist()
    Group.objects.create(name="Support")
    WebhookEndpoint.objects.create(
        url="https://orders.example.com/hooks/addtocart", events=["*"], secret="s"
    )
    cache.clear()  # the API's rate-limit counters


def fit_problems(driver) -> tuple[int, int, list[str]]:
    found = driver.execute_script(FIT_CHECK)
    return found["width"], found["screen"], found["problems"]


def at_width(driver, width: int, height: int = 900) -> None:
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 800}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def check_and_save(browsed, name: str, path: str, *, ready: str = "body") -> list[str]:
    """The page at each width: what does not fit, and its screenshot."""
    driver, problems = browsed.driver, []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        at_width(driver, width)
        browsed.open(path)
        browsed.wait(lambda: driver.find_elements(By.CSS_SELECTOR, ready), message=path)
        document, screen, overflowing = fit_problems(driver)
        if document > screen:
            problems.append(f"{name} at {width} px: the page is {document} px wide")
        problems += [f"{name} at {width} px: {problem}" for problem in overflowing]
        height = driver.execute_script("return document.documentElement.scrollHeight")
        at_width(driver, width, min(height, 8000))
        assert driver.save_screenshot(str(SCREENSHOTS / f"{name}-{width}.png"))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return problems


def admin_pages(browsed) -> list[tuple[str, str]]:
    """The admin index, each app's index, each model's change list and, for each model with
    data, the change page of its first row, as the index links them."""
    browsed.open("/admin/")
    modules = "#content-main div.module[class*='app-'] a"  # not the dashboards above them
    links = browsed.driver.find_elements(By.CSS_SELECTOR, modules)
    hrefs = [link.get_attribute("href").removeprefix(browsed.url) for link in links]
    hrefs = list(dict.fromkeys(hrefs))  # a model's name and its "View" link go to one list
    apps = [href for href in hrefs if href.count("/") == 3]  # /admin/carts/
    lists = [href for href in hrefs if href.count("/") == 4]  # /admin/carts/cart/
    pages = [("admin-index", "/admin/")]
    pages += [(f"admin-{href.split('/')[2]}", href) for href in apps]
    for href in lists:
        name = "admin-" + "-".join(href.split("/")[2:4])
        pages.append((name, href))
        browsed.open(href)
        rows = browsed.driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
        if rows:
            first = rows[0].find_element(By.CSS_SELECTOR, "a[href$='/change/']")
            pages.append((f"{name}-change", first.get_attribute("href").removeprefix(browsed.url)))
    return pages


def test_every_staff_page_fits_a_phone_and_a_wide_screen(page):  # noqa: F811
    shop_through_the_api()
    StaffFactory(username="root", is_superuser=True)
    problems = check_and_save(page, "admin-login", "/admin/login/")
    page.sign_in("root", "/admin/")
    pages = admin_pages(page)
    models = {name for name, _ in pages if name.endswith("-change")}
    # Each model with data has its change page checked: the data above gives every model some.
    assert {
        "admin-auth-group-change",
        "admin-auth-user-change",
        "admin-carts-cart-change",
        "admin-carts-discountcode-change",
        "admin-carts-product-change",
        "admin-events-event-change",
        "admin-events-webhookendpoint-change",
        "admin-token_blacklist-blacklistedtoken-change",
        "admin-token_blacklist-outstandingtoken-change",
    } <= models, models
    pages += [(f"dashboard-business-{p}", f"/dashboard/?period={p}") for p in ("24h", "7d", "30d")]
    pages += [
        ("dashboard-business-custom", "/dashboard/?from=2026-01-01&to=2026-03-31"),
        ("dashboard-health", "/dashboard/health/"),
    ]
    for name, path in pages:
        problems += check_and_save(page, name, path)
    problems += check_and_save(page, "api-docs", "/api/v1/docs/", ready=".opblock")
    assert problems == [], "\n".join(problems)
