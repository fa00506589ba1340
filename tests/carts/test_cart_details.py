"""`PATCH cart/` `{note?, email?}`: the cart's note and e-mail, for its owner, staff and events."""

import pytest
from rest_framework.test import APIClient

from carts.models import Cart, CartStatus
from events.models import Event, EventType
from tests.factories import ProductFactory
from tests.schema import assert_ok, assert_problem

pytestmark = pytest.mark.django_db

CART = "/api/v1/cart/"
SESSION = "X-Session-ID"


def patch(client, body, **headers):
    return client.patch(CART, body, format="json", headers=headers)


def test_a_shopper_sets_and_clears_the_note_and_email(user_api, product):
    added = user_api.post("/api/v1/cart/items/", {"product_id": product.pk}, format="json")
    body = assert_ok(patch(user_api, {"note": "  Leave it by the door. ", "email": "a@b.example"}))
    assert (body["note"], body["email"]) == ("Leave it by the door.", "a@b.example")
    assert body["version"] == added.json()["version"] + 1
    assert assert_ok(user_api.get(CART)) == body
    event = Event.objects.filter(type=EventType.UPDATED).latest("id")
    assert (event.data["cart"]["note"], event.data["cart"]["email"]) == (
        body["note"],
        body["email"],
    )

    cleared = assert_ok(patch(user_api, {"note": None}))
    assert (cleared["note"], cleared["email"]) == (None, "a@b.example")
    cleared = assert_ok(patch(user_api, {"email": ""}))
    assert cleared["email"] is None


def test_a_guest_leaves_an_email_before_adding_anything():
    guest = APIClient()
    response = patch(guest, {"email": "guest@shop.example"})
    body = assert_ok(response)
    assert body["email"] == "guest@shop.example"
    assert body["items"] == []
    cart = Cart.objects.get(pk=body["id"])
    assert cart.email == "guest@shop.example"
    again = assert_ok(guest.get(CART, headers={SESSION: response[SESSION]}))
    assert again["email"] == "guest@shop.example"
    assert Event.objects.filter(type=EventType.CREATED, cart_id=cart.pk).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not an address"}, "email"),
        ({"note": "x" * 1001}, "note"),
        ({"note": 5}, "note"),
        ({"colour": "red"}, "colour"),
        ({}, "non_field_errors"),
    ],
)
def test_bad_details_are_refused_and_change_nothing(user_api, product, body, field):
    user_api.post("/api/v1/cart/items/", {"product_id": product.pk}, format="json")
    before = Cart.objects.get()
    problem = assert_problem(patch(user_api, body), 400, "invalid")
    assert field in problem["errors"]
    after = Cart.objects.get()
    assert (after.version, after.note, after.email) == (before.version, "", "")


def test_if_match_guards_the_details(user_api, product):
    added = user_api.post("/api/v1/cart/items/", {"product_id": product.pk}, format="json")
    assert_problem(patch(user_api, {"note": "hi"}, **{"If-Match": '"stale.1"'}), 412)
    assert_ok(patch(user_api, {"note": "hi"}, **{"If-Match": added["ETag"]}))


def test_merging_keeps_the_users_own_details_and_takes_the_guests_others(user_api):
    product = ProductFactory()
    user_api.post("/api/v1/cart/items/", {"product_id": product.pk}, format="json")
    assert_ok(patch(user_api, {"note": "mine"}))
    guest = APIClient()
    session = guest.post("/api/v1/cart/items/", {"product_id": product.pk}, format="json")[SESSION]
    assert_ok(patch(guest, {"note": "theirs", "email": "g@shop.example"}, **{SESSION: session}))

    merged = assert_ok(user_api.post("/api/v1/cart/merge/", headers={SESSION: session}))

    assert (merged["note"], merged["email"]) == ("mine", "g@shop.example")
    assert Cart.objects.get(status=CartStatus.MERGED).note == "theirs"


def test_staff_see_the_details(user_api, staff_api, product):
    user_api.post("/api/v1/cart/items/", {"product_id": product.pk}, format="json")
    body = assert_ok(patch(user_api, {"note": "gift", "email": "a@b.example"}))
    staff_view = assert_ok(staff_api.get(f"/api/v1/carts/{body['id']}/"))
    assert (staff_view["note"], staff_view["email"]) == ("gift", "a@b.example")
