"""Discount codes' admin in headless Chromium against a live server: a staff member generates
a batch through the form (picking a product by search) and sees its codes listed.

The browser, the live server and the static files are the dashboards' (tests/dashboard).
"""

import re

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from carts.models import DiscountCode
from tests.dashboard.conftest import _static_files_without_manifest  # noqa: F401
from tests.dashboard.test_browser import browser, page  # noqa: F401
from tests.factories import ProductFactory, StaffFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CODES = "/admin/carts/discountcode/"


def test_a_staff_member_generates_a_batch_and_sees_its_codes(page):  # noqa: F811
    StaffFactory(username="root", is_superuser=True)
    mug = ProductFactory(sku="MUG-01", name="Blue mug")
    ProductFactory(sku="CAP-01", name="Cap")
    page.sign_in("root", CODES)
    page.wait(lambda: page.path() == CODES, message="not taken to the discount codes")
    generate = page.driver.find_element(
        By.CSS_SELECTOR, f'.object-tools a[href="{CODES}generate/"]'
    )
    assert generate.text.lower() == "generate a batch"  # the admin's buttons are upper case
    generate.click()
    page.wait(lambda: page.path() == f"{CODES}generate/")
    assert page.driver.find_element(By.NAME, "count").get_attribute("value") == "1000"

    page.driver.find_element(By.NAME, "prefix").send_keys("EASTER-")
    count = page.driver.find_element(By.NAME, "count")
    count.clear()
    count.send_keys("25")
    Select(page.driver.find_element(By.NAME, "kind")).select_by_value("percentage")
    page.driver.find_element(By.NAME, "value").send_keys("15")
    page.driver.find_element(By.CSS_SELECTOR, ".field-products .select2-selection").click()
    page.driver.find_element(By.CSS_SELECTOR, ".select2-search__field").send_keys("mug")
    option = ".select2-results__option"
    page.wait(
        lambda: (
            [o.text for o in page.driver.find_elements(By.CSS_SELECTOR, option)]
            == ["MUG-01 Blue mug"]
        ),
        message="the product search did not offer the mug alone",
    )
    page.driver.find_element(By.CSS_SELECTOR, option).click()
    page.screenshot("admin-discount-batch-form")
    page.driver.find_element(By.CSS_SELECTOR, "#discount-batch-form input[type=submit]").click()

    page.wait(lambda: page.path().startswith(f"{CODES}?batch=EASTER-"), message="no batch list")
    batch = page.path().removeprefix(f"{CODES}?batch=")
    assert re.fullmatch(r"EASTER-\d{14}", batch)
    shown = [cell.text for cell in page.driver.find_elements(By.CSS_SELECTOR, ".field-code")]
    codes = DiscountCode.objects.filter(batch=batch)
    assert sorted(shown) == sorted(codes.values_list("code", flat=True))
    assert len(shown) == 25
    assert all(code.startswith("EASTER-") for code in shown)
    assert {tuple(code.products.all()) for code in codes} == {(mug,)}
    assert "Generated 25 single-use codes" in page.text(".messagelist")
    download = page.driver.find_element(By.CSS_SELECTOR, ".object-tools li:first-child a")
    assert download.text.lower() == "download this batch as csv"
    assert download.get_attribute("href").endswith(f"{CODES}export/?batch={batch}")
    page.screenshot("admin-discount-batch")
    assert page.console_errors() == []
