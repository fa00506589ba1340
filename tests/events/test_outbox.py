"""Each cart change writes its event in its own transaction, with the cart as its owner sees it
and a per-cart sequence; a change that does not happen leaves none."""

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from carts import services
from carts.domain import CartOwner
from carts.models import Cart, CartStatus
from events.maintenance import event_purge_old
from events.models import CartSequence, Event
from events.outbox import event_record
from events.relay import events_position
from tests.carts.stubs import add, checkout
from tests.factories import CartFactory, ProductFactory
from tests.schema import assert_ok, assert_problem

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_breaker")]
CART = "/api/v1/cart/"
SESSION = "X-Session-ID"


def events_of(cart_id) -> list[tuple[str, int]]:
    """The cart's events, numbered by the relay as the worker and the events API do first."""
    events_position()
    rows = Event.objects.filter(cart_id=cart_id).order_by("sequence")
    return [(event.type, event.sequence) for event in rows]


def last_event(cart_id) -> Event:
    events_position()
    return Event.objects.filter(cart_id=cart_id).latest("sequence")


def test_every_change_of_a_line_tells_its_event(user_api, user):
    product = ProductFactory(price=Decimal("4.50"), stock=10)
    cart_id = assert_ok(add(user_api, product, 2), 201)["id"]
    line = user_api.get(CART).json()["items"][0]["id"]
    assert_ok(user_api.patch(f"{CART}items/{line}/", {"quantity": 3}, format="json"))
    assert add(user_api, ProductFactory(), 1).status_code == 201
    assert user_api.delete(f"{CART}items/{line}/").status_code in (200, 204)
    assert user_api.delete(CART).status_code in (200, 204)
    assert events_of(cart_id) == [
        ("cart.created", 1),
        ("cart.updated", 2),
        ("cart.updated", 3),
        ("cart.updated", 4),
        ("cart.updated", 5),
    ]


def test_the_event_holds_the_cart_as_its_owner_sees_it(user_api, user):
    product = ProductFactory(price=Decimal("4.50"), stock=10)
    answer = assert_ok(add(user_api, product, 2), 201)
    event = last_event(answer["id"])
    assert event.data["owner"] == {"user_id": user.pk}
    assert event.data["cart"] == {
        key: value for key, value in answer.items() if key != "session_id"
    }


def test_a_guests_event_holds_no_session_id(api):
    answer = add(api, ProductFactory(stock=5))
    session_id = answer[SESSION]
    event = last_event(answer.json()["id"])
    assert "session_id" not in event.data["cart"]
    assert event.data["owner"] == {"user_id": None}
    token = session_id.split(":")[0]
    assert token not in str(event.data)


@pytest.mark.parametrize(
    "change",
    [
        lambda client, product: add(client, product, 99),  # more than the stock
        lambda client, product: add(client, ProductFactory(is_active=False), 1),
        lambda client, product: client.patch(
            f"{CART}items/999999/", {"quantity": 1}, format="json"
        ),
    ],
    ids=["no-stock", "inactive", "no-line"],
)
def test_a_refused_change_tells_nothing(user_api, change):
    product = ProductFactory(stock=5)
    assert add(user_api, product).status_code == 201
    before = Event.objects.count()
    assert change(user_api, product).status_code >= 400
    assert Event.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_leaves_no_event(user):
    """The event is written in the change's own transaction: when the caller's transaction
    rolls back after the change, the event goes with it."""
    product = ProductFactory(stock=5)

    def change_then_fail() -> None:
        with transaction.atomic():
            services.cart_item_add(owner=CartOwner(user_id=user.pk), product_id=product.pk)
            assert Event.objects.count() == 1
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert Event.objects.count() == 0
    assert not Cart.objects.exists()


def test_checkout_tells_started_then_checked_out(user_api):
    cart_id = assert_ok(add(user_api, ProductFactory(stock=5, price=Decimal("2.00")), 2), 201)["id"]
    assert_ok(checkout(user_api))
    assert [kind for kind, _ in events_of(cart_id)][-2:] == [
        "cart.checkout_started",
        "cart.checked_out",
    ]
    done = last_event(cart_id)
    assert done.data["cart"]["status"] == "checked_out"
    assert done.data["cart"]["total"] == "4.00"


def test_a_refused_checkout_tells_checkout_failed_with_its_reasons(user_api):
    product = ProductFactory(stock=5, price=Decimal("2.00"))
    cart_id = assert_ok(add(user_api, product, 2), 201)["id"]
    product.stock, product.price = 1, Decimal("3.00")
    product.save()
    assert_problem(checkout(user_api), 409, "checkout_conflict")
    failed = last_event(cart_id)
    assert failed.type == "cart.checkout_failed"
    assert failed.data["reasons"] == ["insufficient_stock"]
    assert failed.data["lines"][0]["sku"] == product.sku
    assert failed.data["cart"]["status"] == "active"


def test_a_refused_payment_tells_checkout_failed(user_api, payments):
    cart_id = assert_ok(add(user_api, ProductFactory(stock=5), 1), 201)["id"]
    payments.answers[("POST", "/payments")] = (402, {"status": "refused"})
    assert checkout(user_api).status_code == 402
    kinds = [kind for kind, _ in events_of(cart_id)]
    assert kinds[-2:] == ["cart.checkout_started", "cart.checkout_failed"]
    assert last_event(cart_id).data["reasons"] == ["refused"]


def test_merge_tells_both_carts(api, user_api, user):
    product = ProductFactory(stock=9)
    guest = add(api, product, 2)
    guest_id = guest.json()["id"]
    merged = assert_ok(user_api.post(f"{CART}merge/", headers={SESSION: guest[SESSION]}))
    assert events_of(merged["id"]) == [("cart.created", 1), ("cart.merged", 2)]
    assert last_event(merged["id"]).data["merged_cart_id"] == guest_id
    assert events_of(guest_id)[-1] == ("cart.merged", 2)
    assert last_event(guest_id).data["merged_into_cart_id"] == merged["id"]


def test_abandoned_then_resumed(user_api, user, settings):
    cart_id = assert_ok(add(user_api, ProductFactory(stock=9), 1), 201)["id"]
    Cart.objects.filter(pk=cart_id).update(updated_at=timezone.now() - timedelta(days=3))
    call_command("mark_abandoned_carts", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert events_of(cart_id)[-1] == ("cart.abandoned", 2)
    assert last_event(cart_id).data["cart"]["status"] == "abandoned"
    assert add(user_api, ProductFactory(stock=9), 1).status_code == 201
    assert [kind for kind, _ in events_of(cart_id)][-2:] == ["cart.resumed", "cart.updated"]


def test_the_relay_numbers_each_carts_events_in_commit_order_across_batches():
    first, second = uuid4(), uuid4()
    for cart_id in (first, second, first, first, second):
        with transaction.atomic():
            event_record(type="cart.updated", cart_id=cart_id, data={})
    assert set(Event.objects.values_list("sequence", "position")) == {(None, None)}

    assert events_position(batch_size=2, max_batches=1) == 2
    with transaction.atomic():
        event_record(type="cart.updated", cart_id=second, data={})
    assert events_position(batch_size=2) == 4

    rows = Event.objects.order_by("id").values_list("cart_id", "sequence", "position")
    assert list(rows) == [
        (first, 1, 1),
        (second, 1, 2),
        (first, 2, 3),
        (first, 3, 4),
        (second, 2, 5),
        (second, 3, 6),
    ]


def test_a_cart_idle_past_the_retention_counts_on_from_its_last_event(user_api, user):
    cart_id = assert_ok(add(user_api, ProductFactory(stock=9), 1), 201)["id"]
    Cart.objects.filter(pk=cart_id).update(updated_at=timezone.now() - timedelta(days=9))
    call_command("mark_abandoned_carts", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert events_of(cart_id) == [("cart.created", 1), ("cart.abandoned", 2)]
    Event.objects.update(created_at=timezone.now() - timedelta(days=8))
    assert event_purge_old() == 2

    assert add(user_api, ProductFactory(stock=9), 1).status_code == 201
    assert events_of(cart_id) == [("cart.resumed", 3), ("cart.updated", 4)]


def test_a_purged_carts_count_goes_with_it():
    kept, purged = CartFactory(), CartFactory(status=CartStatus.ABANDONED)
    Cart.objects.filter(pk=purged.pk).update(updated_at=timezone.now() - timedelta(days=40))
    CartSequence.objects.bulk_create(
        [CartSequence(cart_id=kept.pk, last=4), CartSequence(cart_id=purged.pk, last=7)]
    )
    assert services.cart_purge_old(older_than=timedelta(days=30)) == 1
    assert list(CartSequence.objects.values_list("cart_id", "last")) == [(kept.pk, 4)]
