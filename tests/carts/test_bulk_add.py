"""`POST cart/items/` with `{"items": [...]}`: several lines at once, all of them or none."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from carts.models import Cart, CartItem
from events.models import Event, EventType
from tests.carts.test_queries import count_queries
from tests.factories import ProductFactory
from tests.schema import assert_ok, assert_problem

pytestmark = pytest.mark.django_db

ITEMS = "/api/v1/cart/items/"
CART = "/api/v1/cart/"


def bulk(client, *entries, **headers):
    return client.post(ITEMS, {"items": list(entries)}, format="json", headers=headers)


def stored() -> list[tuple]:
    """Every cart and line as stored: what a refused bulk add must leave as it was."""
    carts = list(Cart.objects.values_list("id", "version", "updated_at").order_by("id"))
    lines = list(
        CartItem.objects.values_list(
            "cart_id", "product_id", "quantity", "attributes_key"
        ).order_by("id")
    )
    return [carts, lines, Event.objects.count()]


def test_a_bulk_add_adds_every_entry_in_one_change(user_api):
    mug, tee = ProductFactory(price=Decimal("4.50")), ProductFactory(stock=10)
    body = assert_ok(
        bulk(
            user_api,
            {"product_id": mug.pk, "quantity": 2},
            {"product_id": tee.pk, "attributes": {"size": "M"}},
            {"product_id": tee.pk, "attributes": {"size": "L"}, "quantity": 3},
            {"product_id": mug.pk},  # the same product and attributes again: they add up
        ),
        201,
    )
    lines = [(i["product"]["id"], i["attributes"], i["quantity"]) for i in body["items"]]
    assert lines == [(mug.pk, {}, 3), (tee.pk, {"size": "M"}, 1), (tee.pk, {"size": "L"}, 3)]
    assert (body["total_quantity"], body["subtotal"]) == (7, "53.50")
    assert assert_ok(user_api.get(CART)) == body
    # One change, one event, telling the whole cart.
    [event] = Event.objects.all()
    assert event.type == EventType.CREATED
    assert event.data["cart"]["items"] == body["items"]


def test_a_bulk_add_grows_lines_already_in_the_cart(user_api):
    mug = ProductFactory()
    first = assert_ok(user_api.post(ITEMS, {"product_id": mug.pk}, format="json"), 201)
    body = assert_ok(bulk(user_api, {"product_id": mug.pk, "quantity": 4}), 201)
    assert [(i["id"], i["quantity"]) for i in body["items"]] == [(first["items"][0]["id"], 5)]
    assert body["version"] == first["version"] + 1
    assert Event.objects.filter(type=EventType.UPDATED).count() == 1


@pytest.mark.parametrize(
    ("entries", "key"),
    [
        ([{"product_id": 1}, {"quantity": 2}], "items.1.product_id"),
        ([{"product_id": 1}, {"product_id": 1, "quantity": 0}], "items.1.quantity"),
        ([{"product_id": 1, "colour": "red"}], "items.0.colour"),
        ([{"product_id": 1, "attributes": {"size": 5}}], "items.0.attributes"),
        ([], "items"),
        ("not a list", "items"),
    ],
)
def test_a_malformed_entry_is_named_by_its_index(user_api, entries, key):
    body = assert_problem(user_api.post(ITEMS, {"items": entries}, format="json"), 400)
    assert key in body["errors"], body["errors"]
    assert not Cart.objects.exists()


def test_more_entries_than_a_cart_holds_lines_are_refused(user_api, settings):
    settings.CART_MAX_LINES = 3  # the serializer's bound is the setting at start: 100
    product = ProductFactory(stock=1000)
    response = bulk(user_api, *[{"product_id": product.pk}] * 101)
    assert "items" in assert_problem(response, 400)["errors"]


def test_an_unknown_product_refuses_the_whole_add_with_its_index(user_api):
    mug, gone = ProductFactory(), ProductFactory(is_active=False)
    user_api.post(ITEMS, {"product_id": mug.pk}, format="json")
    before = stored()
    body = assert_problem(
        bulk(user_api, {"product_id": mug.pk}, {"product_id": gone.pk}), 404, "product_not_found"
    )
    assert body["index"] == 1
    assert stored() == before


def test_stock_is_checked_over_every_entry_and_line_of_a_product(user_api):
    mug, tee = ProductFactory(stock=5), ProductFactory(stock=2)
    user_api.post(ITEMS, {"product_id": mug.pk, "quantity": 2}, format="json")
    before = stored()
    body = assert_problem(
        bulk(
            user_api,
            {"product_id": tee.pk},
            {"product_id": mug.pk, "quantity": 2, "attributes": {"colour": "red"}},
            {"product_id": mug.pk, "quantity": 2},
        ),
        409,
        "insufficient_stock",
    )
    # 2 in the cart + 2 red + 2 more: 6 of 5. Both entries of the mug are named.
    assert body["lines"] == [
        {"index": 1, "product_id": mug.pk, "requested": 6, "available": 5},
        {"index": 2, "product_id": mug.pk, "requested": 6, "available": 5},
    ]
    assert stored() == before


def test_the_per_line_limit_counts_what_the_line_already_holds(user_api, settings):
    settings.CART_MAX_QUANTITY_PER_LINE = 5
    mug = ProductFactory(stock=100)
    user_api.post(ITEMS, {"product_id": mug.pk, "quantity": 3}, format="json")
    before = stored()
    body = assert_problem(
        bulk(user_api, {"product_id": mug.pk, "quantity": 2}, {"product_id": mug.pk}),
        422,
        "line_quantity_limit",
    )
    assert body["max_quantity"] == 5
    assert [(line["index"], line["quantity"]) for line in body["lines"]] == [(0, 6), (1, 6)]
    assert stored() == before


def test_the_lines_limit_counts_new_lines_only(user_api, settings):
    settings.CART_MAX_LINES = 2
    mug, tee, cap = ProductFactory(), ProductFactory(), ProductFactory()
    user_api.post(ITEMS, {"product_id": mug.pk}, format="json")
    assert_ok(bulk(user_api, {"product_id": mug.pk}, {"product_id": tee.pk}), 201)
    before = stored()
    body = assert_problem(bulk(user_api, {"product_id": cap.pk}), 422, "cart_lines_limit")
    assert body["max_lines"] == 2
    assert stored() == before


def test_a_product_in_another_currency_is_named(user_api):
    mug, dollars = ProductFactory(), ProductFactory(currency="USD")
    body = assert_problem(
        bulk(user_api, {"product_id": mug.pk}, {"product_id": dollars.pk}),
        409,
        "currency_mismatch",
    )
    assert body["lines"] == [{"index": 1, "product_id": dollars.pk, "currency": "USD"}]
    assert not CartItem.objects.exists()


def test_idempotency_key_and_if_match_work_as_for_one_add(user_api):
    mug = ProductFactory()
    first = bulk(user_api, {"product_id": mug.pk, "quantity": 2}, **{"Idempotency-Key": "b-1"})
    again = bulk(user_api, {"product_id": mug.pk, "quantity": 2}, **{"Idempotency-Key": "b-1"})
    assert assert_ok(again, 201) == assert_ok(first, 201)
    assert CartItem.objects.get().quantity == 2
    stale = bulk(user_api, {"product_id": mug.pk}, **{"If-Match": '"0000.1"'})
    assert_problem(stale, 412, "precondition_failed")
    fresh = bulk(user_api, {"product_id": mug.pk}, **{"If-Match": first["ETag"]})
    assert assert_ok(fresh, 201)["items"][0]["quantity"] == 3


def test_a_guest_gets_a_session_from_a_bulk_add():
    guest, mug = APIClient(), ProductFactory()
    response = bulk(guest, {"product_id": mug.pk}, {"product_id": mug.pk, "quantity": 2})
    session = response["X-Session-ID"]
    assert assert_ok(response, 201)["items"][0]["quantity"] == 3
    again = assert_ok(guest.get(CART, headers={"X-Session-ID": session}))
    assert again["total_quantity"] == 3


def test_the_single_item_body_and_the_items_body_do_not_mix(user_api):
    mug = ProductFactory()
    body = {"product_id": mug.pk, "items": [{"product_id": mug.pk}]}
    errors = assert_problem(user_api.post(ITEMS, body, format="json"), 400)["errors"]
    assert "product_id" in errors


@pytest.mark.parametrize("lines_in_cart", [1, 20])
def test_a_bulk_add_makes_a_fixed_number_of_queries(user_api, lines_in_cart, settings):
    """Lock and touch the cart, read its lines, the products, write the lines, read them
    back, write the event: whatever the number of entries or lines."""
    settings.CART_MAX_LINES = 100
    bulk(user_api, *[{"product_id": p.pk} for p in ProductFactory.create_batch(lines_in_cart)])
    one = [{"product_id": ProductFactory().pk}]
    ten = [{"product_id": p.pk, "attributes": {"n": "1"}} for p in ProductFactory.create_batch(10)]
    assert (
        count_queries(lambda: bulk(user_api, *one))
        == count_queries(lambda: bulk(user_api, *ten))
        == 6
    )
