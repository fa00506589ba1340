"""Every kind of error is an RFC 9457 problem: application/problem+json with
type, title, status, detail and code, `status` equal to the HTTP status."""

import pytest
from django.db import OperationalError

from tests.schema import PROBLEM, assert_problem, schema_document

CART = "/api/v1/cart/"
ITEMS = "/api/v1/cart/items/"
MERGE = "/api/v1/cart/merge/"
PRODUCTS = "/api/v1/products/"


def test_error_responses_are_documented_as_problem_json():
    undocumented = [
        f"{method.upper()} {path} {status}"
        for path, operations in schema_document()["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if int(status) >= 400 and PROBLEM not in response.get("content", {})
    ]
    assert not undocumented, f"documented as another media type: {undocumented}"


def test_validation_error_lists_fields(user_api, db):
    body = assert_problem(user_api.post(ITEMS, {"quantity": "2"}, format="json"), 400, "invalid")
    assert body["errors"] == {
        "product_id": ["This field is required."],
        "quantity": ["A valid integer is required."],
    }


def test_malformed_json_400(user_api, db):
    response = user_api.post(ITEMS, '{"product_id": 1', content_type="application/json")
    assert_problem(response, 400, "parse_error")


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("product_id=1", "application/x-www-form-urlencoded"),
        ('{"product_id": 1}', "text/plain"),
        ("<product_id>1</product_id>", "application/xml"),
    ],
)
def test_non_json_body_415(user_api, db, data, content_type):
    response = user_api.post(ITEMS, data, content_type=content_type)
    assert_problem(response, 415, "unsupported_media_type")


def test_body_over_limit_413(user_api, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = user_api.post(ITEMS, {"product_id": 1, "note": "x" * 2000}, format="json")
    assert_problem(response, 413, "body_too_large")


def test_body_at_limit_is_parsed(user_api, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = user_api.post(ITEMS, {"product_id": 1, "note": "x" * 900}, format="json")
    assert "note" in assert_problem(response, 400, "invalid")["errors"]


def test_not_authenticated_401(api, db):
    response = api.post(MERGE, headers={"X-Session-ID": "anything"})
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_permission_denied_403(user_api, db):
    response = user_api.post(PRODUCTS, {"sku": "X", "name": "X", "price": "1"}, format="json")
    assert_problem(response, 403, "permission_denied")


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/cart/nope/", "/api/v1/cart/items/x/"])
def test_unknown_api_url_404(api, db, path):
    assert_problem(api.get(path), 404, "not_found", operation=False)


def test_unknown_page_outside_api_is_html(api, db):
    response = api.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("put", CART, {"GET", "DELETE"}), ("get", ITEMS, {"POST"}), ("patch", MERGE, {"POST"})],
)
def test_method_not_allowed_405(user_api, db, method, path, allowed):
    response = getattr(user_api, method)(path, {}, format="json")
    assert_problem(response, 405, "method_not_allowed", operation=False)
    assert allowed <= {name.strip() for name in response["Allow"].split(",")}


@pytest.mark.parametrize(
    ("client", "scope", "path"),
    [("api", "anon", CART), ("user_api", "user", CART), ("api", "anon", PRODUCTS)],
)
def test_throttled_429(request, db, settings, client, scope, path):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, scope: "3/min"},
    }
    client = request.getfixturevalue(client)
    assert [client.get(path).status_code for _ in range(3)] == [200, 200, 200]
    response = client.get(path)
    assert 0 < int(response["Retry-After"]) <= 60
    assert_problem(response, 429, "throttled")


def test_database_unavailable_503(user_api, monkeypatch):
    def fail(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("carts.selectors.cart_get_active_with_lines", fail)
    response = user_api.get(CART)
    # A failure of the infrastructure, not of an operation: checked against ProblemOutput.
    assert_problem(response, 503, "database_unavailable", operation=False)
    assert response["Retry-After"] == "5"


def test_unhandled_error_500(user_api, monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr("carts.selectors.cart_get_active_with_lines", fail)
    user_api.raise_request_exception = False
    response = user_api.get(CART)
    body = assert_problem(response, 500, "internal_error", operation=False)
    assert "bug" not in body["detail"]
