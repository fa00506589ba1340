from datetime import datetime, timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet

from carts.attributes import attributes_key
from carts.domain import CartOwner
from carts.models import Cart, CartItem, CartStatus, Product

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"shopper{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


class StaffFactory(UserFactory):
    is_staff = True


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("10.00")
    currency = "EUR"
    stock = 100


class CartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cart

    user = factory.SubFactory(UserFactory)


class CartItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CartItem

    cart = factory.SubFactory(CartFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    unit_price = factory.LazyAttribute(lambda item: item.product.price)
    attributes = factory.LazyFunction(dict)
    attributes_key = factory.LazyAttribute(lambda item: attributes_key(item.attributes))


def make_cart(
    *,
    now: datetime,
    hours_ago: float,
    status=CartStatus.ACTIVE,
    lines=(),
    idle_hours=None,
    total=None,
):
    """A cart created `hours_ago` before `now`, last active `idle_hours` ago, with
    (product, quantity) lines: carts whose business figures can be checked by hand."""
    created = now - timedelta(hours=hours_ago)
    cart = CartFactory(
        created_at=created,
        updated_at=now - timedelta(hours=hours_ago if idle_hours is None else idle_hours),
        status=status,
        first_item_added_at=created if lines else None,
        total=total,
        checked_out_at=created + timedelta(minutes=30)
        if status == CartStatus.CHECKED_OUT
        else None,
    )
    for product, quantity in lines:
        CartItemFactory(cart=cart, product=product, quantity=quantity, unit_price=product.price)
    return cart


# Reads the tests make of the stored carts (the service reads through carts.selectors).


def cart_owned_by(*, owner: CartOwner, queryset: QuerySet[Cart] | None = None) -> QuerySet[Cart]:
    queryset = Cart.objects.all() if queryset is None else queryset
    if owner.user_id is not None:
        return queryset.filter(user_id=owner.user_id)
    return queryset.filter(session_id=owner.session_token)


def cart_get_active(*, owner: CartOwner, queryset: QuerySet[Cart] | None = None) -> Cart | None:
    return cart_owned_by(owner=owner, queryset=queryset).filter(status=CartStatus.ACTIVE).first()


def cart_items_prefetch() -> Prefetch:
    return Prefetch("items", queryset=CartItem.objects.select_related("product"))


class DiscountCodeFactory(factory.django.DjangoModelFactory):
    """A percentage code, 10 % off every product; `kind="fixed_amount"` wants a `currency`."""

    class Meta:
        model = "carts.DiscountCode"
        skip_postgeneration_save = True  # `products` saves the links itself

    code = factory.Sequence(lambda n: f"CODE{n:05d}")
    kind = "percentage"
    value = Decimal("10.00")

    @factory.post_generation
    def products(self, create, extracted, **kwargs):
        """`products=[...]`: only those products' lines are discounted."""
        if create and extracted:
            self.products.set(extracted)
