"""Staff's discount codes through the HTTP API: /api/v1/discount-codes/."""

from datetime import timedelta
from decimal import Decimal
from unittest.mock import ANY

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from carts.models import CartDiscount, DiscountCode
from tests.factories import CartFactory, DiscountCodeFactory, ProductFactory
from tests.schema import assert_matches_schema, assert_ok, assert_problem

CODES = "/api/v1/discount-codes/"
PERCENT = {"code": "SPRING10", "kind": "percentage", "value": "10"}
FIXED = {"code": "FIVE-OFF", "kind": "fixed_amount", "value": "5.5", "currency": "EUR"}


def code_url(code_id) -> str:
    return f"{CODES}{code_id}/"


def on_a_cart(code: DiscountCode) -> None:
    cart = CartFactory(discount_count=1)
    CartDiscount.objects.create(cart=cart, code=code)


# Create


def test_staff_creates_a_percentage_code(staff_api):
    body = assert_ok(staff_api.post(CODES, PERCENT, format="json"), 201)
    assert body == {
        "id": ANY,
        "code": "SPRING10",
        "kind": "percentage",
        "value": "10.00",
        "currency": "",
        "min_subtotal": None,
        "starts_at": None,
        "ends_at": None,
        "max_uses": None,
        "max_uses_per_customer": None,
        "product_ids": [],
        "is_active": True,
        "times_used": 0,
        "discounted_total": "0.00",
        "batch": "",
        "created_at": ANY,
        "updated_at": ANY,
    }
    assert DiscountCode.objects.get(pk=body["id"]).value == Decimal("10.00")


def test_staff_creates_a_fixed_amount_code_with_every_field(staff_api):
    products = ProductFactory.create_batch(2)
    starts = timezone.now().replace(microsecond=0)
    body = {
        **FIXED,
        "min_subtotal": "20",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(days=7)).isoformat(),
        "max_uses": 100,
        "max_uses_per_customer": 1,
        "product_ids": [products[1].pk, products[0].pk],
        "is_active": False,
    }
    answer = assert_ok(staff_api.post(CODES, body, format="json"), 201)
    assert answer["value"] == "5.50"
    assert answer["currency"] == "EUR"
    assert answer["min_subtotal"] == "20.00"
    assert (answer["max_uses"], answer["max_uses_per_customer"]) == (100, 1)
    assert answer["product_ids"] == sorted(product.pk for product in products)
    assert answer["is_active"] is False
    code = DiscountCode.objects.get(pk=answer["id"])
    assert (code.starts_at, code.ends_at) == (starts, starts + timedelta(days=7))
    assert set(code.products.all()) == set(products)


def test_a_percentage_may_name_a_currency(staff_api):
    body = assert_ok(staff_api.post(CODES, {**PERCENT, "currency": "USD"}, format="json"), 201)
    assert body["currency"] == "USD"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"value": "100.01"}, None),
        ({"value": "0"}, "value"),
        ({"value": "-5"}, "value"),
        ({"value": "1.005"}, "value"),
        ({"value": "abc"}, "value"),
        ({"kind": "fixed_amount"}, None),  # a fixed amount without its currency
        ({"kind": "fixed_amount", "currency": ""}, None),
        ({"kind": "free_shipping"}, "kind"),
        ({"code": "NO SPACES"}, "code"),
        ({"code": "ÉTÉ"}, "code"),
        ({"code": ""}, "code"),
        ({"code": "X" * 65}, "code"),
        ({"currency": "eur"}, "currency"),
        ({"min_subtotal": "-1"}, "min_subtotal"),
        ({"max_uses": 0}, "max_uses"),
        ({"max_uses": "5"}, "max_uses"),
        ({"max_uses_per_customer": 1.5}, "max_uses_per_customer"),
        ({"product_ids": ["1"]}, "product_ids"),
        ({"product_ids": 1}, "product_ids"),
        ({"starts_at": "soon"}, "starts_at"),
        ({"times_used": 3}, "times_used"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_code_400(staff_api, db, change, field):
    response = staff_api.post(CODES, {**PERCENT, **change}, format="json")
    errors = assert_problem(response, 400, "invalid")["errors"]
    assert field in errors if field else errors
    assert not DiscountCode.objects.exists()


@pytest.mark.parametrize("missing", ["code", "kind", "value"])
def test_create_needs_code_kind_and_value(staff_api, db, missing):
    body = {name: value for name, value in PERCENT.items() if name != missing}
    assert missing in assert_problem(staff_api.post(CODES, body, format="json"), 400)["errors"]


def test_a_code_ends_after_it_starts(staff_api, db):
    now = timezone.now()
    body = {**PERCENT, "starts_at": now.isoformat(), "ends_at": now.isoformat()}
    assert assert_problem(staff_api.post(CODES, body, format="json"), 400, "invalid")["errors"]
    assert not DiscountCode.objects.exists()


def test_unknown_product_ids_400(staff_api, product):
    body = {**PERCENT, "product_ids": [product.pk, product.pk + 1000]}
    errors = assert_problem(staff_api.post(CODES, body, format="json"), 400, "invalid")["errors"]
    assert "product_ids" in errors
    assert not DiscountCode.objects.exists()


@pytest.mark.parametrize("spelling", ["SPRING10", "spring10", "Spring10"])
def test_a_code_spelt_the_same_in_any_case_409(staff_api, db, spelling):
    DiscountCodeFactory(code="SPRING10")
    response = staff_api.post(CODES, {**PERCENT, "code": spelling}, format="json")
    assert_problem(response, 409, "discount_code_taken")


@pytest.mark.parametrize("spelling", ["SPRING10", "spring10"])
def test_a_code_spelt_the_same_in_any_case_is_refused(staff_api, db, spelling):
    """Whatever the status (see the 409 test above), the code is not written twice."""
    DiscountCodeFactory(code="SPRING10")
    response = staff_api.post(CODES, {**PERCENT, "code": spelling}, format="json")
    assert response.status_code in (400, 409)
    assert_problem(response, response.status_code)
    assert DiscountCode.objects.filter(code__iexact="spring10").count() == 1


# Read and change


def test_staff_retrieves_a_code(staff_api):
    product = ProductFactory()
    code = DiscountCodeFactory()
    code.products.add(product)
    body = assert_ok(staff_api.get(code_url(code.pk)))
    assert (body["id"], body["code"], body["product_ids"]) == (code.pk, code.code, [product.pk])


@pytest.mark.parametrize("code_id", ["abc", "1.5", "-1", "99999999", str(2**63)])
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_unknown_code_404(staff_api, db, method, code_id):
    response = getattr(staff_api, method)(code_url(code_id), {"is_active": False}, format="json")
    assert_problem(response, 404)


def test_staff_changes_a_code(staff_api):
    products = ProductFactory.create_batch(2)
    code = DiscountCodeFactory(code="OLD")
    code.products.add(products[0])
    change = {
        "code": "New-Name_2",
        "kind": "fixed_amount",
        "value": "3.00",
        "currency": "EUR",
        "max_uses": 5,
        "product_ids": [products[1].pk],
    }
    body = assert_ok(staff_api.patch(code_url(code.pk), change, format="json"))
    assert body["code"] == "New-Name_2"
    assert (body["kind"], body["value"], body["currency"]) == ("fixed_amount", "3.00", "EUR")
    assert (body["max_uses"], body["product_ids"]) == (5, [products[1].pk])
    code.refresh_from_db()
    assert (code.code, code.value, list(code.products.all())) == (
        "New-Name_2",
        Decimal("3.00"),
        [products[1]],
    )


def test_a_change_leaves_other_fields_and_products_alone(staff_api, product):
    code = DiscountCodeFactory(min_subtotal=Decimal("15.00"))
    code.products.add(product)
    body = assert_ok(staff_api.patch(code_url(code.pk), {"is_active": False}, format="json"))
    assert (body["is_active"], body["min_subtotal"], body["product_ids"]) == (
        False,
        "15.00",
        [product.pk],
    )


def test_an_empty_product_list_discounts_every_product(staff_api, product):
    code = DiscountCodeFactory()
    code.products.add(product)
    body = assert_ok(staff_api.patch(code_url(code.pk), {"product_ids": []}, format="json"))
    assert body["product_ids"] == []
    assert not code.products.exists()


def test_a_change_clears_optional_fields_with_null(staff_api):
    code = DiscountCodeFactory(max_uses=3, min_subtotal=Decimal("1.00"), ends_at=timezone.now())
    change = {"max_uses": None, "min_subtotal": None, "ends_at": None}
    body = assert_ok(staff_api.patch(code_url(code.pk), change, format="json"))
    assert (body["max_uses"], body["min_subtotal"], body["ends_at"]) == (None, None, None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"value": "150"}, None),  # the code is a percentage
        ({"kind": "fixed_amount"}, None),  # and has no currency
        ({"code": "a/b"}, "code"),
        ({"product_ids": [999_999]}, "product_ids"),
        ({"is_active": "maybe"}, "is_active"),
        ({"times_used": 0}, "times_used"),
    ],
)
def test_invalid_change_400(staff_api, db, change, field):
    code = DiscountCodeFactory()
    response = staff_api.patch(code_url(code.pk), change, format="json")
    errors = assert_problem(response, 400, "invalid")["errors"]
    assert field in errors if field else errors
    assert DiscountCode.objects.get().updated_at == code.updated_at


def test_a_change_ending_a_code_before_it_starts_400(staff_api, db):
    code = DiscountCodeFactory(starts_at=timezone.now())
    change = {"ends_at": (code.starts_at - timedelta(hours=1)).isoformat()}
    assert_problem(staff_api.patch(code_url(code.pk), change, format="json"), 400, "invalid")
    code.refresh_from_db()
    assert code.ends_at is None


def test_max_uses_cannot_go_below_the_uses_counted_and_held(staff_api, db):
    code = DiscountCodeFactory(max_uses=10)
    DiscountCode.objects.filter(pk=code.pk).update(times_used=3, uses_held=1)
    assert_problem(staff_api.patch(code_url(code.pk), {"max_uses": 3}, format="json"), 400)
    assert (
        assert_ok(staff_api.patch(code_url(code.pk), {"max_uses": 4}, format="json"))["max_uses"]
        == 4
    )


def test_renaming_to_a_taken_code_409(staff_api, db):
    DiscountCodeFactory(code="TAKEN")
    code = DiscountCodeFactory(code="MINE")
    response = staff_api.patch(code_url(code.pk), {"code": "taken"}, format="json")
    assert_problem(response, 409, "discount_code_taken")


def test_renaming_to_another_case_of_itself_is_fine(staff_api, db):
    code = DiscountCodeFactory(code="MINE")
    body = assert_ok(staff_api.patch(code_url(code.pk), {"code": "Mine"}, format="json"))
    assert body["code"] == "Mine"


# List


@pytest.fixture
def codes(db):
    """Three codes, created an hour apart, newest last."""
    now = timezone.now()
    return {
        "old": DiscountCodeFactory(code="WINTER-5", created_at=now - timedelta(hours=2)),
        "fixed": DiscountCodeFactory(
            code="TEN-EUR",
            kind="fixed_amount",
            currency="EUR",
            batch="promo-1",
            created_at=now - timedelta(hours=1),
        ),
        "off": DiscountCodeFactory(code="winter-20", is_active=False, batch="promo-1"),
    }


def ids(body: dict) -> list[int]:
    return [code["id"] for code in body["results"]]


def test_staff_lists_codes_newest_first(staff_api, codes):
    body = assert_ok(staff_api.get(CODES))
    assert body["count"] == 3
    assert ids(body) == [codes[name].pk for name in ("off", "fixed", "old")]


def test_the_list_is_paginated(staff_api, codes):
    first = assert_ok(staff_api.get(CODES, {"page_size": 2}))
    assert (first["count"], len(first["results"]), first["previous"]) == (3, 2, None)
    second = assert_ok(staff_api.get(first["next"]))
    assert ids(second) == [codes["old"].pk]
    assert_problem(staff_api.get(CODES, {"page": 3, "page_size": 2}), 404)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"is_active": "true"}, {"old", "fixed"}),
        ({"is_active": "false"}, {"off"}),
        ({"batch": "promo-1"}, {"fixed", "off"}),
        ({"batch": "promo"}, set()),
        ({"kind": "fixed_amount"}, {"fixed"}),
        ({"kind": "percentage"}, {"old", "off"}),
        ({"search": "winter"}, {"old", "off"}),
        ({"search": "EUR"}, {"fixed"}),
        ({"search": "winter", "is_active": "true"}, {"old"}),
        ({"batch": "promo-1", "kind": "percentage"}, {"off"}),
    ],
)
def test_list_filters_and_search(staff_api, codes, query, expected):
    body = assert_ok(staff_api.get(CODES, query))
    assert set(ids(body)) == {codes[name].pk for name in expected}


def test_list_unknown_kind_400(staff_api, codes):
    errors = assert_problem(staff_api.get(CODES, {"kind": "free"}), 400, "invalid")["errors"]
    assert "kind" in errors


def test_list_reads_a_page_in_a_fixed_number_of_queries(staff_api, db):
    products = ProductFactory.create_batch(3)
    for _ in range(15):
        DiscountCodeFactory().products.add(*products)
    with CaptureQueriesContext(connection) as queries:
        body = assert_ok(staff_api.get(CODES, {"page_size": 10}))
    assert len(body["results"]) == 10
    assert all(len(code["product_ids"]) == 3 for code in body["results"])
    # The staff check, the count, the page, its products.
    assert len(queries) <= 4, [query["sql"] for query in queries]


# Delete


def test_deleting_an_unused_code_deletes_it(staff_api, db):
    code = DiscountCodeFactory()
    response = staff_api.delete(code_url(code.pk))
    assert response.status_code == 204
    assert not response.content
    assert_matches_schema(response)
    assert not DiscountCode.objects.filter(pk=code.pk).exists()
    assert_problem(staff_api.get(code_url(code.pk)), 404)


def test_deleting_a_code_on_a_cart_deactivates_it(staff_api, db):
    code = DiscountCodeFactory()
    on_a_cart(code)
    body = assert_ok(staff_api.delete(code_url(code.pk)))
    assert (body["id"], body["is_active"]) == (code.pk, False)
    code.refresh_from_db()
    assert code.is_active is False
    assert CartDiscount.objects.filter(code=code).exists()
    assert assert_ok(staff_api.get(code_url(code.pk)))["is_active"] is False


def test_deleting_a_used_code_deactivates_it(staff_api, db):
    code = DiscountCodeFactory()
    DiscountCode.objects.filter(pk=code.pk).update(times_used=1)
    assert assert_ok(staff_api.delete(code_url(code.pk)))["is_active"] is False
    assert DiscountCode.objects.filter(pk=code.pk, is_active=False).exists()


# Who may


@pytest.mark.parametrize(
    ("method", "detail"),
    [("get", False), ("post", False), ("get", True), ("patch", True), ("delete", True)],
)
@pytest.mark.parametrize(
    ("client", "status", "code"),
    [("api", 401, "not_authenticated"), ("user_api", 403, "permission_denied")],
)
def test_discount_codes_need_staff(request, db, method, detail, client, status, code):
    existing = DiscountCodeFactory(code="KEEP")
    path = code_url(existing.pk) if detail else CODES
    client = request.getfixturevalue(client)
    response = getattr(client, method)(path, {**PERCENT, "value": "99"}, format="json")
    assert_problem(response, status, code)
    assert list(DiscountCode.objects.values_list("code", "value", "is_active")) == [
        ("KEEP", Decimal("10.00"), True)
    ]
