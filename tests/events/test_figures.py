"""The webhook gauges of /metrics: the outbox's lag, pending deliveries, disabled endpoints."""

from datetime import timedelta
from uuid import uuid4

import pytest
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from events.models import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint
from health.prometheus import BusinessCollector

pytestmark = pytest.mark.django_db
GAUGES = {
    "addtocart_webhook_outbox_lag_seconds",
    "addtocart_webhook_deliveries_pending",
    "addtocart_webhook_endpoints_disabled",
}


def scrape() -> dict[str, float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BusinessCollector())
    text = generate_latest(registry).decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in GAUGES
    }


def event(minutes_ago: float, position: int | None) -> Event:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return Event.objects.create(
        type="cart.updated", cart_id=uuid4(), sequence=1, data={}, created_at=at, position=position
    )


def endpoint(**fields) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        url="https://example.com/", events=["*"], secret="s", **fields
    )


def test_nothing_waiting_is_no_lag():
    event(30, position=1)  # positioned, no endpoint wants it
    assert scrape() == dict.fromkeys(GAUGES, 0.0)


def test_the_lag_is_the_oldest_event_not_yet_delivered():
    hook = endpoint()
    delivered, waiting = event(60, position=1), event(10, position=2)
    for old, status in ((delivered, DeliveryStatus.DELIVERED), (waiting, DeliveryStatus.PENDING)):
        WebhookDelivery.objects.create(
            endpoint=hook, event=old, cart_id=old.cart_id, position=old.position, status=status
        )
    event(4, position=None)  # not yet positioned: waiting too, but younger
    figures = scrape()
    assert 599 < figures["addtocart_webhook_outbox_lag_seconds"] < 610
    assert figures["addtocart_webhook_deliveries_pending"] == 1


def test_an_unpositioned_event_counts_when_it_is_the_oldest():
    event(20, position=None)
    assert 1199 < scrape()["addtocart_webhook_outbox_lag_seconds"] < 1210


def test_disabled_endpoints_are_counted_not_those_staff_turned_off():
    endpoint(is_active=False, disabled_at=timezone.now(), disabled_reason="HTTP 500")
    endpoint(is_active=False)
    endpoint()
    assert scrape()["addtocart_webhook_endpoints_disabled"] == 1
