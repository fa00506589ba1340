"""The admin of events and webhook endpoints."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from events.models import WebhookEndpoint
from tests.carts.stubs import add
from tests.factories import ProductFactory, StaffFactory

pytestmark = pytest.mark.django_db
ENDPOINTS = "/admin/events/webhookendpoint/"
# The deliveries inline's management form, as the page sends it.
INLINE = {f"deliveries-{name}": "0" for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS")}


@pytest.fixture
def web():
    client = Client()
    client.force_login(StaffFactory(is_superuser=True))
    return client


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_adding_an_endpoint_shows_its_secret_once(web, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    form = {
        "url": "https://example.com/hook",
        "events": ["cart.checked_out"],
        "is_active": "on",
        **INLINE,
    }
    answer = web.post(f"{ENDPOINTS}add/", form, follow=True)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["cart.checked_out"]
    assert any(endpoint.secret in text for text in texts(answer))
    page = web.get(f"{ENDPOINTS}{endpoint.pk}/change/")
    assert endpoint.secret.encode() not in page.content


def test_a_private_url_is_refused_in_the_form(web, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    form = {"url": "https://10.0.0.8/hook", "events": ["*"], "is_active": "on", **INLINE}
    answer = web.post(f"{ENDPOINTS}add/", form)
    assert answer.status_code == 200
    assert b"Webhooks are not sent there" in answer.content
    assert not WebhookEndpoint.objects.exists()


def test_a_disabled_endpoint_says_why(web):
    endpoint = WebhookEndpoint.objects.create(
        url="https://example.com/hook",
        events=["*"],
        secret="whsec_x",
        is_active=False,
        disabled_at=timezone.now(),
        disabled_reason="evt_9 failed 8 times: HTTP 500",
    )
    page = web.get(f"{ENDPOINTS}{endpoint.pk}/change/")
    assert any("Disabled by the worker" in text and "HTTP 500" in text for text in texts(page))


def test_the_events_list_is_read_only(web, user_api):
    assert add(user_api, ProductFactory(stock=3)).status_code == 201
    listing = web.get("/admin/events/event/")
    assert listing.status_code == 200
    assert b"cart.created" in listing.content
    assert web.get("/admin/events/event/add/").status_code == 403
