"""The rules the database itself enforces, whatever code writes to it."""

from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError
from django.utils import timezone

from carts.models import Cart, CartItem, CartStatus, Product
from tests.factories import CartFactory, CartItemFactory, ProductFactory

pytestmark = pytest.mark.django_db


@contextmanager
def refused():
    """Expect the database to refuse the write (rolled back, so the test can go on)."""
    with pytest.raises(IntegrityError), transaction.atomic():
        yield


@pytest.fixture(params=["user", "session"])
def owner_fields(request, user) -> dict:
    return {"user": user} if request.param == "user" else {"user": None, "session_id": "tok"}


def closed(status: str) -> dict:
    if status == CartStatus.CHECKED_OUT:
        return {"status": status, "total": Decimal("1.00"), "checked_out_at": timezone.now()}
    return {"status": status}


def test_one_active_cart_per_owner(owner_fields):
    CartFactory(**owner_fields)
    with refused():
        CartFactory(**owner_fields)
    assert Cart.objects.count() == 1


def test_closed_carts_do_not_count_against_the_active_one(owner_fields):
    CartFactory(**owner_fields)
    for status in (CartStatus.CHECKED_OUT, CartStatus.CHECKED_OUT, CartStatus.MERGED):
        CartFactory(**owner_fields, **closed(status))
    assert Cart.objects.filter(status=CartStatus.ACTIVE).count() == 1
    assert Cart.objects.count() == 4


def test_different_owners_each_have_an_active_cart(user):
    CartFactory(user=user)
    CartFactory()
    CartFactory(user=None, session_id="a")
    CartFactory(user=None, session_id="b")
    assert Cart.objects.filter(status=CartStatus.ACTIVE).count() == 4


@pytest.mark.parametrize("both", [False, True], ids=["neither", "both"])
def test_a_cart_has_exactly_one_owner(user, both):
    with refused():
        CartFactory(user=user if both else None, session_id="tok" if both else None)
    assert not Cart.objects.exists()


def test_a_checked_out_cart_needs_a_total_and_a_time(user):
    with refused():
        CartFactory(user=user, status=CartStatus.CHECKED_OUT)


def test_cart_version_starts_at_one(user):
    with refused():
        CartFactory(user=user, version=0)


def test_a_line_holds_at_least_one_unit():
    with refused():
        CartItemFactory(quantity=0)
    assert not CartItem.objects.exists()


def test_a_cart_has_one_line_per_product():
    line = CartItemFactory()
    with refused():
        CartItemFactory(cart=line.cart, product=line.product)
    assert CartItem.objects.count() == 1


def test_a_line_price_is_not_negative():
    with refused():
        CartItemFactory(unit_price=Decimal("-0.01"))


def test_stock_never_goes_negative(product):
    with refused():
        Product.objects.filter(pk=product.pk).update(stock=F("stock") - (product.stock + 1))
    assert Product.objects.get(pk=product.pk).stock == product.stock


def test_a_price_is_not_negative(product):
    with refused():
        Product.objects.filter(pk=product.pk).update(price=Decimal("-0.01"))


def test_a_product_in_a_cart_cannot_be_deleted():
    line = CartItemFactory()
    with pytest.raises(ProtectedError):
        line.product.delete()
    assert Product.objects.filter(pk=line.product_id).exists()


def test_deleting_a_user_deletes_their_carts(user):
    CartItemFactory(cart=CartFactory(user=user), product=ProductFactory())
    user.delete()
    assert not Cart.objects.exists()
    assert not CartItem.objects.exists()
