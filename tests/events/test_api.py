"""`GET /api/v1/events/`: staff only, in commit order, a cursor that misses nothing."""

import threading
from datetime import timedelta

import psycopg2
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from carts.domain import CartOwner
from carts.services import cart_item_add
from events.maintenance import event_purge_old
from events.models import Event
from events.relay import events_position
from tests.carts.stubs import add
from tests.factories import ProductFactory, UserFactory
from tests.schema import assert_ok, assert_problem

EVENTS = "/api/v1/events/"


def page(client, **query) -> dict:
    return assert_ok(client.get(EVENTS, query))


@pytest.mark.django_db
def test_events_are_for_staff(api, user_api):
    assert_problem(api.get(EVENTS), 401)
    assert_problem(user_api.get(EVENTS), 403)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", [{"after": "x"}, {"after": -1}, {"limit": 0}, {"limit": 501}, {"type": "cart.nope"}]
)
def test_a_bad_query_is_a_problem(staff_api, query):
    assert_problem(staff_api.get(EVENTS, query), 400, "invalid")


@pytest.mark.django_db
def test_pages_follow_the_cursor(staff_api, user_api):
    product = ProductFactory(stock=50)
    for _ in range(5):
        assert add(user_api, product).status_code == 201
    first = page(staff_api, limit=2)
    assert [event["sequence"] for event in first["events"]] == [1, 2]
    assert first["events"][0]["type"] == "cart.created"
    assert first["events"][0]["id"].startswith("evt_")
    second = page(staff_api, limit=2, after=first["next"])
    third = page(staff_api, limit=2, after=second["next"])
    assert [event["sequence"] for event in second["events"] + third["events"]] == [3, 4, 5]
    assert page(staff_api, after=third["next"]) == {"events": [], "next": third["next"]}


@pytest.mark.django_db
def test_the_type_filter_moves_the_cursor_past_what_it_leaves_out(staff_api, user_api):
    product = ProductFactory(stock=50)
    for _ in range(3):
        assert add(user_api, product).status_code == 201
    created = page(staff_api, type="cart.created")
    assert [event["type"] for event in created["events"]] == ["cart.created"]
    assert page(staff_api, type="cart.created", after=created["next"])["events"] == []
    assert int(created["next"]) == Event.objects.count()


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_late_is_not_skipped(staff_api, user_api):
    """An event whose transaction began first (lower id) but commits after a later one was
    read must still come after the reader's cursor."""
    early = psycopg2.connect(**connection.get_connection_params())
    try:
        cursor = early.cursor()
        cursor.execute(
            "INSERT INTO events_event (type, cart_id, sequence, data, created_at) "
            "VALUES ('cart.updated', gen_random_uuid(), 1, '{}', now())"
        )  # not committed yet: its id is taken, its row invisible
        assert add(user_api, ProductFactory(stock=5)).status_code == 201
        seen = page(staff_api)
        assert [event["type"] for event in seen["events"]] == ["cart.created"]
        early.commit()
    finally:
        early.close()
    late = page(staff_api, after=seen["next"])
    assert [event["type"] for event in late["events"]] == ["cart.updated"]
    assert int(late["events"][0]["id"][4:]) < int(seen["events"][0]["id"][4:])


@pytest.mark.django_db(transaction=True)
def test_concurrent_relays_give_each_event_one_position():
    owners = [CartOwner(user_id=UserFactory().pk) for _ in range(4)]
    product = ProductFactory(stock=1000)
    for _ in range(5):
        for owner in owners:
            cart_item_add(owner=owner, product_id=product.pk)

    def relay() -> None:
        try:
            events_position(batch_size=3)
        finally:
            connection.close()

    threads = [threading.Thread(target=relay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    positions = sorted(Event.objects.values_list("position", flat=True))
    assert positions == list(range(1, 21))
    by_id = list(Event.objects.order_by("id").values_list("position", flat=True))
    assert by_id == sorted(by_id)  # visible together, so positioned in id order


@pytest.mark.django_db
def test_old_events_are_purged_by_the_maintenance_job(user_api, capsys):
    product = ProductFactory(stock=50)
    for _ in range(3):
        assert add(user_api, product).status_code == 201
    events_position()
    old = timezone.now() - timedelta(days=settings.EVENT_RETENTION_DAYS, hours=1)
    Event.objects.filter(sequence__lte=2).update(created_at=old)
    Event.objects.create(
        type="cart.updated",
        cart_id=Event.objects.first().cart_id,
        sequence=9,
        data={},
        created_at=old,
    )
    call_command("purge_carts", "--older-than", "30")
    assert "2 event(s) older than 7 days deleted" in capsys.readouterr().out
    assert list(Event.objects.values_list("sequence", flat=True).order_by("sequence")) == [3, 9]
    assert event_purge_old() == 0  # the unpositioned one waits for the relay
