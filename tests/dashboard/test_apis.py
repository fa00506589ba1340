"""GET /api/v1/metrics/business/: staff only, the figures of carts.analytics, as documented."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from carts.analytics import business_metrics
from dashboard.periods import period_from_params
from tests.conftest import bearer
from tests.schema import assert_ok, assert_problem, schema_document

URL = "/api/v1/metrics/business/"


def test_staff_get_the_figures_of_a_custom_period(staff_api, shop):
    first, last = (shop - timedelta(days=7)).date(), shop.date()
    body = assert_ok(staff_api.get(URL, {"from": str(first), "to": str(last)}))
    period = period_from_params({"from": str(first), "to": str(last)}, now=shop)
    metrics = business_metrics(start=period.start, end=period.end)
    assert body["period"] == "custom"
    assert body["start"] == f"{first}T00:00:00Z"
    assert body["end"] == f"{last + timedelta(days=1)}T00:00:00Z"
    assert body["series_unit"] == "day"
    counts = ("created", "with_items", "checked_out", "abandoned", "in_progress")
    assert (
        {key: body[key] for key in counts}
        == {key: getattr(metrics, key) for key in counts}
        == {"created": 6, "with_items": 5, "checked_out": 2, "abandoned": 2, "in_progress": 2}
    )
    assert (body["abandonment_rate"], body["conversion_rate"]) == (0.5, 0.4)
    assert body["average_cart_value"] == "23.00"
    assert body["average_order_value"] == "30.00"
    assert body["revenue"] == "60.00"
    assert body["created_series"] == [
        {"at": at.isoformat().replace("+00:00", "Z"), "count": n}
        for at, n in metrics.created_series
    ]
    assert sum(point["count"] for point in body["checked_out_series"]) == 2
    assert (body["undecided"], body["carts_holding_lines"]) == (1, 5)
    in_carts = [(p["sku"], p["quantity"], p["value"]) for p in body["top_by_quantity"]]
    assert in_carts == [("MUG", 7, "35.00"), ("TEE", 4, "80.00")]
    sold = [(p["sku"], p["quantity"], p["revenue"]) for p in body["top_by_revenue"]]
    assert sold == [("TEE", 2, "40.00"), ("MUG", 4, "20.00")]


@pytest.mark.parametrize(("period", "created", "unit"), [("24h", 2, "hour"), ("30d", 7, "day")])
def test_staff_get_a_preset_period(staff_api, shop, period, created, unit):
    body = assert_ok(staff_api.get(URL, {"period": period}))
    assert (body["period"], body["created"], body["series_unit"]) == (period, created, unit)


def test_an_empty_period_has_null_rates(staff_api, db):
    body = assert_ok(staff_api.get(URL))
    assert body["period"] == "7d"
    assert body["created"] == 0
    assert body["conversion_rate"] is body["abandonment_rate"] is None
    assert body["average_cart_value"] is body["average_order_value"] is None
    assert body["revenue"] == "0.00"
    assert body["top_by_quantity"] == body["created_series"] == []


def test_a_staff_session_may_read_them_too(client, staff, shop):
    client.force_login(staff)
    assert assert_ok(client.get(URL))["created"] == 6


def test_anonymous_callers_get_401(api, db):
    assert_problem(api.get(URL), 401, "not_authenticated")


def test_shoppers_get_403(user_api):
    assert_problem(user_api.get(URL), 403, "permission_denied")


def test_a_shopper_session_gets_403(user):
    client = APIClient()
    client.force_login(user)
    assert_problem(client.get(URL), 403, "permission_denied")


def test_staff_rights_are_read_from_the_database_not_the_token(staff):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(staff))
    staff.is_staff = False
    staff.save()
    assert_problem(client.get(URL), 403, "permission_denied")


@pytest.mark.parametrize(
    "query",
    [
        {"period": "1y"},
        {"from": "2026-11-02", "to": "2026-11-01"},
        {"from": "2024-01-01", "to": "2026-01-01"},
        {"from": "2026-11-01"},
        {"from": "not a date", "to": "2026-11-01"},
        {"period": "7d", "from": "2026-11-01", "to": "2026-11-02"},
    ],
)
def test_a_bad_period_is_a_400_problem(staff_api, db, query):
    body = assert_problem(staff_api.get(URL, query), 400, "invalid_period")
    assert body["title"] == "The period is not valid."


def test_the_operation_is_documented_for_staff():
    operation = schema_document()["paths"][URL]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"period", "from", "to"}
    assert set(operation["responses"]) >= {"200", "400", "401", "403"}
    assert {next(iter(s)) for s in operation["security"]} == {"jwtAuth", "cookieAuth"}
