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


@pytest.mark.django_db
def test_cart_jobs_report_what_they_did(capsys):
    call_command("mark_abandoned_carts")
    call_command("purge_carts", "--older-than", "30")
    output = capsys.readouterr().out
    assert "0 cart(s) marked abandoned" in output
    assert "0 cart(s) older than 30 days deleted" in output


@pytest.mark.django_db
@pytest.mark.parametrize(
    "arguments",
    [("purge_carts", "--older-than", "0"), ("mark_abandoned_carts", "--batch-size", "0")],
)
def test_cart_jobs_refuse_nonsense(arguments):
    with pytest.raises(CommandError):
        call_command(*arguments)
