"""Fixtures of the cart tests: the other services, as real HTTP servers on loopback."""

import pytest

from tests.carts.stubs import TIMEOUT_MS, FakeService


@pytest.fixture
def fast_breaker(settings):
    """Outside calls time out after TIMEOUT_MS; breakers trip and reset quickly."""
    settings.EXTERNAL_TIMEOUT_MS = TIMEOUT_MS
    settings.BREAKER_RESET_SECONDS = 1
    settings.BREAKER_MIN_CALLS = 10
    settings.BREAKER_ERROR_PERCENT = 50
    settings.BREAKER_WINDOW_SECONDS = 60


@pytest.fixture
def fake_services():
    services = []

    def start() -> FakeService:
        services.append(FakeService())
        return services[-1]

    yield start
    for service in services:
        service.stop()


@pytest.fixture
def products(settings, fake_services):
    service = fake_services()
    settings.PRODUCT_SERVICE_URL = service.url
    return service


@pytest.fixture
def payments(settings, fake_services):
    service = fake_services()
    settings.PAYMENT_SERVICE_URL = service.url
    return service
