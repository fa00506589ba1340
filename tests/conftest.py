import time

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.tokens import RefreshToken

from addtocart.api.throttling import leases_clear
from carts.domain import CartOwner
from tests.factories import ProductFactory, StaffFactory, UserFactory


@pytest.fixture(autouse=True)
def _clean_cache():
    """Throttle counters and cached data live in Redis, and this process's rate-limit leases
    beside them: start every test without them."""
    cache.clear()
    leases_clear()
    yield
    cache.clear()
    leases_clear()


@pytest.fixture(autouse=True)
def _throttle_clock_inside_one_window(monkeypatch):
    """The throttles count in fixed windows (a minute, an hour): a test that sends a few
    hundred requests across a minute's end would see its count start again. Their clock
    (DRF's `timer`) stands still for in-process tests, 30 s into an hour."""
    pinned = time.time() // 3600 * 3600 + 30
    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(lambda: pinned))


def bearer(user) -> str:
    return f"Bearer {RefreshToken.for_user(user).access_token}"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return StaffFactory()


@pytest.fixture
def user_api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(user))
    return client


@pytest.fixture
def staff_api(staff):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(staff))
    return client


@pytest.fixture
def owner(user):
    return CartOwner(user_id=user.pk)


@pytest.fixture
def product(db):
    return ProductFactory()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Factories set passwords for every user; the real hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _in_a_transaction() -> bool:
    """Is any connection inside an atomic block of the service's own (not the test's)?"""
    from django.db import connections

    return any(
        not getattr(block, "_from_testcase", False)
        for connection in connections.all(initialized_only=True)
        for block in connection.atomic_blocks
    )


@pytest.fixture(autouse=True)
def _no_outside_call_inside_a_transaction(monkeypatch):
    """No request to another service while a transaction may hold row locks: every outside
    call goes through requests, which fails the test if made inside an atomic block."""
    import requests

    send = requests.Session.request

    def guarded(self, method, url, *args, **kwargs):
        if _in_a_transaction():
            pytest.fail(f"{method} {url} was sent inside a database transaction")
        return send(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", guarded)
