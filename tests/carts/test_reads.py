"""The one-statement cart reads: a head row (the cart, or a product) and the cart's lines."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from addtocart.api.renderers import JSONRenderer
from carts.db.document import cart_document, cart_read_active_rendered
from carts.db.statements import cart_lines_read_with_product, cart_read_active
from carts.domain import CartOwner, RenderedLines
from carts.models import CartStatus
from carts.selectors import cart_get_active_with_lines
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


def answer(state) -> bytes:
    """The cart's answer body, as GET cart/ writes it."""
    return JSONRenderer().render(cart_document(state, session_id=None))


def answer_skus(cart) -> list[str]:
    return [item["product"]["sku"] for item in json.loads(answer(cart))["items"]]


def oldest_first(cart) -> list[str]:
    return [item.product.sku for item in cart.items.order_by("created_at")]


def test_the_active_cart_comes_with_its_lines_oldest_first(user):
    cart = cart_with_lines(user, 3)
    CartFactory(user=user, status=CartStatus.ABANDONED)
    read = cart_get_active_with_lines(owner=CartOwner(user_id=user.pk))
    assert read.cart.pk == cart.pk
    assert answer_skus(read) == oldest_first(cart)


def test_an_empty_cart_comes_with_no_lines(user):
    cart = CartFactory(user=user)
    read = cart_get_active_with_lines(owner=CartOwner(user_id=user.pk))
    document = json.loads(answer(read))
    assert (read.cart.pk, document["items"], document["subtotal"]) == (cart.pk, [], "0.00")
    assert document["total_quantity"] == 0


def test_no_active_cart_reads_as_none(user):
    cart_with_lines(user, 1).delete()
    CartFactory(user=user, status=CartStatus.ABANDONED)
    assert cart_get_active_with_lines(owner=CartOwner(user_id=user.pk)) is None


def test_the_product_comes_with_the_carts_lines(user):
    cart, product = cart_with_lines(user, 3), ProductFactory(stock=7)
    found, lines = cart_lines_read_with_product(cart=cart, product_id=product.pk)
    assert (found.pk, found.sku, found.stock, found.price) == (
        product.pk,
        product.sku,
        7,
        product.price,
    )
    assert skus(lines) == oldest_first(cart)


def test_a_product_off_sale_is_read_too(user):
    cart, product = cart_with_lines(user, 1), ProductFactory(is_active=False)
    found, _ = cart_lines_read_with_product(cart=cart, product_id=product.pk)
    assert (found.pk, found.is_active) == (product.pk, False)


def test_a_missing_product_reads_as_none_and_the_lines_still_come(user):
    cart = cart_with_lines(user, 2)
    found, lines = cart_lines_read_with_product(cart=cart, product_id=0)
    assert found is None
    assert skus(lines) == oldest_first(cart)


def test_a_product_already_in_the_cart_is_both_the_product_and_a_line(user):
    cart = cart_with_lines(user, 2)
    item = cart.items.first()
    found, lines = cart_lines_read_with_product(cart=cart, product_id=item.product_id)
    assert found.pk == item.product_id
    assert [line.id for line in lines if line.product_id == found.pk] == [item.pk]
    assert len(lines) == 2


NAMES = [
    'Quote " and backslash \\',
    "tab\tnew line\ncontrol \x01\x1f\x7f",
    "Ünïcode ✓ 😀",
    "separators \u2028 \u2029",
    "</script><b>",
]


def owner_of_a_cart_with_every_kind_of_line(user) -> CartOwner:
    """Names and attributes JSON must escape (their keys in an order PostgreSQL and Python
    sort alike), the largest price and quantity, a free product."""
    cart = CartFactory(user=user)
    for n, name in enumerate(NAMES):
        attributes = {"zeta": name, "Alpha": str(n), "émoji 😀": name[::-1], 'a"b': "x"}
        CartItemFactory(
            cart=cart,
            product=ProductFactory(name=name, sku=f"{name[:20]}-sku"),
            attributes=attributes,
        )
    biggest = ProductFactory(price=Decimal("9999999999.99"))
    CartItemFactory(cart=cart, product=biggest, quantity=100_000)
    CartItemFactory(cart=cart, product=ProductFactory(price=Decimal("0.00")), quantity=3)
    CartItemFactory(cart=cart, product=ProductFactory(price=Decimal("0.05")), quantity=7)
    return CartOwner(user_id=user.pk)


@postgresql_only
def test_postgresql_writes_the_lines_as_the_service_writes_them(user):
    owner = owner_of_a_cart_with_every_kind_of_line(user)
    rendered = cart_read_active_rendered(owner=owner)
    assert isinstance(rendered.lines, RenderedLines)
    in_python = cart_read_active(owner=owner)
    assert answer(rendered) == answer(in_python)
    document = json.loads(answer(rendered))
    assert [item["product"]["name"] for item in document["items"]][: len(NAMES)] == NAMES
    assert list(document["items"][0]["attributes"]) == ["Alpha", 'a"b', "zeta", "émoji 😀"]
    assert document["items"][-1]["attributes"] == {}
    assert document["items"][len(NAMES)]["line_total"] == "999999999999000.00"
    assert document["subtotal"] == "999999999999050.35"  # and 5 x 10.00


@postgresql_only
def test_postgresql_writes_an_empty_cart_as_the_service_does(user):
    CartFactory(user=user)
    owner = CartOwner(user_id=user.pk)
    assert answer(cart_read_active_rendered(owner=owner)) == answer(cart_read_active(owner=owner))


def test_the_python_read_keeps_the_lines_order(user):
    """The read other databases use (SQLite in `make run`), here on this one."""
    cart = cart_with_lines(user, 3)
    read = cart_read_active(owner=CartOwner(user_id=user.pk))
    assert skus(read.lines) == oldest_first(cart)
