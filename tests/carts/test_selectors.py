"""The one-statement cart reads: a head row (the cart, or a product) and the cart's lines."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from addtocart.renderers import JSONRenderer
from carts import selectors
from carts.models import CartStatus
from carts.selectors import cart_get_active_with_lines, cart_lines_load_with_product
from carts.serializers import cart_representation
from carts.services import CartOwner
from tests.factories import CartFactory, CartItemFactory, ProductFactory

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL writes the lines' JSON"
)


def cart_with_lines(user, count: int):
    """An active cart whose lines were added in the reverse of their id order."""
    cart = CartFactory(user=user)
    now = timezone.now()
    for age in range(count):
        item = CartItemFactory(cart=cart)
        item.created_at = now - timedelta(minutes=age)
        item.save(update_fields=["created_at"])
    return cart


def skus(lines) -> list[str]:
    return [line.sku for line in lines]


def answer(cart) -> bytes:
    """The cart's answer body, as GET cart/ writes it."""
    return JSONRenderer().render(cart_representation(cart, cart.lines, session_id=None))


def answer_skus(cart) -> list[str]:
    return [item["product"]["sku"] for item in json.loads(answer(cart))["items"]]


def oldest_first(cart) -> list[str]:
    return [item.product.sku for item in cart.items.order_by("created_at")]


def test_the_active_cart_comes_with_its_lines_oldest_first(user):
    cart = cart_with_lines(user, 3)
    CartFactory(user=user, status=CartStatus.ABANDONED)
    read = cart_get_active_with_lines(owner=CartOwner(user_id=user.pk))
    assert read.pk == cart.pk
    assert answer_skus(read) == oldest_first(cart)


def test_an_empty_cart_comes_with_no_lines(user):
    cart = CartFactory(user=user)
    read = cart_get_active_with_lines(owner=CartOwner(user_id=user.pk))
    document = json.loads(answer(read))
    assert (read.pk, document["items"], document["subtotal"]) == (cart.pk, [], "0.00")
    assert document["total_quantity"] == 0


def test_no_active_cart_reads_as_none(user):
    cart_with_lines(user, 1).delete()
    CartFactory(user=user, status=CartStatus.ABANDONED)
    assert cart_get_active_with_lines(owner=CartOwner(user_id=user.pk)) is None


def test_the_product_comes_with_the_carts_lines(user):
    cart, product = cart_with_lines(user, 3), ProductFactory(stock=7)
    found = cart_lines_load_with_product(cart=cart, product_id=product.pk)
    assert (found.pk, found.sku, found.stock, found.price) == (
        product.pk,
        product.sku,
        7,
        product.price,
    )
    assert skus(cart.lines) == oldest_first(cart)


def test_a_product_off_sale_is_read_too(user):
    cart, product = cart_with_lines(user, 1), ProductFactory(is_active=False)
    found = cart_lines_load_with_product(cart=cart, product_id=product.pk)
    assert (found.pk, found.is_active) == (product.pk, False)


def test_a_missing_product_reads_as_none_and_the_lines_still_come(user):
    cart = cart_with_lines(user, 2)
    assert cart_lines_load_with_product(cart=cart, product_id=0) is None
    assert skus(cart.lines) == oldest_first(cart)


def test_a_product_already_in_the_cart_is_both_the_product_and_a_line(user):
    cart = cart_with_lines(user, 2)
    item = cart.items.first()
    found = cart_lines_load_with_product(cart=cart, product_id=item.product_id)
    assert found.pk == item.product_id
    assert [line.id for line in cart.lines if line.product_id == found.pk] == [item.pk]
    assert len(cart.lines) == 2


NAMES = [
    'Quote " and backslash \\',
    "tab\tnew line\ncontrol \x01\x1f\x7f",
    "Ünïcode ✓ 😀",
    "separators \u2028 \u2029",
    "</script><b>",
]


def owner_of_a_cart_with_every_kind_of_line(user) -> CartOwner:
    """Names JSON must escape, the largest price and quantity, a free product."""
    cart = CartFactory(user=user)
    for name in NAMES:
        CartItemFactory(cart=cart, product=ProductFactory(name=name, sku=f"{name[:20]}-sku"))
    biggest = ProductFactory(price=Decimal("9999999999.99"))
    CartItemFactory(cart=cart, product=biggest, quantity=100_000)
    CartItemFactory(cart=cart, product=ProductFactory(price=Decimal("0.00")), quantity=3)
    CartItemFactory(cart=cart, product=ProductFactory(price=Decimal("0.05")), quantity=7)
    return CartOwner(user_id=user.pk)


@postgresql_only
def test_postgresql_writes_the_lines_as_the_service_writes_them(user):
    owner = owner_of_a_cart_with_every_kind_of_line(user)
    column, value = selectors.owner_filter(owner)
    rendered = selectors._cart_get_active_rendered(column, value)
    assert isinstance(rendered.lines, selectors.RenderedLines)
    in_python = selectors._cart_get_active_lines(column, value)
    assert answer(rendered) == answer(in_python)
    document = json.loads(answer(rendered))
    assert [item["product"]["name"] for item in document["items"]][: len(NAMES)] == NAMES
    assert document["items"][len(NAMES)]["line_total"] == "999999999999000.00"
    assert document["subtotal"] == "999999999999050.35"  # and 5 x 10.00


@postgresql_only
def test_postgresql_writes_an_empty_cart_as_the_service_does(user):
    CartFactory(user=user)
    column, value = selectors.owner_filter(CartOwner(user_id=user.pk))
    rendered = selectors._cart_get_active_rendered(column, value)
    assert answer(rendered) == answer(selectors._cart_get_active_lines(column, value))


def test_the_python_read_keeps_the_lines_order(user):
    """The read other databases use (SQLite in `make run`), here on this one."""
    cart = cart_with_lines(user, 3)
    column, value = selectors.owner_filter(CartOwner(user_id=user.pk))
    read = selectors._cart_get_active_lines(column, value)
    assert skus(read.lines) == oldest_first(cart)
