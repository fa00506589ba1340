"""Reads of carts and products: what the API, the admin and the services read."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Aggregate,
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    Field,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from carts.analytics import LINE_VALUE, MONEY_OUTPUT
from carts.db import document, statements
from carts.db.discounts import USES_PREFETCH
from carts.db.statements import owner_filter
from carts.domain import CartOwner, CartState
from carts.models import (
    AttemptStatus,
    Cart,
    CartItem,
    CartStatus,
    CheckoutAttempt,
    DiscountCode,
    Product,
    SavedItem,
    StockReservation,
    StockSale,
)


def cart_get_active_with_lines(*, owner: CartOwner) -> CartState | None:
    """The owner's active cart with its lines, in one statement: on PostgreSQL written as
    the document's JSON, elsewhere as `CartLine`s."""
    if connection.vendor == "postgresql":
        return document.cart_read_active_rendered(owner=owner)
    return statements.cart_read_active(owner=owner)


def cart_read_checking_out(*, owner: CartOwner) -> Cart | None:
    """The owner's cart being checked out, if any."""
    column, value = owner_filter(owner)
    return Cart.objects.filter(status=CartStatus.CHECKING_OUT, **{column: value}).first()


def cart_items_with_products(*, owner: CartOwner) -> list[CartItem]:
    """The lines of the owner's active cart, in order, with their products and the cart, in
    one unlocked query (none: no active cart, or an empty one)."""
    column, value = owner_filter(owner)
    items = CartItem.objects.select_related("product", "cart").filter(
        cart__status=CartStatus.ACTIVE, **{f"cart__{column}": value}
    )
    return list(items.order_by("created_at", "id"))


def line_product_read(*, owner: CartOwner, item_id: int) -> Product | None:
    """The product of a line of the owner's active cart, unlocked (None if there is none)."""
    column, value = owner_filter(owner)
    carts = Cart.objects.filter(status=CartStatus.ACTIVE, **{column: value})
    return Product.objects.filter(cart_items__pk=item_id, cart_items__cart__in=carts).first()


def cart_skus_read(*, owner: CartOwner) -> list[str]:
    """The SKUs of the products in the owner's active cart, unlocked."""
    column, value = owner_filter(owner)
    products = Product.objects.filter(
        cart_items__cart__status=CartStatus.ACTIVE, **{f"cart_items__cart__{column}": value}
    )
    return list(products.values_list("sku", flat=True))


def owner_may_buy(*, owner: CartOwner) -> bool:
    """A guest, or a user whose account is still active: an access token outlives a
    deactivation by up to its lifetime, and checkout must not."""
    if owner.user_id is None:
        return True
    return get_user_model().objects.filter(pk=owner.user_id, is_active=True).exists()


def attempt_completed_read(*, owner: CartOwner, request_key: str) -> CheckoutAttempt | None:
    """The owner's completed checkout attempt sent with this Idempotency-Key, with its cart."""
    column, value = owner_filter(owner)
    attempts = CheckoutAttempt.objects.select_related("cart").filter(
        status=AttemptStatus.COMPLETED, request_key=request_key, **{f"cart__{column}": value}
    )
    return attempts.first()


def attempt_expired_of(*, owner: CartOwner, now: datetime) -> CheckoutAttempt | None:
    """The owner's checkout still holding stock past its expiry: its worker is gone."""
    column, value = owner_filter(owner)
    return CheckoutAttempt.objects.filter(
        status=AttemptStatus.RESERVED, expires_at__lt=now, **{f"cart__{column}": value}
    ).first()


def cart_list() -> QuerySet[Cart]:
    """Every cart, lines included, for staff."""
    lines = Prefetch("items", queryset=CartItem.objects.select_related("product"))
    return Cart.objects.select_related("user").prefetch_related(lines, *USES_PREFETCH)


def discount_code_list() -> QuerySet[DiscountCode]:
    """Every discount code, newest first, with its products' ids (staff's API)."""
    products = Prefetch("products", queryset=Product.objects.only("pk").order_by())
    return DiscountCode.objects.prefetch_related(products).order_by("-created_at", "-id")


def product_list(*, include_inactive: bool) -> QuerySet[Product]:
    products = Product.objects.all()
    return products if include_inactive else products.filter(is_active=True)


def product_stock_held(*, product_id: int, counted_before: datetime) -> int:
    """Units of a product the product service's figure, fetched at `counted_before`, does not
    yet count: reserved by checkouts, or sold and told to it only after (or not yet)."""
    reserved = StockReservation.objects.filter(product_id=product_id)
    unreported = StockSale.objects.filter(product_id=product_id).exclude(
        reported_at__lte=counted_before
    )
    return sum(
        rows.aggregate(units=Coalesce(Sum("quantity"), 0))["units"]
        for rows in (reserved, unreported)
    )


def product_list_popular(*, limit: int) -> list[tuple[Product, int]]:
    """The products most added to carts, with their units over every cart line, most first."""
    totals = list(
        CartItem.objects.values("product_id")
        .annotate(units=Sum("quantity"))
        .order_by("-units", "product_id")[:limit]
    )
    products = Product.objects.in_bulk([row["product_id"] for row in totals])
    return [(products[row["product_id"]], row["units"]) for row in totals]


def aggregate_of_rows(rows: QuerySet, aggregate: Aggregate, output_field: Field) -> Coalesce:
    """An aggregate over related rows as a correlated subquery: PostgreSQL computes it for the
    rows of the page only, where a join with GROUP BY would aggregate the whole table first
    (200,000 carts: 9 ms against 1.9 s a page)."""
    value = Subquery(rows.order_by().annotate(figure=aggregate).values("figure"))
    return Coalesce(value, 0, output_field=output_field)


def carts_with_figures(queryset: QuerySet[Cart]) -> QuerySet[Cart]:
    """Carts annotated with `line_count`, `quantity_sum` and `subtotal_sum` (quantity x
    unit price over the lines, as in `carts.analytics`)."""
    lines = CartItem.objects.filter(cart=OuterRef("pk")).values("cart")
    return queryset.annotate(
        line_count=aggregate_of_rows(lines, Count("pk"), IntegerField()),
        quantity_sum=aggregate_of_rows(lines, Sum("quantity"), IntegerField()),
        subtotal_sum=aggregate_of_rows(lines, Sum(LINE_VALUE), MONEY_OUTPUT),
    )


def saved_items_read(*, user_id: int) -> QuerySet[SavedItem]:
    """The user's saved items, newest first, each with its product and `available` (the
    product is for sale with stock for the saved quantity): one query."""
    available = ExpressionWrapper(
        Q(product__is_active=True, product__stock__gte=F("quantity")), output_field=BooleanField()
    )
    items = SavedItem.objects.filter(user_id=user_id).select_related("product")
    return items.annotate(available=available)


def saved_item_read(*, user_id: int, saved_item_id: int) -> SavedItem | None:
    """One of the user's saved items with its product (None if the user has no such item)."""
    items = SavedItem.objects.select_related("product").filter(user_id=user_id, pk=saved_item_id)
    return items.first()
