"""The benchmark's data, written straight to the database (bulk inserts, no API calls).

A pool is a list of callers for a load script, one a line in a file: the header that names
the caller (`Authorization` or `X-Session-ID`), its value, and a cart line id or "".
"""

import random
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from carts.guest_sessions import guest_session_issue, guest_session_verify
from carts.models import Cart, CartDiscount, CartItem, DiscountCode, Product

User = get_user_model()
STOCK = 1_000_000_000
PASSWORD = "bench shopper passphrase"  # noqa: S105 (seeded test accounts only)


def catalog(count: int) -> list[Product]:
    """`count` products for sale with stock no run can exhaust, in id order."""
    rng = random.Random(1)
    Product.objects.bulk_create(
        Product(
            sku=f"BENCH-{n:05d}",
            name=f"Bench product {n}",
            price=Decimal(rng.randint(100, 20000)) / 100,
            stock=STOCK,
        )
        for n in range(count)
    )
    return list(Product.objects.order_by("id"))


def shoppers(name: str, count: int, products: list[Product], lines: int = 0) -> list[tuple]:
    """`count` users, each with an active cart of `lines` lines; one pool entry per user, or
    one per line when the cart has lines (for PATCH and DELETE)."""
    password = make_password(PASSWORD)  # hashed once: hashing is the slow part
    users = User.objects.bulk_create(
        User(username=f"bench-{name}-{n}", password=password) for n in range(count)
    )
    now = timezone.now()
    carts = Cart.objects.bulk_create(
        Cart(user=user, first_item_added_at=now if lines else None) for user in users
    )
    items = CartItem.objects.bulk_create(
        CartItem(cart=cart, product=product, quantity=1, unit_price=product.price)
        for cart in carts
        for product in products[:lines]
    )
    tokens = {user.pk: f"Bearer {AccessToken.for_user(user)}" for user in users}
    if not lines:
        return [("Authorization", tokens[user.pk], "") for user in users]
    owners = {cart.pk: cart.user_id for cart in carts}
    return [("Authorization", tokens[owners[item.cart_id]], item.pk) for item in items]


def checkout_carts(name: str, count: int, products: list[Product], lines: int) -> list[tuple]:
    """`count` users, each with an active cart of `lines` distinct products drawn at random from
    `products` (so that checkouts lock different rows, as a shop's do); one entry per user."""
    rng = random.Random(name)
    password = make_password(PASSWORD)
    users = User.objects.bulk_create(
        User(username=f"bench-{name}-{n}", password=password) for n in range(count)
    )
    now = timezone.now()
    carts = Cart.objects.bulk_create(Cart(user=user, first_item_added_at=now) for user in users)
    CartItem.objects.bulk_create(
        CartItem(cart=cart, product=product, quantity=1, unit_price=product.price)
        for cart in carts
        for product in rng.sample(products, lines)
    )
    return [("Authorization", f"Bearer {AccessToken.for_user(user)}", "") for user in users]


def code_on_carts(name: str) -> None:
    """Put a discount code (10 % off every line, no limit of uses) on the active carts of the
    users `shoppers` or `checkout_carts` seeded as `name`."""
    code, _ = DiscountCode.objects.get_or_create(
        code="BENCH10", defaults={"kind": "percentage", "value": Decimal("10")}
    )
    carts = list(Cart.objects.filter(user__username__startswith=f"bench-{name}-", status="active"))
    CartDiscount.objects.bulk_create(CartDiscount(cart=cart, code=code) for cart in carts)
    Cart.objects.filter(pk__in=[cart.pk for cart in carts]).update(discount_count=1)


def guests(count: int) -> list[tuple]:
    """`count` guest sessions, each with an empty active cart."""
    sessions = [guest_session_issue() for _ in range(count)]
    Cart.objects.bulk_create(Cart(session_id=token) for _, token in sessions)
    return [("X-Session-ID", session_id, "") for session_id, _ in sessions]


def empty_carts(pool: list[tuple]) -> None:
    """Remove every line of the pool's carts, so each scenario starts from empty carts."""
    users = [value for header, value, _ in pool if header == "Authorization"]
    tokens = [guest_session_verify(value) for header, value, _ in pool if header == "X-Session-ID"]
    user_ids = [AccessToken(value.removeprefix("Bearer "))["user_id"] for value in users]
    CartItem.objects.filter(cart__user_id__in=user_ids).delete()
    CartItem.objects.filter(cart__session_id__in=tokens).delete()


def write_pool(path: Path, pool: list[tuple], shuffle: bool = False) -> Path:
    """Write a pool for the Lua scripts; shuffled so concurrent requests hit other carts."""
    pool = list(pool)
    if shuffle:
        random.Random(2).shuffle(pool)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{header}\t{value}\t{item}\n" for header, value, item in pool))
    return path
