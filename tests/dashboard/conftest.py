from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from carts.models import CartStatus
from health import checks
from tests.factories import ProductFactory, make_cart


@pytest.fixture(autouse=True)
def _static_files_without_manifest(settings):
    """The pages link their CSS and JS with {% static %}: serve them from the apps' static
    folders, so these tests need no `collectstatic` run first (`make run` does it)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_health_checks():
    """Health results are reused for a second or two; each test reads fresh ones."""
    checks._cache.clear()
    yield
    checks._cache.clear()


@pytest.fixture
def shop(db) -> datetime:
    """Carts of the last week whose figures are known by hand, and one of the week before.

    Last 7 days: 6 created, 5 with items, 2 checked out (60.00), 2 abandoned, 2 in progress;
    abandonment 0.5, conversion 0.4, average cart 23.00, average order 30.00.
    The 7 days before: 1 created and checked out, 180.00. Last 24 hours: 2 created, 1 with items.
    """
    now = timezone.now()
    tee = ProductFactory(sku="TEE", name="T-shirt", price=Decimal("20.00"))
    mug = ProductFactory(sku="MUG", name="Mug", price=Decimal("5.00"))
    checked_out = CartStatus.CHECKED_OUT
    make_cart(now=now, hours_ago=30, status=checked_out, lines=[(tee, 2)], total=Decimal("40"))
    make_cart(now=now, hours_ago=50, status=checked_out, lines=[(mug, 4)], total=Decimal("20"))
    make_cart(now=now, hours_ago=60, lines=[(tee, 1), (mug, 2)], idle_hours=48)
    make_cart(now=now, hours_ago=70, status=CartStatus.ABANDONED, lines=[(mug, 1)])
    make_cart(now=now, hours_ago=2, lines=[(tee, 1)], idle_hours=1)
    make_cart(now=now, hours_ago=3)
    make_cart(now=now, hours_ago=240, status=checked_out, lines=[(tee, 9)], total=Decimal("180"))
    return now
