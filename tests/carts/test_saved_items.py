"""Save for later: a signed-in shopper moves a line out of the cart into their saved items
(`POST cart/items/{id}/save-for-later/`), lists them (`GET saved-items/`), moves one back
(`POST saved-items/{id}/move-to-cart/`) or deletes it (`DELETE saved-items/{id}/`)."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from carts import services
from carts.attributes import attributes_normalise
from carts.domain import CartOwner
from carts.models import Cart, CartItem, CartStatus, SavedItem
from events.models import Event, EventType
from tests.carts.test_queries import count_queries
from tests.conftest import bearer
from tests.factories import ProductFactory, UserFactory
from tests.schema import assert_ok, assert_problem

pytestmark = pytest.mark.django_db

CART = "/api/v1/cart/"
ITEMS = "/api/v1/cart/items/"
SAVED = "/api/v1/saved-items/"
SIGN_IN = "Sign in to save items for later."


def add(client, product, quantity=1, attributes=None) -> dict:
    body = {"product_id": product.pk, "quantity": quantity}
    if attributes is not None:
        body["attributes"] = attributes
    return assert_ok(client.post(ITEMS, body, format="json"), 201)


def line_id(cart: dict, product, attributes=None) -> int:
    """The id of the cart's line of `product` with `attributes` (as sent: not normalised)."""
    wanted = attributes_normalise(attributes or {})
    [line] = [
        line
        for line in cart["items"]
        if line["product"]["id"] == product.pk and line["attributes"] == wanted
    ]
    return line["id"]


def save(client, item_id: int, **headers):
    return client.post(f"{ITEMS}{item_id}/save-for-later/", headers=headers)


def move(client, saved_id: int, **headers):
    return client.post(f"{SAVED}{saved_id}/move-to-cart/", headers=headers)


def saved_items(client) -> list[dict]:
    return assert_ok(client.get(SAVED))["results"]


def add_and_save(client, product, quantity=1, attributes=None) -> dict:
    """Add a line and save it for later; the cart as the save answered it."""
    cart = add(client, product, quantity, attributes)
    return assert_ok(save(client, line_id(cart, product, attributes)))


@pytest.fixture
def other_api(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(UserFactory()))
    return client


# Saving ------------------------------------------------------------------------------------


def test_saving_moves_the_line_out_of_the_cart_into_the_saved_items(user_api):
    mug, shirt = ProductFactory(price=Decimal("4.50")), ProductFactory()
    add(user_api, shirt)
    added = add(user_api, mug, 2, {"size": "M", "colour": "red"})
    item_id = line_id(added, mug, {"colour": "red", "size": "M"})

    response = save(user_api, item_id)

    cart = assert_ok(response)
    assert [line["product"]["id"] for line in cart["items"]] == [shirt.pk]
    assert cart["version"] == added["version"] + 1
    assert response["ETag"] == f'"{cart["id"].replace("-", "")}.{cart["version"]}"'
    assert assert_ok(user_api.get(CART)) == cart
    [saved] = saved_items(user_api)
    assert saved == {
        "id": saved["id"],
        "product": {"id": mug.pk, "sku": mug.sku, "name": mug.name},
        "attributes": {"colour": "red", "size": "M"},
        "quantity": 2,
        "unit_price": "4.50",
        "currency": "EUR",
        "available": True,
        "created_at": saved["created_at"],
    }
    event = Event.objects.filter(type=EventType.UPDATED).latest("id")
    assert [line["product"]["id"] for line in event.data["cart"]["items"]] == [shirt.pk]
    assert event.data["cart"]["version"] == cart["version"]


def test_the_same_product_and_attributes_saved_twice_add_up_to_the_line_limit(user_api, settings):
    settings.CART_MAX_QUANTITY_PER_LINE = 5
    mug = ProductFactory()
    add_and_save(user_api, mug, 2, {"size": "M"})
    add_and_save(user_api, mug, 2, {" size ": "M "})  # the same attributes, normalised
    [saved] = saved_items(user_api)
    assert (saved["quantity"], saved["attributes"]) == (4, {"size": "M"})

    add_and_save(user_api, mug, 3, {"size": "M"})
    add_and_save(user_api, mug, 1, {"size": "L"})
    add_and_save(user_api, mug, 1)

    quantities = {
        item["attributes"].get("size"): item["quantity"] for item in saved_items(user_api)
    }
    assert quantities == {"M": 5, "L": 1, None: 1}


def test_saved_items_are_limited_but_adding_to_one_takes_no_room(user_api, settings):
    settings.SAVED_ITEMS_MAX = 2
    first, second, third = ProductFactory.create_batch(3)
    add_and_save(user_api, first)
    add_and_save(user_api, second)
    cart = add(user_api, third)

    problem = assert_problem(save(user_api, line_id(cart, third)), 422, "saved_items_limit")

    assert problem["max_saved_items"] == 2
    assert CartItem.objects.filter(product=third).exists()
    assert assert_ok(user_api.get(CART))["version"] == cart["version"]
    add_and_save(user_api, first)
    assert sorted(item["quantity"] for item in saved_items(user_api)) == [1, 2]


def test_a_line_of_another_cart_or_none_is_not_found(user_api, other_api, product):
    theirs = add(other_api, product)
    assert_problem(save(user_api, line_id(theirs, product)), 404, "cart_item_not_found")
    add(user_api, product)
    assert_problem(save(user_api, line_id(theirs, product)), 404, "cart_item_not_found")
    assert CartItem.objects.count() == 2
    assert not SavedItem.objects.exists()


def test_if_match_guards_a_save(user_api, product):
    added = user_api.post(ITEMS, {"product_id": product.pk}, format="json")
    item_id = line_id(added.json(), product)

    stale = assert_problem(save(user_api, item_id, **{"If-Match": '"stale.1"'}), 412)

    assert stale["current_etag"] == added["ETag"]
    assert not SavedItem.objects.exists()
    assert_ok(save(user_api, item_id, **{"If-Match": added["ETag"]}))
    assert len(saved_items(user_api)) == 1


def test_a_save_retried_with_its_idempotency_key_is_answered_again(user_api, product):
    item_id = line_id(add(user_api, product), product)
    first = save(user_api, item_id, **{"Idempotency-Key": "save-1"})
    again = save(user_api, item_id, **{"Idempotency-Key": "save-1"})
    assert assert_ok(again) == assert_ok(first)
    assert again["Idempotent-Replayed"] == "true"
    assert SavedItem.objects.get().quantity == 1


def test_a_cart_being_checked_out_cannot_save(user_api, product):
    item_id = line_id(add(user_api, product), product)
    Cart.objects.update(status=CartStatus.CHECKING_OUT)
    assert_problem(save(user_api, item_id), 409, "checkout_in_progress")
    assert not SavedItem.objects.exists()


@pytest.mark.parametrize("body", [{"quantity": 1}, [1]])
def test_a_save_takes_no_body(user_api, product, body):
    item_id = line_id(add(user_api, product), product)
    response = user_api.post(f"{ITEMS}{item_id}/save-for-later/", body, format="json")
    assert_problem(response, 400, "invalid")
    assert not SavedItem.objects.exists()


# Guests and other shoppers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", f"{ITEMS}1/save-for-later/"),
        ("get", SAVED),
        ("post", f"{SAVED}1/move-to-cart/"),
        ("delete", f"{SAVED}1/"),
    ],
)
def test_guests_are_told_to_sign_in(api, product, method, path):
    session = api.post(ITEMS, {"product_id": product.pk}, format="json")["X-Session-ID"]
    version = Cart.objects.get().version
    response = getattr(api, method)(path, headers={"X-Session-ID": session})
    problem = assert_problem(response, 401, "not_authenticated")
    assert problem["detail"] == SIGN_IN
    assert "X-Session-ID" not in response
    assert (Cart.objects.get().version, CartItem.objects.get().quantity) == (version, 1)


@pytest.mark.parametrize("path", [f"{ITEMS}1/save-for-later/", f"{SAVED}1/move-to-cart/"])
def test_a_guest_is_told_to_sign_in_before_the_body_is_read(api, db, path):
    response = api.post(path, {"colour": "red"}, format="json")
    assert assert_problem(response, 401, "not_authenticated")["detail"] == SIGN_IN
    assert not Cart.objects.exists()


def test_another_shoppers_saved_item_is_not_found(user, user_api, other_api, product):
    add_and_save(other_api, product)
    theirs = SavedItem.objects.get()
    assert saved_items(user_api) == []
    assert_problem(move(user_api, theirs.pk), 404, "saved_item_not_found")
    assert_problem(user_api.delete(f"{SAVED}{theirs.pk}/"), 404, "saved_item_not_found")
    assert SavedItem.objects.get().quantity == 1
    assert not Cart.objects.filter(user=user).exists()


# Moving back to the cart ---------------------------------------------------------------------


def test_moving_a_saved_item_back_adds_it_to_the_cart(user_api):
    mug = ProductFactory(price=Decimal("4.50"))
    saved_cart = add_and_save(user_api, mug, 3, {"size": "M"})
    [saved] = saved_items(user_api)

    response = move(user_api, saved["id"])

    cart = assert_ok(response)
    [line] = cart["items"]
    assert (line["product"]["id"], line["quantity"]) == (mug.pk, 3)
    assert line["attributes"] == {"size": "M"}
    assert cart["version"] == saved_cart["version"] + 1
    assert response["ETag"].endswith(f'.{cart["version"]}"')
    assert saved_items(user_api) == []
    event = Event.objects.latest("id")
    assert (event.type, event.data["cart"]["items"][0]["quantity"]) == (EventType.UPDATED, 3)


def test_moving_back_merges_into_the_line_with_the_same_attributes(user_api):
    mug = ProductFactory()
    add_and_save(user_api, mug, 2, {"size": "M"})
    add(user_api, mug, 1, {"size": "M"})
    add(user_api, mug, 4, {"size": "L"})

    cart = assert_ok(move(user_api, SavedItem.objects.get().pk))

    quantities = {line["attributes"]["size"]: line["quantity"] for line in cart["items"]}
    assert quantities == {"M": 3, "L": 4}


def test_moving_back_into_no_cart_opens_one(user, user_api, product):
    add_and_save(user_api, product, 2)
    add(user_api, ProductFactory())
    services.cart_checkout(owner=CartOwner(user_id=user.pk))

    cart = assert_ok(move(user_api, SavedItem.objects.get().pk))

    assert (cart["status"], cart["items"][0]["quantity"]) == ("active", 2)
    assert Cart.objects.count() == 2


def test_a_move_retried_with_its_idempotency_key_is_answered_again(user_api, product):
    add_and_save(user_api, product, 2)
    saved_id = SavedItem.objects.get().pk
    first = move(user_api, saved_id, **{"Idempotency-Key": "move-1"})
    again = move(user_api, saved_id, **{"Idempotency-Key": "move-1"})
    assert assert_ok(again) == assert_ok(first)
    assert again["Idempotent-Replayed"] == "true"
    assert CartItem.objects.get().quantity == 2


def test_if_match_guards_a_move(user_api, product):
    saved_cart = add_and_save(user_api, product)
    saved_id = SavedItem.objects.get().pk
    assert_problem(move(user_api, saved_id, **{"If-Match": '"stale.1"'}), 412)
    assert SavedItem.objects.exists()
    etag = f'"{saved_cart["id"].replace("-", "")}.{saved_cart["version"]}"'
    assert_ok(move(user_api, saved_id, **{"If-Match": etag}))


def _stock_runs_out(product, staff_api) -> None:
    assert_ok(staff_api.patch(f"/api/v1/products/{product.pk}/", {"stock": 1}, format="json"))


def _product_deactivated(product, staff_api) -> None:
    body = {"is_active": False}
    assert_ok(staff_api.patch(f"/api/v1/products/{product.pk}/", body, format="json"))


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (_stock_runs_out, 409, "insufficient_stock"),
        (_product_deactivated, 404, "product_not_found"),
    ],
)
def test_a_move_the_add_rules_refuse_leaves_the_saved_item(
    user_api, staff_api, change, status, code
):
    product = ProductFactory(stock=10)
    before = add_and_save(user_api, product, 2)
    change(product, staff_api)

    assert_problem(move(user_api, SavedItem.objects.get().pk), status, code)

    assert SavedItem.objects.get().quantity == 2
    assert assert_ok(user_api.get(CART)) == before


def test_a_move_past_the_line_limit_leaves_the_saved_item(user_api, settings):
    settings.CART_MAX_QUANTITY_PER_LINE = 5
    mug = ProductFactory()
    add_and_save(user_api, mug, 3)
    add(user_api, mug, 3)
    problem = assert_problem(move(user_api, SavedItem.objects.get().pk), 422, "line_quantity_limit")
    assert problem["max_quantity"] == 5
    assert SavedItem.objects.get().quantity == 3
    assert CartItem.objects.get().quantity == 3


def test_a_move_past_the_lines_limit_leaves_the_saved_item(user_api, settings):
    settings.CART_MAX_LINES = 1
    mug, shirt = ProductFactory.create_batch(2)
    add_and_save(user_api, mug)
    add(user_api, shirt)
    assert_problem(move(user_api, SavedItem.objects.get().pk), 422, "cart_lines_limit")
    assert SavedItem.objects.get().product == mug
    assert [line.product for line in CartItem.objects.all()] == [shirt]


def test_a_move_finding_the_item_deleted_meanwhile_adds_nothing(user_api, product, monkeypatch):
    """The item is read, then deleted by another request before the move's transaction."""
    before = add_and_save(user_api, product)
    fetch = services.saved.product_service_data

    def deleted_meanwhile(read_product):
        SavedItem.objects.all().delete()
        return fetch(read_product)

    monkeypatch.setattr(services.saved, "product_service_data", deleted_meanwhile)
    assert_problem(move(user_api, SavedItem.objects.get().pk), 404, "saved_item_not_found")
    assert assert_ok(user_api.get(CART)) == before


def test_a_move_finding_units_saved_meanwhile_adds_nothing(user_api, product, monkeypatch):
    """A save of the same product added to the item after the move read it: moving the units
    it read would lose the others."""
    before = add_and_save(user_api, product, 2)
    fetch = services.saved.product_service_data

    def grown_meanwhile(read_product):
        SavedItem.objects.update(quantity=5)
        return fetch(read_product)

    monkeypatch.setattr(services.saved, "product_service_data", grown_meanwhile)
    assert_problem(move(user_api, SavedItem.objects.get().pk), 409, "saved_item_changed")
    assert SavedItem.objects.get().quantity == 5
    assert assert_ok(user_api.get(CART)) == before


def test_a_move_takes_the_product_services_data_fetched_before_its_transaction(user_api, products):
    """The autouse guard of tests/conftest.py fails any call made inside a transaction."""
    mug = ProductFactory(price=Decimal("10.00"), stock=100)
    products.product(mug)
    add_and_save(user_api, mug, 2)
    cache.clear()
    products.product(mug, stock=1)
    assert_problem(move(user_api, SavedItem.objects.get().pk), 409, "insufficient_stock")

    cache.clear()
    products.product(mug, price="12.50")
    cart = assert_ok(move(user_api, SavedItem.objects.get().pk))

    assert cart["items"][0]["unit_price"] == "12.50"
    assert products.calls("GET", f"/products/{mug.sku}") == 3


# Listing and deleting -------------------------------------------------------------------------


def test_the_list_shows_the_current_price_and_availability(user_api, staff_api):
    mug, shirt, cap = (ProductFactory(stock=10) for _ in range(3))
    for product in (mug, shirt, cap):
        add_and_save(user_api, product, 2)
    url = "/api/v1/products/{}/"
    assert_ok(staff_api.patch(url.format(mug.pk), {"price": "12.50"}, format="json"))
    assert_ok(staff_api.patch(url.format(shirt.pk), {"stock": 1}, format="json"))
    assert_ok(staff_api.patch(url.format(cap.pk), {"is_active": False}, format="json"))

    listed = {item["product"]["id"]: item for item in saved_items(user_api)}

    assert (listed[mug.pk]["unit_price"], listed[mug.pk]["available"]) == ("12.50", True)
    assert (listed[shirt.pk]["unit_price"], listed[shirt.pk]["available"]) == ("10.00", False)
    assert listed[cap.pk]["available"] is False


def test_the_list_is_newest_first_and_paginated(user_api):
    products = ProductFactory.create_batch(3)
    for product in products:
        add_and_save(user_api, product)
    page = assert_ok(user_api.get(SAVED, {"page_size": 2}))
    assert page["count"] == 3
    assert [item["product"]["id"] for item in page["results"]] == [
        products[2].pk,
        products[1].pk,
    ]
    assert_problem(user_api.get(SAVED, {"page": 3}), 404, "not_found")


def test_deleting_a_saved_item(user_api, product):
    add_and_save(user_api, product)
    saved_id = SavedItem.objects.get().pk

    response = user_api.delete(f"{SAVED}{saved_id}/")

    assert response.status_code == 204
    assert saved_items(user_api) == []
    assert_problem(user_api.delete(f"{SAVED}{saved_id}/"), 404, "saved_item_not_found")
    assert_problem(move(user_api, saved_id), 404, "saved_item_not_found")
    assert_problem(user_api.delete(f"{SAVED}{10**30}/"), 404, "saved_item_not_found")


def test_merging_a_guest_cart_leaves_the_saved_items_alone(user_api, product):
    add_and_save(user_api, product, 2)
    before = list(SavedItem.objects.values())
    guest = APIClient()
    session = guest.post(ITEMS, {"product_id": product.pk}, format="json")["X-Session-ID"]

    merged = assert_ok(user_api.post(f"{CART}merge/", headers={"X-Session-ID": session}))

    assert [(line["product"]["id"], line["quantity"]) for line in merged["items"]] == [
        (product.pk, 1)
    ]
    assert list(SavedItem.objects.values()) == before


# Query budgets ------------------------------------------------------------------------------


def fill_saved(client, count: int) -> None:
    for product in ProductFactory.create_batch(count):
        add_and_save(client, product)


@pytest.mark.parametrize("count", [1, 20])
def test_the_list_makes_two_queries_whatever_its_length(user_api, count):
    """The page's count, then the page with its products (and availability) joined."""
    fill_saved(user_api, count)
    assert count_queries(lambda: user_api.get(SAVED)) == 2


@pytest.mark.parametrize("count", [1, 20])
def test_a_save_makes_a_fixed_number_of_queries(user_api, count):
    """Lock and touch the cart, read its lines, add to a saved item of the same product and
    attributes; if none: count them and create one; delete the line, record the event."""
    fill_saved(user_api, count)
    for product in ProductFactory.create_batch(count):
        add(user_api, product)
    new, again = ProductFactory(), SavedItem.objects.first().product
    new_line = line_id(add(user_api, new), new)
    again_line = line_id(add(user_api, again), again)
    assert count_queries(lambda: save(user_api, new_line)) == 7
    assert count_queries(lambda: save(user_api, again_line)) == 5


@pytest.mark.parametrize("count", [1, 20])
def test_a_move_makes_a_fixed_number_of_queries(user_api, count):
    """Read the saved item, then add it as `POST cart/items/` does (three queries) and
    delete it."""
    fill_saved(user_api, count)
    for product in ProductFactory.create_batch(count):
        add(user_api, product)
    saved_id = SavedItem.objects.first().pk
    assert count_queries(lambda: move(user_api, saved_id)) == 5
