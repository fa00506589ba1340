"""The health readings: every check of health/checks.py, with a state for each."""

from datetime import timedelta
from uuid import uuid4

import pytest
from django.utils import timezone

from dashboard.health import BAD, OFF, OK, WARN, _error_rate_state, health_snapshot, snapshot_json
from events.models import Event, WebhookEndpoint
from tests.live import free_port


def readings(snapshot: dict) -> dict:
    return snapshot_json(snapshot)["readings"]


@pytest.mark.django_db
def test_all_well_with_no_external_service(settings):
    settings.PRODUCT_SERVICE_URL = settings.AUTH_SERVICE_URL = settings.PAYMENT_SERVICE_URL = ""
    found = readings(health_snapshot())
    assert found["overall"] == {"text": "OK", "state": OK}
    assert found["database.status"] == {"text": "Up", "state": OK}
    assert found["database.latency"]["text"].endswith(" ms")
    assert found["redis.status"] == {"text": "Up", "state": OK}
    for service in ("product", "auth", "payment"):
        assert found[f"{service}.status"] == {"text": "Not configured", "state": OFF}
        assert found[f"{service}.breaker"] == {"text": "Not configured", "state": OFF}
    assert found["process.memory"]["text"].endswith("MiB")
    assert found["requests.rate"]["text"].endswith("/s")


@pytest.mark.django_db
def test_a_service_that_does_not_answer_is_down_and_the_service_degraded(settings):
    settings.PAYMENT_SERVICE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    found = readings(health_snapshot())
    assert found["payment.status"] == {"text": "Down", "state": BAD}
    assert found["payment.latency"]["text"] == "—"
    assert found["overall"] == {"text": "Degraded", "state": WARN}


@pytest.mark.parametrize(
    ("rate", "state"), [(None, OFF), (0.0, OK), (0.009, OK), (0.01, WARN), (0.05, BAD)]
)
def test_error_rate_states(rate, state):
    assert _error_rate_state(rate) == state


@pytest.mark.django_db
def test_the_webhooks_panel_shows_lag_and_disabled_endpoints():
    assert readings(health_snapshot())["webhooks.lag"] == {"text": "none", "state": OK}
    at = timezone.now() - timedelta(minutes=7)
    Event.objects.create(type="cart.updated", cart_id=uuid4(), sequence=1, data={}, created_at=at)
    WebhookEndpoint.objects.create(
        url="https://orders.example.com/hook",
        events=["*"],
        secret="s",
        is_active=False,
        disabled_at=timezone.now(),
    )
    found = readings(health_snapshot())
    assert found["webhooks.lag"] == {"text": "7 min", "state": BAD}
    assert found["webhooks.disabled"] == {"text": "1: orders.example.com", "state": WARN}
