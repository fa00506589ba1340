"""Reads of carts and products: the querysets the API and the services share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Prefetch, QuerySet, Sum

from carts.models import Cart, CartItem, CartStatus, Product

if TYPE_CHECKING:
    from carts.services import CartOwner


def cart_items_prefetch() -> Prefetch:
    return Prefetch("items", queryset=CartItem.objects.select_related("product"))


def cart_owned_by(*, owner: CartOwner, queryset: QuerySet[Cart] | None = None) -> QuerySet[Cart]:
    queryset = Cart.objects.all() if queryset is None else queryset
    if owner.user_id is not None:
        return queryset.filter(user_id=owner.user_id)
    return queryset.filter(session_id=owner.session_token)


def cart_get_active(*, owner: CartOwner, queryset: QuerySet[Cart] | None = None) -> Cart | None:
    return cart_owned_by(owner=owner, queryset=queryset).filter(status=CartStatus.ACTIVE).first()


def cart_get_active_with_items(*, owner: CartOwner) -> Cart | None:
    return cart_get_active(
        owner=owner, queryset=Cart.objects.prefetch_related(cart_items_prefetch())
    )


def cart_list() -> QuerySet[Cart]:
    """Every cart, lines included, for staff."""
    return Cart.objects.select_related("user").prefetch_related(cart_items_prefetch())


def product_list(*, include_inactive: bool) -> QuerySet[Product]:
    products = Product.objects.all()
    return products if include_inactive else products.filter(is_active=True)


def product_list_popular(*, limit: int) -> list[tuple[Product, int]]:
    """The products most added to carts, with their units over every cart line, most first."""
    totals = list(
        CartItem.objects.values("product_id")
        .annotate(units=Sum("quantity"))
        .order_by("-units", "product_id")[:limit]
    )
    products = Product.objects.in_bulk([row["product_id"] for row in totals])
    return [(products[row["product_id"]], row["units"]) for row in totals]
