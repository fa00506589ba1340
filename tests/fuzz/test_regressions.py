"""What fuzzing the API against its schema found (tests/fuzz/test_schema.py), kept fixed.

Each test is the smallest request Schemathesis reported, answered as documented now.
"""

import pytest

from tests.factories import CartFactory
from tests.schema import assert_ok, assert_problem

PRODUCTS = "/api/v1/products/"
CARTS = "/api/v1/carts/"


@pytest.mark.parametrize("path", [PRODUCTS, CARTS])
@pytest.mark.parametrize("page", ["0", "2", "last-but-one"])
def test_a_page_that_does_not_exist_is_a_documented_404(staff_api, path, page):
    # Was: 404 "Invalid page." from the paginator, not documented for the list operations.
    assert_problem(staff_api.get(path, {"page": page}), 404, "not_found")


def test_a_search_with_a_null_character_is_a_documented_400(api, db):
    # Was: 400 "Null characters are not allowed." from DRF's search, not documented.
    body = assert_problem(api.get(PRODUCTS, {"search": "mug\x00"}), 400, "invalid")
    assert body["errors"] == {"non_field_errors": ["Null characters are not allowed."]}


@pytest.mark.parametrize(
    ("created_after", "found"),
    [
        # PostgreSQL refuses UTC offsets past 15:59: was a DataError, a 500.
        ("2000-01-01T00:00:00-23:27", True),
        ("2999-01-01T00:00:00+23:59", False),
        ("2000-01-01T00:00:00+15:59", True),
        ("2000-01-01", True),
    ],
)
def test_staff_carts_filter_on_any_utc_offset(staff_api, created_after, found):
    cart = CartFactory()
    body = assert_ok(staff_api.get(CARTS, {"created_after": created_after}))
    assert [row["id"] for row in body["results"]] == ([str(cart.id)] if found else [])


@pytest.mark.parametrize(
    "created_before", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
)
def test_staff_carts_filter_on_a_time_outside_years_1_to_9999_in_utc_is_a_400(
    staff_api, db, created_before
):
    body = assert_problem(staff_api.get(CARTS, {"created_before": created_before}), 400)
    assert body["errors"] == {"created_before": ["Enter a valid date/time."]}
