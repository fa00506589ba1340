from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from carts.management.commands.load_demo_catalog import DEMO_CODES, DEMO_PRODUCTS
from carts.models import Cart, CartItem, CartStatus, DiscountCode, Product
from carts.services import cart_purge_old
from tests.factories import ProductFactory, make_cart

OLD = 24 * 40  # hours: older than --older-than 30


@pytest.mark.django_db
def test_demo_catalog_loads_once_and_keeps_staff_changes():
    call_command("load_demo_catalog")
    Product.objects.filter(sku=DEMO_PRODUCTS[0][0]).update(stock=3)
    call_command("load_demo_catalog")
    assert Product.objects.count() == len(DEMO_PRODUCTS)
    assert Product.objects.get(sku=DEMO_PRODUCTS[0][0]).stock == 3


@pytest.mark.django_db
def test_demo_codes_load_once_and_keep_staff_changes():
    call_command("load_demo_catalog")
    DiscountCode.objects.filter(code="WELCOME10").update(value=15)
    call_command("load_demo_catalog")
    assert DiscountCode.objects.count() == len(DEMO_CODES)
    assert DiscountCode.objects.get(code="WELCOME10").value == 15
    mugs = DiscountCode.objects.get(code="MUGS5")
    assert [product.sku for product in mugs.products.all()] == ["MUG-CER"]


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


@pytest.mark.django_db
def test_purge_carts_deletes_old_carts_in_batches_and_keeps_the_rest(capsys):
    now, product = timezone.now(), ProductFactory(price=Decimal("4.00"))
    emptied = make_cart(now=now, hours_ago=OLD, lines=[(product, 1)])
    CartItem.objects.filter(cart=emptied).delete()
    doomed = [
        make_cart(now=now, hours_ago=OLD, status=CartStatus.ABANDONED, lines=[(product, 1)]),
        make_cart(now=now, hours_ago=OLD, status=CartStatus.MERGED, lines=[(product, 2)]),
        make_cart(now=now, hours_ago=OLD),  # never held a line
        emptied,
    ]
    unmarked = make_cart(now=now, hours_ago=OLD, lines=[(product, 1)])
    Cart.objects.filter(pk=unmarked.pk).update(first_item_added_at=None)  # older than the mark
    kept = [
        make_cart(now=now, hours_ago=OLD, lines=[(product, 1)]),  # still holds a line
        unmarked,
        make_cart(
            now=now,
            hours_ago=OLD,
            status=CartStatus.CHECKED_OUT,
            lines=[(product, 1)],
            total=Decimal("4.00"),
        ),
        make_cart(now=now, hours_ago=24 * 10, status=CartStatus.ABANDONED, lines=[(product, 1)]),
    ]
    call_command("purge_carts", "--older-than", "30", "--batch-size", "2")
    assert "4 cart(s) older than 30 days deleted" in capsys.readouterr().out
    assert set(Cart.objects.values_list("pk", flat=True)) == {cart.pk for cart in kept}
    assert not CartItem.objects.filter(cart_id__in=[cart.pk for cart in doomed]).exists()
    assert CartItem.objects.count() == 4


@pytest.mark.django_db
def test_a_purge_batch_locks_the_longest_idle_first_and_loads_no_whole_cart():
    """Each batch picks carts by `updated_at` (the order of the partial index behind it) and
    deletes them and their lines without loading more than their ids."""
    now, product = timezone.now(), ProductFactory()
    carts = [
        make_cart(now=now, hours_ago=OLD + hours, status=CartStatus.ABANDONED, lines=[(product, 1)])
        for hours in range(5)
    ]
    with CaptureQueriesContext(connection) as captured:
        assert cart_purge_old(older_than=timedelta(days=30), batch_size=2, max_batches=1) == 2
    assert set(Cart.objects.values_list("pk", flat=True)) == {cart.pk for cart in carts[:3]}
    selects = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert 'ORDER BY "carts_cart"."updated_at" ASC' in selects[0]
    if connection.features.has_select_for_update_skip_locked:  # not SQLite
        assert "FOR UPDATE SKIP LOCKED" in selects[0]
    ids_only = (
        'SELECT "carts_cart"."id"',
        'SELECT "carts_checkoutattempt"."id"',
        'SELECT "carts_checkoutrefusal"."id"',
    )
    assert all(sql.startswith(ids_only) for sql in selects)
