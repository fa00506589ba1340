"""The cart, catalog and staff carts endpoints, through the HTTP API and its OpenAPI schema."""

import uuid
from datetime import timedelta
from decimal import Decimal
from unittest.mock import ANY

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from carts.models import Cart, CartItem, CartStatus, Product
from tests.conftest import bearer
from tests.factories import CartFactory, CartItemFactory, ProductFactory, UserFactory
from tests.schema import assert_matches_schema, assert_ok, assert_problem, schema_document

CART = "/api/v1/cart/"
ITEMS = "/api/v1/cart/items/"
CHECKOUT = "/api/v1/cart/checkout/"
MERGE = "/api/v1/cart/merge/"
PRODUCTS = "/api/v1/products/"
CARTS = "/api/v1/carts/"
SESSION = "X-Session-ID"
KEY = "Idempotency-Key"

CART_FIELDS = {
    "id",
    "status",
    "items",
    "total_quantity",
    "subtotal",
    "discounts",
    "discount_total",
    "estimated_total",
    "currency",
    "version",
    "created_at",
    "updated_at",
    "checked_out_at",
    "total",
    "session_id",
    "note",
    "email",
}
ITEM_FIELDS = {"id", "product", "attributes", "quantity", "unit_price", "line_total", "discount"}
PRODUCT_FIELDS = {
    "id",
    "sku",
    "name",
    "price",
    "currency",
    "stock",
    "is_active",
    "created_at",
    "updated_at",
}
NEW_PRODUCT = {"sku": "NEW-1", "name": "New thing", "price": "4.50", "stock": 3}
OMIT = object()


def item_url(item_id: int) -> str:
    return f"{ITEMS}{item_id}/"


def product_url(product_id) -> str:
    return f"{PRODUCTS}{product_id}/"


def add(client, product, quantity=1, **headers):
    body = {"product_id": product.pk, "quantity": quantity}
    return client.post(ITEMS, body, format="json", headers=headers)


def etag_of(cart: Cart) -> str:
    return f'"{cart.id.hex}.{cart.version}"'


def lines(body: dict) -> dict[int, int]:
    return {line["product"]["id"]: line["quantity"] for line in body["items"]}


@pytest.fixture
def filled(user_api, product):
    """The signed-in user's cart holding 2 units of `product`: the 201 answer."""
    response = add(user_api, product, 2)
    assert_ok(response, 201)
    return response


@pytest.fixture
def other_api(db):
    """Another signed-in shopper, with a cart of their own."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(UserFactory()))
    assert_ok(add(client, ProductFactory()), 201)
    return client


@pytest.fixture
def guest_session(api, product):
    """The session id of a guest whose cart holds one unit of `product`."""
    response = add(api, product)
    assert_ok(response, 201)
    return response[SESSION]


def test_schema_is_valid_openapi():
    validate(schema_document())


@pytest.mark.parametrize(
    ("path", "method"),
    [(PRODUCTS, "get"), ("/api/v1/products/{id}/", "get"), (CART, "get"), (ITEMS, "post")],
)
def test_schema_documents_anonymous_access(path, method):
    assert {} in schema_document()["paths"][path][method]["security"]


# Products


def test_products_list_is_paginated(api, db):
    ProductFactory.create_batch(3)
    body = assert_ok(api.get(PRODUCTS, {"page_size": 2}))
    assert body.keys() == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["previous"] is None
    assert "page=2" in body["next"]
    assert body["results"][0].keys() == PRODUCT_FIELDS


@pytest.mark.parametrize("term", ["blue", "mug-0007"])
def test_products_search_name_and_sku(api, db, term):
    wanted = ProductFactory(name="Blue mug", sku="MUG-0007")
    ProductFactory(name="Red plate", sku="PLT-0001")
    body = assert_ok(api.get(PRODUCTS, {"search": term}))
    assert [product["id"] for product in body["results"]] == [wanted.pk]


@pytest.mark.parametrize(
    ("client", "sees_inactive"), [("api", False), ("user_api", False), ("staff_api", True)]
)
def test_inactive_products_only_for_staff(request, db, client, sees_inactive):
    active, inactive = ProductFactory(), ProductFactory(is_active=False)
    client = request.getfixturevalue(client)
    listed = {product["id"] for product in assert_ok(client.get(PRODUCTS))["results"]}
    assert listed == ({active.pk, inactive.pk} if sees_inactive else {active.pk})
    response = client.get(product_url(inactive.pk))
    if sees_inactive:
        assert assert_ok(response)["id"] == inactive.pk
    else:
        assert_problem(response, 404, "not_found")


def test_product_retrieve(api, product):
    assert assert_ok(api.get(product_url(product.pk))) == {
        "id": product.pk,
        "sku": product.sku,
        "name": product.name,
        "price": "10.00",
        "currency": "EUR",
        "stock": 100,
        "is_active": True,
        "created_at": ANY,
        "updated_at": ANY,
    }


@pytest.mark.parametrize("product_id", ["abc", "1.5", "-1", "1e3", "99999999"])
def test_product_bad_or_unknown_id_404(api, db, product_id):
    assert_problem(api.get(product_url(product_id)), 404, "not_found")


def test_staff_creates_product(staff_api):
    body = assert_ok(staff_api.post(PRODUCTS, NEW_PRODUCT, format="json"), 201)
    assert body == {
        **NEW_PRODUCT,
        "id": ANY,
        "currency": "EUR",
        "is_active": True,
        "created_at": ANY,
        "updated_at": ANY,
    }
    assert Product.objects.get(pk=body["id"]).price == Decimal("4.50")


def test_staff_updates_product(staff_api, product):
    change = {"price": "12.30", "is_active": False}
    body = assert_ok(staff_api.patch(product_url(product.pk), change, format="json"))
    assert body["price"] == "12.30"
    assert body["is_active"] is False
    product.refresh_from_db()
    assert (product.price, product.is_active) == (Decimal("12.30"), False)


def test_staff_deletes_product(staff_api, product):
    response = staff_api.delete(product_url(product.pk))
    assert response.status_code == 204
    assert_matches_schema(response)
    assert not Product.objects.filter(pk=product.pk).exists()


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_staff_write_unknown_product_404(staff_api, db, method):
    response = getattr(staff_api, method)(product_url(99999), {"name": "x"}, format="json")
    assert_problem(response, 404)


@pytest.mark.parametrize("method", ["post", "patch", "delete"])
@pytest.mark.parametrize(
    ("client", "status", "code"),
    [("api", 401, "not_authenticated"), ("user_api", 403, "permission_denied")],
)
def test_product_writes_need_staff(request, product, method, client, status, code):
    path = PRODUCTS if method == "post" else product_url(product.pk)
    client = request.getfixturevalue(client)
    response = getattr(client, method)(path, {**NEW_PRODUCT, "name": "Hacked"}, format="json")
    assert_problem(response, status, code)
    assert list(Product.objects.values_list("name", flat=True)) == [product.name]


@pytest.mark.parametrize("change", [{"is_staff": False}, {"is_active": False}])
def test_staff_rights_come_from_database(staff, staff_api, change):
    get_user_model().objects.filter(pk=staff.pk).update(**change)
    response = staff_api.post(PRODUCTS, NEW_PRODUCT, format="json")
    assert_problem(response, 403, "permission_denied")
    assert not Product.objects.filter(sku=NEW_PRODUCT["sku"]).exists()


@pytest.mark.parametrize("method", ["post", "patch"])
def test_duplicate_sku_refused(staff_api, product, method):
    taken = ProductFactory(sku="TAKEN-1")
    if method == "post":
        response = staff_api.post(PRODUCTS, {**NEW_PRODUCT, "sku": taken.sku}, format="json")
    else:
        response = staff_api.patch(product_url(product.pk), {"sku": taken.sku}, format="json")
    assert response.status_code in (400, 409), response.content
    body = assert_problem(response, response.status_code)
    if response.status_code == 400:
        assert "sku" in body["errors"]
    assert Product.objects.filter(sku=taken.sku).count() == 1


@pytest.mark.parametrize("status", [CartStatus.ACTIVE, CartStatus.CHECKED_OUT])
def test_delete_product_in_a_cart_409(staff_api, product, status):
    closed = {"total": Decimal("10.00"), "checked_out_at": timezone.now()}
    cart = CartFactory(status=status, **(closed if status == CartStatus.CHECKED_OUT else {}))
    CartItemFactory(cart=cart, product=product)
    assert_problem(staff_api.delete(product_url(product.pk)), 409, "product_in_use")
    assert Product.objects.filter(pk=product.pk).exists()


@pytest.mark.parametrize("method", ["post", "patch"])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "-0.01"),
        ("price", "abc"),
        ("stock", -1),
        ("stock", "5"),
        ("stock", 2.5),
        ("stock", True),
        ("currency", "eur"),
        ("sku", ""),
        ("colour", "red"),
    ],
)
def test_product_invalid_field_400(staff_api, product, method, field, value):
    body = {**NEW_PRODUCT, field: value}
    if method == "post":
        response = staff_api.post(PRODUCTS, body, format="json")
    else:
        response = staff_api.patch(product_url(product.pk), {field: value}, format="json")
    assert field in assert_problem(response, 400, "invalid")["errors"]
    assert Product.objects.count() == 1
    assert Product.objects.get().updated_at == product.updated_at


# The signed-in user's cart


def test_cart_before_first_add_is_empty(user_api):
    response = user_api.get(CART)
    assert response.status_code == 200
    assert response.json() == {
        "id": None,
        "status": "active",
        "items": [],
        "total_quantity": 0,
        "subtotal": "0.00",
        "discounts": [],
        "discount_total": "0.00",
        "estimated_total": "0.00",
        "currency": "EUR",
        "version": 0,
        "created_at": None,
        "updated_at": None,
        "checked_out_at": None,
        "total": None,
        "note": None,
        "email": None,
        "session_id": None,
    }
    assert "ETag" not in response
    assert_matches_schema(response)


def test_add_item_answers_whole_cart(user_api, user, product):
    response = add(user_api, product, 2)
    body = assert_ok(response, 201)
    cart = Cart.objects.get(user=user)
    assert body.keys() == CART_FIELDS
    assert response["ETag"] == etag_of(cart) == f'"{uuid.UUID(body["id"]).hex}.{body["version"]}"'
    assert body["id"] == str(cart.id)
    assert (body["status"], body["session_id"], body["total"]) == ("active", None, None)
    assert body["checked_out_at"] is None
    assert body["total_quantity"] == 2
    [line] = body["items"]
    assert line.keys() == ITEM_FIELDS
    assert line["product"] == {"id": product.pk, "sku": product.sku, "name": product.name}
    assert line["quantity"] == 2
    assert line["id"] == CartItem.objects.get(cart=cart).pk


def test_money_is_two_decimal_strings(user_api):
    body = assert_ok(add(user_api, ProductFactory(price=Decimal("19.9")), 3), 201)
    [line] = body["items"]
    assert (line["unit_price"], line["line_total"], body["subtotal"]) == ("19.90", "59.70", "59.70")


def test_adding_a_product_again_grows_its_line(user_api, product, filled):
    body = assert_ok(add(user_api, product, 3), 201)
    assert lines(body) == {product.pk: 5}
    assert body["version"] == filled.json()["version"] + 1


def test_update_item_quantity(user_api, product, filled):
    item_id = filled.json()["items"][0]["id"]
    body = assert_ok(user_api.patch(item_url(item_id), {"quantity": 5}, format="json"))
    assert lines(body) == {product.pk: 5}
    assert body["total_quantity"] == 5
    assert body["subtotal"] == "50.00"
    assert CartItem.objects.get(pk=item_id).quantity == 5


@pytest.mark.parametrize(("method", "data"), [("patch", {"quantity": 0}), ("delete", None)])
def test_item_removed(user_api, filled, method, data):
    item_id = filled.json()["items"][0]["id"]
    body = assert_ok(getattr(user_api, method)(item_url(item_id), data, format="json"))
    assert body["items"] == []
    assert body["total_quantity"] == 0
    assert not CartItem.objects.filter(pk=item_id).exists()


def test_clear_cart(user_api, user, filled):
    body = assert_ok(user_api.delete(CART))
    assert body["id"] == filled.json()["id"]
    assert body["items"] == []
    assert body["subtotal"] == "0.00"
    assert not CartItem.objects.filter(cart__user=user).exists()


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_other_users_item_404(other_api, filled, method):
    item_id = filled.json()["items"][0]["id"]
    response = getattr(other_api, method)(item_url(item_id), {"quantity": 1}, format="json")
    assert_problem(response, 404, "cart_item_not_found")
    assert CartItem.objects.get(pk=item_id).quantity == 2


def test_checkout(user_api, user, product, filled):
    body = assert_ok(user_api.post(CHECKOUT))
    assert body["status"] == "checked_out"
    assert body["total"] == "20.00"
    assert body["checked_out_at"] is not None
    product.refresh_from_db()
    assert product.stock == 98
    assert Cart.objects.get(user=user).status == CartStatus.CHECKED_OUT
    after = assert_ok(user_api.get(CART))
    assert (after["id"], after["items"], after["status"]) == (None, [], "active")


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        ({"stock": 1}, {"reason": "insufficient_stock", "requested": 2, "available": 1}),
        ({"is_active": False}, {"reason": "product_unavailable"}),
        (
            {"price": Decimal("12.00")},
            {"reason": "price_changed", "unit_price": "10.00", "current_price": "12.00"},
        ),
    ],
)
def test_checkout_conflict_lists_lines(user_api, user, product, filled, change, fault):
    Product.objects.filter(pk=product.pk).update(**change)
    body = assert_problem(user_api.post(CHECKOUT), 409, "checkout_conflict")
    item_id = filled.json()["items"][0]["id"]
    assert body["lines"] == [
        {"item_id": item_id, "product_id": product.pk, "sku": product.sku, **fault}
    ]
    assert Cart.objects.get(user=user).status == CartStatus.ACTIVE


@pytest.mark.parametrize("emptied", [False, True])
def test_checkout_empty_cart_409(user_api, product, emptied):
    if emptied:
        assert_ok(add(user_api, product), 201)
        assert_ok(user_api.delete(CART))
    assert_problem(user_api.post(CHECKOUT), 409, "cart_empty")


def test_merge_guest_cart(api, user_api, product, filled):
    extra = ProductFactory()
    guest = add(api, product)
    session = guest[SESSION]
    assert_ok(add(api, extra, 4, **{SESSION: session}), 201)
    body = assert_ok(user_api.post(MERGE, headers={SESSION: session}))
    assert lines(body) == {product.pk: 3, extra.pk: 4}
    assert body["session_id"] is None
    assert Cart.objects.get(pk=guest.json()["id"]).status == CartStatus.MERGED
    seen_by_guest = assert_ok(api.get(CART, headers={SESSION: session}))
    assert (seen_by_guest["id"], seen_by_guest["items"]) == (None, [])


def test_merge_without_session_header_400(user_api):
    body = assert_problem(user_api.post(MERGE), 400, "invalid")
    assert SESSION in body["errors"]


def test_merge_anonymous_401(api, guest_session):
    assert_problem(api.post(MERGE, headers={SESSION: guest_session}), 401, "not_authenticated")


@pytest.mark.parametrize("current", [True, False], ids=["current", "stale"])
def test_merge_if_match(user_api, user, filled, guest_session, current):
    cart = Cart.objects.get(user=user)
    etag = filled["ETag"] if current else f'"{cart.id.hex}.{cart.version - 1}"'
    response = user_api.post(MERGE, headers={SESSION: guest_session, "If-Match": etag})
    if current:
        assert assert_ok(response)["total_quantity"] == 3
    else:
        assert_problem(response, 412, "precondition_failed")
    guest_cart = Cart.objects.get(user=None)
    assert guest_cart.status == (CartStatus.MERGED if current else CartStatus.ACTIVE)


# Guests


def test_guest_session_issued_and_reused(api, product):
    first = add(api, product)
    body = assert_ok(first, 201)
    session = first[SESSION]
    assert session
    assert body["session_id"] == session
    again = add(api, product, **{SESSION: session})
    assert assert_ok(again, 201)["id"] == body["id"]
    assert again[SESSION] == session
    seen = assert_ok(api.get(CART, headers={SESSION: session}))
    assert (seen["id"], seen["session_id"], lines(seen)) == (body["id"], session, {product.pk: 2})


FORGERIES = {
    "made up": lambda session: "my-own-session-id",
    "bad signature": lambda session: session[:-2] + ("AB" if session[-2:] != "AB" else "CD"),
    "token without signature": lambda session: session.rsplit(":", 1)[0],
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_session_id_never_adopted(api, product, guest_session, forgery):
    forged = FORGERIES[forgery](guest_session)
    response = add(api, product, **{SESSION: forged})
    body = assert_ok(response, 201)
    assert response[SESSION] not in (forged, guest_session)
    assert body["session_id"] == response[SESSION]
    assert lines(body) == {product.pk: 1}
    assert Cart.objects.filter(status=CartStatus.ACTIVE, user=None).count() == 2
    seen = assert_ok(api.get(CART, headers={SESSION: forged}))
    assert (seen["id"], seen["items"], seen["session_id"]) == (None, [], None)


# If-Match / If-None-Match


def cart_write(client, write: str, cart: dict, headers: dict):
    """One of the cart's writes, on the cart answered as `cart`."""
    item = cart["items"][0]
    requests = {
        "add": lambda: client.post(
            ITEMS, {"product_id": item["product"]["id"]}, format="json", headers=headers
        ),
        "update": lambda: client.patch(
            item_url(item["id"]), {"quantity": 1}, format="json", headers=headers
        ),
        "remove": lambda: client.delete(item_url(item["id"]), headers=headers),
        "clear": lambda: client.delete(CART, headers=headers),
        "checkout": lambda: client.post(CHECKOUT, headers=headers),
    }
    return requests[write]()


WRITES = {"add": 201, "update": 200, "remove": 200, "clear": 200, "checkout": 200}


@pytest.mark.parametrize("write", WRITES)
def test_stale_if_match_412(user_api, user, filled, write):
    cart = Cart.objects.get(user=user)
    stale = f'"{cart.id.hex}.{cart.version - 1}"'
    response = cart_write(user_api, write, filled.json(), {"If-Match": stale})
    body = assert_problem(response, 412, "precondition_failed")
    assert body["current_etag"] == filled["ETag"]
    assert Cart.objects.get(pk=cart.pk).version == cart.version


@pytest.mark.parametrize("write", WRITES)
def test_current_if_match_succeeds(user_api, user, filled, write):
    response = cart_write(user_api, write, filled.json(), {"If-Match": filled["ETag"]})
    body = assert_ok(response, WRITES[write])
    assert body["version"] == filled.json()["version"] + 1
    assert response["ETag"] == etag_of(Cart.objects.get(pk=body["id"]))


def test_if_none_match_current_etag_304(user_api, filled):
    response = user_api.get(CART, headers={"If-None-Match": filled["ETag"]})
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == filled["ETag"]
    assert_matches_schema(response)


def test_if_none_match_stale_etag_200(user_api, product, filled):
    assert_ok(add(user_api, product), 201)
    response = user_api.get(CART, headers={"If-None-Match": filled["ETag"]})
    assert lines(assert_ok(response)) == {product.pk: 3}
    assert response["ETag"] != filled["ETag"]


# Idempotency-Key


def test_idempotent_add_replayed(user_api, user, product):
    first = add(user_api, product, 2, **{KEY: "add-1"})
    again = add(user_api, product, 2, **{KEY: "add-1"})
    assert assert_ok(again, 201) == assert_ok(first, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert again["ETag"] == first["ETag"]
    assert CartItem.objects.get(cart__user=user).quantity == 2


def test_idempotent_checkout_replayed(user_api, product, filled):
    first = user_api.post(CHECKOUT, headers={KEY: "checkout-1"})
    again = user_api.post(CHECKOUT, headers={KEY: "checkout-1"})
    assert assert_ok(again) == assert_ok(first)
    assert assert_ok(again)["status"] == "checked_out"
    assert again["Idempotent-Replayed"] == "true"
    product.refresh_from_db()
    assert product.stock == 98


@pytest.mark.parametrize("reuse", ["other body", "other endpoint"])
def test_idempotency_key_reused_422(user_api, user, product, reuse):
    assert_ok(add(user_api, product, 1, **{KEY: "key-1"}), 201)
    if reuse == "other body":
        response = add(user_api, product, 2, **{KEY: "key-1"})
    else:
        response = user_api.post(CHECKOUT, headers={KEY: "key-1"})
    assert Cart.objects.get(user=user).status == CartStatus.ACTIVE
    assert CartItem.objects.get(cart__user=user).quantity == 1
    assert_problem(response, 422, "idempotency_key_reused")


@pytest.mark.parametrize("key", ["k" * 256, ""])
@pytest.mark.parametrize("path", [ITEMS, CHECKOUT])
def test_idempotency_key_invalid_400(user_api, product, filled, path, key):
    data = {"product_id": product.pk} if path == ITEMS else None
    response = user_api.post(path, data, format="json", headers={KEY: key})
    assert KEY in assert_problem(response, 400, "invalid")["errors"]
    assert Cart.objects.get().version == filled.json()["version"]


def test_failed_request_not_stored_for_its_key(user_api, user, product):
    Product.objects.filter(pk=product.pk).update(stock=1)
    assert_problem(add(user_api, product, 2, **{KEY: "retry-1"}), 409, "insufficient_stock")
    Product.objects.filter(pk=product.pk).update(stock=5)
    response = add(user_api, product, 2, **{KEY: "retry-1"})
    assert lines(assert_ok(response, 201)) == {product.pk: 2}
    assert "Idempotent-Replayed" not in response


# Invalid input and the rules of the cart


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": 100}, "quantity"),
        ({"quantity": "2"}, "quantity"),
        ({"quantity": 2.5}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"product_id": OMIT}, "product_id"),
        ({"product_id": "1"}, "product_id"),
        ({"product_id": 0}, "product_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_add_invalid_body_400(user_api, product, change, field):
    body = {"product_id": product.pk, "quantity": 1, **change}
    body = {name: value for name, value in body.items() if value is not OMIT}
    response = user_api.post(ITEMS, body, format="json")
    assert field in assert_problem(response, 400, "invalid")["errors"]
    assert not Cart.objects.exists()


def test_add_json_array_400(user_api, product):
    response = user_api.post(ITEMS, [{"product_id": product.pk}], format="json")
    assert "non_field_errors" in assert_problem(response, 400, "invalid")["errors"]


@pytest.mark.parametrize(
    "data", [{"quantity": -1}, {"quantity": 100}, {"quantity": "2"}, {}, {"qty": 1}]
)
def test_update_invalid_body_400(user_api, filled, data):
    item_id = filled.json()["items"][0]["id"]
    response = user_api.patch(item_url(item_id), data, format="json")
    assert assert_problem(response, 400, "invalid")["errors"]
    assert CartItem.objects.get(pk=item_id).quantity == 2


def test_checkout_with_body_400(user_api, filled):
    response = user_api.post(CHECKOUT, {"coupon": "FREE"}, format="json")
    assert "coupon" in assert_problem(response, 400, "invalid")["errors"]


@pytest.mark.parametrize("active", [True, False])
def test_add_unknown_product_404(user_api, active):
    product_id = ProductFactory(is_active=False).pk if not active else 99999
    response = user_api.post(ITEMS, {"product_id": product_id}, format="json")
    assert_problem(response, 404, "product_not_found")


def test_cart_lines_limit_422(user_api, settings):
    settings.CART_MAX_LINES = 2
    for product in ProductFactory.create_batch(2):
        assert_ok(add(user_api, product), 201)
    body = assert_problem(add(user_api, ProductFactory()), 422, "cart_lines_limit")
    assert body["max_lines"] == 2
    assert CartItem.objects.count() == 2


def test_line_quantity_limit_422(user_api, product):
    assert_ok(add(user_api, product, 60), 201)
    body = assert_problem(add(user_api, product, 40), 422, "line_quantity_limit")
    assert body["max_quantity"] == 99
    assert CartItem.objects.get().quantity == 60


def test_insufficient_stock_409(user_api, product, filled):
    Product.objects.filter(pk=product.pk).update(stock=3)
    body = assert_problem(add(user_api, product, 2), 409, "insufficient_stock")
    assert (body["product_id"], body["available"]) == (product.pk, 3)
    item_id = filled.json()["items"][0]["id"]
    response = user_api.patch(item_url(item_id), {"quantity": 4}, format="json")
    assert_problem(response, 409, "insufficient_stock")
    assert CartItem.objects.get(pk=item_id).quantity == 2


def test_currency_mismatch_409(user_api):
    assert_problem(add(user_api, ProductFactory(currency="USD")), 409, "currency_mismatch")
    assert not Cart.objects.exists()


def test_update_line_of_inactive_product_409(user_api, product, filled):
    Product.objects.filter(pk=product.pk).update(is_active=False)
    item_id = filled.json()["items"][0]["id"]
    response = user_api.patch(item_url(item_id), {"quantity": 1}, format="json")
    assert_problem(response, 409, "product_unavailable")


# Staff carts


@pytest.fixture
def carts(db):
    """A user's cart of ten days ago, a user's checked-out cart of yesterday, a new guest cart."""
    now = timezone.now()
    old = CartItemFactory(cart__created_at=now - timedelta(days=10)).cart
    closed = CartFactory(
        status=CartStatus.CHECKED_OUT,
        total=Decimal("5.00"),
        checked_out_at=now,
        created_at=now - timedelta(days=1),
    )
    guest = CartFactory(user=None, session_id="guest-token")
    return {"old": old, "closed": closed, "guest": guest}


def test_staff_lists_every_cart(staff_api, carts):
    body = assert_ok(staff_api.get(CARTS))
    assert body["count"] == 3
    found = {cart["id"]: cart for cart in body["results"]}
    old, guest = found[str(carts["old"].id)], found[str(carts["guest"].id)]
    assert (old["user_id"], old["guest"], len(old["items"])) == (carts["old"].user_id, False, 1)
    assert (guest["user_id"], guest["guest"], guest["session_id"]) == (None, True, None)
    assert [cart["id"] for cart in body["results"]] == [
        str(carts[name].id) for name in ("guest", "closed", "old")
    ]


def test_staff_retrieves_cart(staff_api, carts):
    cart = carts["closed"]
    body = assert_ok(staff_api.get(f"{CARTS}{cart.id}/"))
    assert (body["id"], body["status"], body["total"]) == (str(cart.id), "checked_out", "5.00")
    assert body["user_id"] == cart.user_id


TWO_DAYS = timedelta(days=2)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda c, now: {"status": "checked_out"}, {"closed"}),
        (lambda c, now: {"status": "active"}, {"old", "guest"}),
        (lambda c, now: {"user": c["old"].user_id}, {"old"}),
        (lambda c, now: {"created_after": (now - TWO_DAYS).isoformat()}, {"closed", "guest"}),
        (lambda c, now: {"created_before": (now - TWO_DAYS).isoformat()}, {"old"}),
        (
            lambda c, now: {"status": "active", "created_after": (now - TWO_DAYS).isoformat()},
            {"guest"},
        ),
    ],
)
def test_staff_cart_filters(staff_api, carts, query, expected):
    body = assert_ok(staff_api.get(CARTS, query(carts, timezone.now())))
    assert {cart["id"] for cart in body["results"]} == {str(carts[name].id) for name in expected}


@pytest.mark.parametrize("detail", [False, True], ids=["list", "detail"])
@pytest.mark.parametrize(
    ("client", "status", "code"),
    [("api", 401, "not_authenticated"), ("user_api", 403, "permission_denied")],
)
def test_staff_carts_need_staff(request, carts, detail, client, status, code):
    path = f"{CARTS}{carts['old'].id}/" if detail else CARTS
    assert_problem(request.getfixturevalue(client).get(path), status, code)


UNKNOWN_CART = "6f9d2a8e-51c4-4b7a-9e0d-3c2b1a0f9e8d"


@pytest.mark.parametrize(
    "cart_id",
    ["not-a-uuid", "-" * 32, "0" * 31 + "g", UNKNOWN_CART, UNKNOWN_CART.replace("-", "")],
)
def test_staff_cart_bad_or_unknown_id_404(staff_api, carts, cart_id):
    assert_problem(staff_api.get(f"{CARTS}{cart_id}/"), 404, "not_found")


@pytest.mark.parametrize(
    "query",
    [
        {"status": "lost"},
        {"user": "abc"},
        {"user": "1.5"},
        {"user": "0"},
        {"user": str(2**63)},
        {"created_after": "yesterday"},
    ],
    ids=["status", "user", "user-fraction", "user-zero", "user-too-large", "created_after"],
)
def test_staff_cart_invalid_filter_400(staff_api, carts, query):
    response = staff_api.get(CARTS, query)
    assert set(response.json().get("errors", ())) == set(query)
    assert_problem(response, 400, "invalid")


def test_reading_the_cart_brings_an_abandoned_cart_back(user_api, owner, product):
    from carts.models import Cart, CartStatus
    from carts.services import cart_item_add

    cart = cart_item_add(owner=owner, product_id=product.pk, quantity=2).cart
    Cart.objects.filter(pk=cart.pk).update(status=CartStatus.ABANDONED)

    body = assert_ok(user_api.get("/api/v1/cart/"))

    assert body["id"] == str(cart.pk)
    assert body["status"] == "active"
    assert body["total_quantity"] == 2
