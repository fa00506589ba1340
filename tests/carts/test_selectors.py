"""The one-statement cart reads: a head row (the cart, or a product) and the cart's lines."""

from datetime import timedelta

from django.utils import timezone

from carts.models import CartStatus
from carts.selectors import cart_get_active_with_lines, cart_lines_load_with_product
from carts.services import CartOwner
from tests.factories import CartFactory, CartItemFactory, ProductFactory


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


def oldest_first(cart) -> list[str]:
    return [item.product.sku for item in cart.items.order_by("created_at")]


def test_the_active_cart_comes_with_its_lines_oldest_first(user):
    cart = cart_with_lines(user, 3)
    CartFactory(user=user, status=CartStatus.ABANDONED)
    read = cart_get_active_with_lines(owner=CartOwner(user_id=user.pk))
    assert read.pk == cart.pk
    assert skus(read.lines) == oldest_first(cart)


def test_an_empty_cart_comes_with_no_lines(user):
    cart = CartFactory(user=user)
    read = cart_get_active_with_lines(owner=CartOwner(user_id=user.pk))
    assert (read.pk, read.lines) == (cart.pk, [])


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
