"""The Django admin of discount codes: the form through the services, batches of single-use
codes and their CSV, deleting a used code deactivating it, fixed query counts per page, and
the discounts on a cart's page."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from carts.db.document import cart_document
from carts.db.statements import cart_lines_read
from carts.domain import CartState
from carts.models import Cart, CartDiscount, DiscountCode
from tests.carts.test_admin import CARTS, flashed, listed, row_cells
from tests.factories import (
    CartFactory,
    CartItemFactory,
    DiscountCodeFactory,
    ProductFactory,
    UserFactory,
)

CODES = "/admin/carts/discountcode/"
GENERATE = f"{CODES}generate/"
EXPORT = f"{CODES}export/"
CSV_HEADER = ["code", "kind", "value", "currency", "min_subtotal", "starts_at", "ends_at"]
CSV_HEADER += ["max_uses", "times_used", "is_active", "batch"]
VALUE_RULE = "A percentage is from 0.01 to 100; a fixed amount is above 0 and has a currency."


@pytest.fixture
def web(db):
    """The Django test client, signed in as a superuser."""
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def code_form(saved: DiscountCode | None = None, /, **changes) -> dict:
    """The change form's fields, as the page would post them (`changes` as posted)."""
    values = {"code": "SPRING10", "kind": "percentage", "value": "10.00", "is_active": "on"}
    if saved is not None:
        values = {name: str(getattr(saved, name)) for name in ["code", "kind", "value"]}
        values["currency"] = saved.currency
        values["is_active"] = "on" if saved.is_active else ""
        values["max_uses"] = "" if saved.max_uses is None else str(saved.max_uses)
        values["products"] = [product.pk for product in saved.products.all()]
    values.update(changes)
    return {name: value for name, value in values.items() if value not in ("", [])}


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# The form: created and changed through the services, refused with the model's messages.


def test_the_add_form_creates_a_code_with_its_products(web):
    mug, cap = ProductFactory(name="Mug"), ProductFactory(name="Cap")
    assert web.get(f"{CODES}add/").status_code == 200
    form = code_form(
        kind="fixed_amount",
        value="5.00",
        currency="EUR",
        min_subtotal="20.00",
        starts_at_0="2030-01-01",
        starts_at_1="00:00:00",
        ends_at_0="2030-02-01",
        ends_at_1="00:00:00",
        max_uses="100",
        max_uses_per_customer="1",
        products=[mug.pk, cap.pk],
    )
    response = web.post(f"{CODES}add/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    code = DiscountCode.objects.get(code="SPRING10")
    assert (code.kind, code.value, code.currency) == ("fixed_amount", Decimal("5.00"), "EUR")
    assert (code.min_subtotal, code.max_uses, code.max_uses_per_customer) == (20, 100, 1)
    assert code.starts_at.isoformat() == "2030-01-01T00:00:00+00:00"
    assert set(code.products.all()) == {mug, cap}
    entry = LogEntry.objects.get(object_id=str(code.pk))
    assert entry.is_addition()


def test_the_change_form_writes_only_what_staff_changed(web):
    mug = ProductFactory()
    code = DiscountCodeFactory(code="SAVE10", max_uses=10)
    page = web.get(f"{CODES}{code.pk}/change/").content.decode()
    assert 'name="code"' in page
    assert 'name="times_used"' not in page  # the counters are read-only
    assert "admin-autocomplete" in page  # products are picked by search
    form = code_form(code, value="15.00", products=[mug.pk])
    DiscountCode.objects.filter(pk=code.pk).update(times_used=4)  # checkouts meanwhile
    response = web.post(f"{CODES}{code.pk}/change/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    code.refresh_from_db()
    assert (code.value, code.times_used, list(code.products.all())) == (15, 4, [mug])


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"value": "150"}, VALUE_RULE),
        ({"kind": "fixed_amount", "value": "5"}, VALUE_RULE),
        ({"code": "save10"}, "Another code is spelt the same (codes ignore case)."),
        ({"code": "no spaces"}, "Use letters, digits, &#x27;-&#x27; and &#x27;_&#x27;"),
        (
            {
                "starts_at_0": "2030-02-01",
                "starts_at_1": "00:00:00",
                "ends_at_0": "2030-01-01",
                "ends_at_1": "00:00:00",
            },
            "A code ends after it starts.",
        ),
    ],
)
def test_the_form_refuses_a_code_breaking_its_rules(web, changes, error):
    DiscountCodeFactory(code="SAVE10")
    response = web.post(f"{CODES}add/", code_form(**changes))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert set(DiscountCode.objects.values_list("code", flat=True)) == {"SAVE10"}


def test_the_change_form_refuses_max_uses_below_the_uses_counted_and_held(web):
    code = DiscountCodeFactory(code="SAVE10", max_uses=10, times_used=4, uses_held=2)
    response = web.post(f"{CODES}{code.pk}/change/", code_form(code, max_uses="5"))
    assert response.status_code == 200
    assert "max_uses cannot be below the uses already counted" in response.content.decode()
    code.refresh_from_db()
    assert code.max_uses == 10
    response = web.post(f"{CODES}{code.pk}/change/", code_form(code, max_uses="6"))
    assert response.status_code == 302
    code.refresh_from_db()
    assert code.max_uses == 6


# Batches.


BATCH_QUERIES = 40  # a third of them savepoints around checking the model's constraints


def test_a_batch_of_1000_single_use_codes_in_a_few_queries(web, django_assert_max_num_queries):
    mug = ProductFactory()
    page = web.get(GENERATE).content.decode()
    assert 'name="count"' in page
    assert 'value="1000"' in page  # the default count
    form = {"kind": "percentage", "value": "20", "products": [mug.pk]}
    with django_assert_max_num_queries(BATCH_QUERIES) as ten:
        web.post(GENERATE, {**form, "prefix": "TEN-", "count": "10"})
    with django_assert_max_num_queries(BATCH_QUERIES) as thousand:
        response = web.post(GENERATE, {**form, "prefix": "SPRING-", "count": "1000"})
    assert len(thousand) == len(ten)  # one INSERT of the codes, one of their products
    assert response.status_code == 302
    codes = DiscountCode.objects.filter(code__startswith="SPRING-")
    batch = codes.first().batch
    assert re.fullmatch(r"SPRING-\d{14}", batch)
    assert response["Location"] == f"{CODES}?batch={batch}"
    assert codes.count() == 1000
    assert len({code.upper() for code in codes.values_list("code", flat=True)}) == 1000
    assert set(codes.values_list("max_uses", "batch", "value", "is_active").distinct()) == {
        (1, batch, Decimal("20.00"), True)
    }
    links = DiscountCode.products.through.objects.filter(discountcode__batch=batch)
    assert sorted(links.values_list("product_id", flat=True)) == [mug.pk] * 1000

    listing = web.get(response["Location"])
    assert listing.context["cl"].result_count == 1000
    html = listing.content.decode()
    assert f'href="{EXPORT}?batch={batch}"' in html  # the batch's download
    assert "Generated 1000 single-use codes" in " ".join(flashed(response))


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"count": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"count": "10001"}, "Ensure this value is less than or equal to 10000."),
        ({"prefix": "no spaces"}, "Use letters, digits"),
        ({"kind": "fixed_amount", "value": "5"}, VALUE_RULE),
        ({"value": "0"}, VALUE_RULE),
    ],
)
def test_the_batch_form_refuses_bad_terms(web, changes, error):
    form = {"prefix": "X", "count": "10", "kind": "percentage", "value": "20", **changes}
    response = web.post(GENERATE, form)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not DiscountCode.objects.exists()


def test_a_batch_exported_as_csv(web):
    web.post(GENERATE, {"prefix": "-HACK", "count": "25", "kind": "percentage", "value": "5"})
    batch = DiscountCode.objects.values_list("batch", flat=True).first()
    DiscountCodeFactory(code="ELSEWHERE")
    response = web.get(EXPORT, {"batch": batch})
    assert re.fullmatch(
        r'attachment; filename="discount-codes--HACK-\d{14}\.csv"',
        response["Content-Disposition"],
    )
    rows = csv_rows(response)
    assert rows[0] == CSV_HEADER
    assert len(rows) == 26
    for row in rows[1:]:
        # A code or batch starting "-" is a formula to a spreadsheet: quoted.
        assert row[0].startswith("'-HACK")
        assert row[10] == f"'{batch}"
        assert row[1:5] == ["percentage", "5.00", "", ""]
        assert row[7:10] == ["1", "0", "True"]
    assert web.get(EXPORT).status_code == 400


def test_the_export_action_writes_the_selected_codes(web):
    ends = timezone.now() + timedelta(days=3)
    chosen = DiscountCodeFactory(
        code="A1", kind="fixed_amount", value=5, currency="EUR", ends_at=ends
    )
    DiscountCodeFactory(code="B2")
    data = {"action": "export_csv", "index": "0", "_selected_action": [chosen.pk]}
    rows = csv_rows(web.post(CODES, data))
    assert rows == [
        CSV_HEADER,
        ["A1", "fixed_amount", "5.00", "EUR", "", "", ends.isoformat(), "", "0", "True", ""],
    ]


# Deleting.


def test_deleting_a_used_code_deactivates_it(web):
    used = DiscountCodeFactory(code="USED", times_used=1)
    response = web.post(f"{CODES}{used.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    used.refresh_from_db()
    assert used.is_active is False
    assert flashed(response) == ["“USED” was deactivated, not deleted: it was used or on a cart."]
    assert LogEntry.objects.get(object_id=str(used.pk)).action_flag == CHANGE


def test_deleting_a_code_on_a_cart_deactivates_it_and_an_unused_one_goes(web):
    on_cart, unused = DiscountCodeFactory(code="ONCART"), DiscountCodeFactory(code="UNUSED")
    CartDiscount.objects.create(cart=CartFactory(), code=on_cart)
    page = web.get(f"{CODES}{on_cart.pk}/delete/").content.decode()
    assert "Cannot delete" not in page  # no cart protects it: it is deactivated instead
    response = web.post(f"{CODES}{unused.pk}/delete/", {"post": "yes"})
    assert flashed(response) == ["The discount code “UNUSED” was deleted successfully."]
    assert not DiscountCode.objects.filter(pk=unused.pk).exists()
    web.post(f"{CODES}{on_cart.pk}/delete/", {"post": "yes"})
    assert DiscountCode.objects.get(pk=on_cart.pk).is_active is False


def test_deleting_selected_codes_deactivates_the_used_ones(web):
    used, on_cart, unused = (
        DiscountCodeFactory(code="USED", uses_held=1),
        DiscountCodeFactory(code="ONCART"),
        DiscountCodeFactory(code="NEW"),
    )
    CartDiscount.objects.create(cart=CartFactory(), code=on_cart)
    selected = {"action": "delete_selected", "_selected_action": [used.pk, on_cart.pk, unused.pk]}
    assert "Are you sure" in web.post(CODES, selected).content.decode()
    response = web.post(CODES, {**selected, "post": "yes"})
    assert response.status_code == 302
    assert flashed(response) == [  # newest first, as listed
        "Deleted 1 discount code(s). Deactivated 2 instead (used or on a cart): ONCART, USED."
    ]
    assert dict(DiscountCode.objects.values_list("code", "is_active")) == {
        "USED": False,
        "ONCART": False,
    }
    flags = set(LogEntry.objects.values_list("object_repr", "action_flag"))
    assert flags == {("USED", CHANGE), ("ONCART", CHANGE), ("NEW", DELETION)}


# The changelist.


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "summ"}, {"SUMMER"}),
        ({"state": "running"}, {"SUMMER", "FIXED"}),
        ({"state": "not_started"}, {"LATER"}),
        ({"state": "ended"}, {"OVER"}),
        ({"is_active__exact": "0"}, {"OFF"}),
        ({"kind__exact": "fixed_amount"}, {"FIXED"}),
        ({"batch": "none"}, {"SUMMER", "FIXED", "LATER", "OVER", "OFF", "GONE"}),
        ({"batch": "VIP-20300101000000"}, {"VIP1"}),
    ],
)
def test_changelist_search_and_filters(web, query, expected):
    now = timezone.now()
    DiscountCodeFactory(code="SUMMER")
    DiscountCodeFactory(code="FIXED", kind="fixed_amount", value=5, currency="EUR")
    DiscountCodeFactory(code="LATER", starts_at=now + timedelta(days=1))
    DiscountCodeFactory(code="OVER", ends_at=now - timedelta(days=1))
    DiscountCodeFactory(code="OFF", is_active=False)
    DiscountCodeFactory(code="GONE", max_uses=2, times_used=2)
    DiscountCodeFactory(code="VIP1", batch="VIP-20300101000000", max_uses=1, times_used=1)
    found = listed(web.get(CODES, query))
    assert {code.code for code in DiscountCode.objects.filter(pk__in=found)} == expected


def test_changelist_shows_the_columns_and_the_batch_button(web):
    DiscountCodeFactory(code="SUMMER", max_uses=50, times_used=3, discounted_total=Decimal("12.50"))
    response = web.get(CODES)
    cells = row_cells(response, ">SUMMER<")
    assert (cells["kind"], cells["value"], cells["times_used"]) == ("Percentage", "10.00", "3")
    assert (cells["max_uses"], cells["discounted_total"]) == ("50", "12.50")
    assert {"currency", "is_active", "starts_at", "ends_at", "batch"} <= cells.keys()
    assert f'href="{GENERATE}"' in response.content.decode()
    assert 'value="export_csv"' in response.content.decode()


CODE_LIST_QUERIES = 5  # session, user, the batch filter's batches, count, the page


def test_changelist_makes_the_same_queries_for_5_and_60_codes(web, django_assert_max_num_queries):
    for n in range(5):
        DiscountCodeFactory(code=f"FEW{n}", batch=f"B{n % 2}-20300101000000")
    with django_assert_max_num_queries(CODE_LIST_QUERIES) as few:
        assert web.get(CODES).status_code == 200
    for n in range(55):
        DiscountCodeFactory(code=f"MANY{n}", batch=f"B{n % 7}-20300101000000")
    with django_assert_max_num_queries(CODE_LIST_QUERIES) as many:
        response = web.get(CODES)
    assert len(response.context["cl"].result_list) == 60
    assert len(few) == len(many)


def test_staff_who_may_only_view_codes_export_but_do_not_generate(db):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_discountcode"))
    viewer = Client()
    viewer.force_login(user)
    DiscountCodeFactory(code="SEEN", batch="B-20300101000000")
    assert viewer.get(CODES).status_code == 200
    assert f'href="{GENERATE}"' not in viewer.get(CODES).content.decode()
    assert viewer.get(GENERATE).status_code == 403
    assert len(csv_rows(viewer.get(EXPORT, {"batch": "B-20300101000000"}))) == 2


# The cart's page.


def shown(html: str, label: str) -> str:
    """The text of a read-only field of a change page."""
    return re.search(rf'{label}:</label>\s*<div class="readonly">([^<]*)<', html).group(1)


def test_the_cart_page_shows_its_discounts_as_the_cart_document_does(web):
    tee = ProductFactory(sku="TEE", name="T-shirt", price=Decimal("20.00"))
    mug = ProductFactory(sku="MUG", name="Mug", price=Decimal("5.00"))
    cart = CartFactory()
    CartItemFactory(cart=cart, product=tee, quantity=2)
    CartItemFactory(cart=cart, product=mug, quantity=1)
    tees_only = DiscountCodeFactory(code="TEES10")
    tees_only.products.set([tee])
    CartDiscount.objects.create(cart=cart, code=tees_only)
    CartDiscount.objects.create(cart=cart, code=DiscountCodeFactory(code="BIG", min_subtotal=100))
    cart.discount_count = 2
    cart.save()
    document = cart_document(CartState(cart, cart_lines_read(cart=cart)))
    assert (document["discount_total"], document["estimated_total"]) == ("4.00", "41.00")

    html = web.get(f"{CARTS}{cart.pk}/change/").content.decode()
    codes = re.findall(r"<tr><td>(\w+)</td>((?:<td>[^<]*</td>)+)</tr>", html)
    assert [(code, re.findall(r"<td>([^<]*)</td>", cells)) for code, cells in codes] == [
        ("TEES10", ["percentage", "10.00", "4.00", "True", ""]),
        ("BIG", ["percentage", "10.00", "0.00", "False", "min_subtotal_not_met"]),
    ]
    assert "<tr><td>TEE T-shirt</td><td>40.00</td><td>4.00</td></tr>" in html
    assert "<tr><td>MUG Mug</td><td>5.00</td><td>0.00</td></tr>" in html
    assert shown(html, "Discount total") == "4.00 EUR"
    assert shown(html, "Estimated total") == "41.00 EUR"


def test_a_cart_without_codes_shows_none(web):
    cart = CartItemFactory(quantity=3).cart
    html = web.get(f"{CARTS}{cart.pk}/change/").content.decode()
    assert shown(html, "Discounts") == "None"
    assert shown(html, "Estimated total") == "30.00 EUR"
    assert Cart.objects.get(pk=cart.pk).discount_count == 0
