"""A line's `attributes`: the same product with the same attributes is one line, with other
attributes another; the product's stock covers all its lines together."""

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from carts.models import CartItem, Product
from events.models import Event
from tests.factories import CartFactory, CartItemFactory, ProductFactory
from tests.schema import assert_ok, assert_problem

pytestmark = pytest.mark.django_db

ITEMS = "/api/v1/cart/items/"
CART = "/api/v1/cart/"


def add(client, product, quantity=1, attributes=None, **headers):
    body = {"product_id": product.pk, "quantity": quantity}
    if attributes is not None:
        body["attributes"] = attributes
    return client.post(ITEMS, body, format="json", headers=headers)


def lines(body: dict) -> list[tuple]:
    return [(i["product"]["id"], i["attributes"], i["quantity"]) for i in body["items"]]


def test_attributes_make_lines_and_normalised_alike_attributes_share_one(user_api):
    tee = ProductFactory(stock=20)
    assert lines(assert_ok(add(user_api, tee), 201)) == [(tee.pk, {}, 1)]
    add(user_api, tee, 2, {"size": "M", "gift": "yes"})
    add(user_api, tee, 1, {"size": "L"})
    # Trimmed, in another order: the same attributes as the second line.
    body = assert_ok(add(user_api, tee, 3, {" gift": "yes ", "size": " M"}), 201)
    assert lines(body) == [
        (tee.pk, {}, 1),
        (tee.pk, {"gift": "yes", "size": "M"}, 5),
        (tee.pk, {"size": "L"}, 1),
    ]
    assert list(body["items"][1]["attributes"]) == ["gift", "size"]  # keys sorted
    assert assert_ok(user_api.get(CART)) == body
    event = Event.objects.latest("id")
    assert event.data["cart"]["items"] == body["items"]


def test_keys_keep_their_case(user_api):
    tee = ProductFactory()
    add(user_api, tee, 1, {"Size": "M"})
    body = assert_ok(add(user_api, tee, 1, {"size": "M"}), 201)
    assert len(body["items"]) == 2


@pytest.mark.parametrize(
    "attributes",
    [
        {f"k{n}": "v" for n in range(11)},
        {"k" * 41: "v"},
        {"engraving": "x" * 201},
        {"size": 5},
        {"size": None},
        {"size": ""},
        {"  ": "v"},
        {"size": "M", " size": "L"},
        ["size", "M"],
        "size=M",
    ],
)
def test_bad_attributes_are_refused_and_change_nothing(user_api, attributes):
    tee = ProductFactory()
    body = assert_problem(add(user_api, tee, 1, attributes), 400)
    assert "attributes" in body["errors"]
    assert not CartItem.objects.exists()


def test_the_longest_attributes_are_taken(user_api):
    tee = ProductFactory()
    attributes = {f"{n:02d}" + "k" * 38: "v" * 200 for n in range(10)}
    body = assert_ok(add(user_api, tee, 1, attributes), 201)
    assert body["items"][0]["attributes"] == attributes


def test_stock_covers_every_line_of_a_product(user_api):
    tee = ProductFactory(stock=5)
    add(user_api, tee, 3, {"size": "M"})
    refused = assert_problem(add(user_api, tee, 3, {"size": "L"}), 409, "insufficient_stock")
    assert refused["available"] == 5
    small = assert_ok(add(user_api, tee, 2, {"size": "L"}), 201)
    # Changing one line's quantity counts the other's units too.
    line = small["items"][0]["id"]
    patch = user_api.patch(f"{ITEMS}{line}/", {"quantity": 4}, format="json")
    assert_problem(patch, 409, "insufficient_stock")
    assert CartItem.objects.get(pk=line).quantity == 3


def test_checkout_takes_the_units_of_every_line_of_a_product(user_api):
    tee = ProductFactory(stock=5)
    add(user_api, tee, 2, {"size": "M"})
    add(user_api, tee, 2, {"size": "L"})
    Product.objects.filter(pk=tee.pk).update(stock=3)
    preview = assert_ok(user_api.post(f"{CART}checkout/preview/", format="json"))
    assert {(f["reason"], f["requested"], f["available"]) for f in preview["lines"]} == {
        ("insufficient_stock", 4, 3)
    }
    assert_problem(user_api.post(f"{CART}checkout/", format="json"), 409, "checkout_conflict")
    Product.objects.filter(pk=tee.pk).update(stock=4)
    body = assert_ok(user_api.post(f"{CART}checkout/", format="json"))
    assert body["status"] == "checked_out"
    assert Product.objects.get(pk=tee.pk).stock == 0


def test_the_database_keeps_one_line_per_product_and_attributes():
    cart, tee = CartFactory(), ProductFactory()
    CartItemFactory(cart=cart, product=tee, attributes={"size": "M"})
    CartItemFactory(cart=cart, product=tee)
    with pytest.raises(IntegrityError), transaction.atomic():
        CartItemFactory(cart=cart, product=tee, attributes={"size": "M"})


def test_merging_adds_up_lines_with_the_same_attributes_only(user_api):
    tee = ProductFactory(stock=50)
    guest = APIClient()
    session = add(guest, tee, 2, {"size": "M"})["X-Session-ID"]
    add(guest, tee, 1, {"size": "L"}, **{"X-Session-ID": session})
    add(user_api, tee, 3, {"size": "M"})
    add(user_api, tee, 1)
    merged = user_api.post(f"{CART}merge/", headers={"X-Session-ID": session})
    assert sorted(lines(assert_ok(merged)), key=str) == sorted(
        [(tee.pk, {"size": "M"}, 5), (tee.pk, {}, 1), (tee.pk, {"size": "L"}, 1)], key=str
    )
