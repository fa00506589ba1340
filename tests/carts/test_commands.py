import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from carts.management.commands.load_demo_catalog import DEMO_PRODUCTS
from carts.models import Product


@pytest.mark.django_db
def test_demo_catalog_loads_once_and_keeps_staff_changes():
    call_command("load_demo_catalog")
    Product.objects.filter(sku=DEMO_PRODUCTS[0][0]).update(stock=3)
    call_command("load_demo_catalog")
    assert Product.objects.count() == len(DEMO_PRODUCTS)
    assert Product.objects.get(sku=DEMO_PRODUCTS[0][0]).stock == 3


@pytest.mark.django_db
def test_ensure_staff_user_creates_then_keeps_the_account(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "boss")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "first-password-42")
    call_command("ensure_staff_user")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "second-password-42")
    call_command("ensure_staff_user")
    boss = get_user_model().objects.get(username="boss")
    assert boss.is_staff
    assert boss.is_superuser
    assert boss.check_password("first-password-42")
    call_command("ensure_staff_user", "--reset-password")
    boss.refresh_from_db()
    assert boss.check_password("second-password-42")


@pytest.mark.django_db
def test_ensure_staff_user_needs_credentials(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    with pytest.raises(CommandError, match="DJANGO_SUPERUSER_USERNAME"):
        call_command("ensure_staff_user")
