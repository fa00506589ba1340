import pytest
from django.test import Client

from health import checks
from tests.health.support import HEALTH_TOKEN


@pytest.fixture(autouse=True)
def _fresh_health_checks(settings):
    """Health results are cached per process for a second or two; tests want fresh ones."""
    checks._cache.clear()
    yield
    checks._cache.clear()


@pytest.fixture
def token_client(settings):
    """A Django test client that sends the health token, which the settings now require."""
    settings.HEALTH_TOKEN = HEALTH_TOKEN
    return Client(HTTP_AUTHORIZATION=f"Bearer {HEALTH_TOKEN}")
