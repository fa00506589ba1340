"""Reads of carts and products: the querysets the API and the services share."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from django.db import connection
from django.db.models import Field, Prefetch, QuerySet, Sum

from carts import sql
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


class CartLine(NamedTuple):
    """A cart line as the API shows it, with its product's SKU and name: what cart reads and
    answers need, without building a model instance per line."""

    id: int
    product_id: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal

    @classmethod
    def of(cls, line: CartItem) -> CartLine:
        product = line.product
        return cls(line.pk, product.pk, product.sku, product.name, line.quantity, line.unit_price)


# The cart reads below are hand-written SQL (carts/sql.py says why and how). Only column
# names from the models are put into the SQL text (hence the S608 exemptions).
CART_FIELDS = Cart._meta.concrete_fields
LINE_FIELDS = (
    CartItem._meta.get_field("id"),
    CartItem._meta.get_field("product"),
    Product._meta.get_field("sku"),
    Product._meta.get_field("name"),
    CartItem._meta.get_field("quantity"),
    CartItem._meta.get_field("unit_price"),
)
# Aliases: i for carts_cartitem, p for carts_product.
LINE_COLUMNS = ", ".join(
    f"{'p' if field.model is Product else 'i'}.{field.column}" for field in LINE_FIELDS
)
PRODUCT_FIELDS = Product._meta.concrete_fields


# A literal, not a parameter: the plan PostgreSQL keeps for a prepared statement (carts/sql.py)
# can then use the partial indexes of active carts; with a parameter it plans every time.
ACTIVE = f"status = '{CartStatus.ACTIVE}'"


def owner_filter(owner: CartOwner) -> tuple[str, str | int]:
    """The cart column that names the owner, and its value."""
    if owner.user_id is not None:
        return "user_id", owner.user_id
    return "session_id", owner.session_token


def _head_and_lines(
    head_fields: tuple[Field, ...], head_from: str, lines_from: str, params: list
) -> tuple[tuple | None, list[CartLine]]:
    """One statement: a head row (`head_fields`, aliased `h` in `head_from`), then the rows of
    a cart's lines in order (`lines_from`, i for the line, p for its product).

    The head's columns are sent and converted once, not again on every line as with a join
    (a cart's UUID alone cost more than the line's own columns). The lines' creation time
    orders them but is not sent: parsing it cost 2 µs a line. The head is None if
    `head_from` finds no row.
    """
    first_line = len(head_fields)
    names = [f"c{n}" for n in range(first_line + len(LINE_FIELDS) + 1)]  # the last orders
    head = [f"h.{field.column}" for field in head_fields] + ["NULL"] * (len(LINE_FIELDS) + 1)
    named = ", ".join(f"{column} AS {name}" for column, name in zip(head, names, strict=True))
    rows = sql.rows(
        f"SELECT {', '.join(names[:-1])} FROM (SELECT {named} "  # noqa: S608
        f"{head_from} UNION ALL SELECT {_nulls(first_line)}, {LINE_COLUMNS}, i.created_at "
        f"{lines_from}) u ORDER BY {names[-1]} NULLS FIRST, {names[first_line]} NULLS FIRST",
        params,
        (*head_fields, *LINE_FIELDS),
    )
    head_row = rows[0][:first_line] if rows and rows[0][0] is not None else None
    lines = [CartLine(*row[first_line:]) for row in rows[1 if head_row else 0 :]]
    return head_row, lines


class RenderedLines(NamedTuple):
    """A cart's lines as PostgreSQL wrote them for an answer: the JSON text of its `items`
    array, and the totals over the lines."""

    items_json: str
    quantity: int
    subtotal: Decimal


# PostgreSQL SQL writing a line (i, p aliased) as `cart_representation` writes it, byte for
# byte: compact, keys in the same order, strings escaped as orjson escapes them. Both money
# columns have two decimals, so their text is what `_money` writes.
_ID, _PRODUCT_ID, _SKU, _NAME, _QUANTITY, _UNIT_PRICE = LINE_COLUMNS.split(", ")
LINE_JSON = (
    f"""'{{"id":' || {_ID} || ',"product":{{"id":' || {_PRODUCT_ID} """
    f"""|| ',"sku":' || to_json({_SKU}) || ',"name":' || to_json({_NAME}) """
    f"""|| '}},"quantity":' || {_QUANTITY} || ',"unit_price":"' || {_UNIT_PRICE} """
    f"""|| '","line_total":"' || ({_QUANTITY} * {_UNIT_PRICE}) || '"}}'"""
)


@cache
def _rendered_cart_sql(column: str) -> str:
    """The statement of `_cart_get_active_rendered` for an owner column, written once."""
    return (
        f"SELECT {sql.columns(CART_FIELDS, 'h')}, l.items, l.quantity, l.subtotal "  # noqa: S608
        "FROM carts_cart h CROSS JOIN LATERAL ("
        f"SELECT '[' || coalesce(string_agg({LINE_JSON}, ',' "
        "ORDER BY i.created_at, i.id), '') || ']' AS items, "
        f"coalesce(sum({_QUANTITY}), 0) AS quantity, "
        f"coalesce(sum({_QUANTITY} * {_UNIT_PRICE}), 0) AS subtotal "
        "FROM carts_cartitem i JOIN carts_product p ON p.id = i.product_id "
        f"WHERE i.cart_id = h.id) l WHERE h.{column} = %s AND h.{ACTIVE}"
    )


def _cart_get_active_rendered(column: str, value: str | int) -> Cart | None:
    """On PostgreSQL: the cart and its lines already written as JSON, in one statement.

    Turning a 50-line cart's rows into Python values, then dicts, then JSON took 390 µs of
    Python's CPU; written by PostgreSQL, 200 µs for the whole read and answer, for 15 µs more
    of PostgreSQL's (README, "What makes the hot paths fast").
    """
    rows = sql.rows(_rendered_cart_sql(column), [value], CART_FIELDS)
    if not rows:
        return None
    head, lines = rows[0][: len(CART_FIELDS)], rows[0][len(CART_FIELDS) :]
    cart = sql.instance(Cart, CART_FIELDS, head)
    cart.lines = RenderedLines(*lines)
    return cart


def _cart_get_active_lines(column: str, value: str | int) -> Cart | None:
    """The cart and its `CartLine`s, in one statement, on any database."""
    head, lines = _head_and_lines(
        CART_FIELDS,
        f"FROM carts_cart h WHERE h.{column} = %s AND h.{ACTIVE}",
        "FROM carts_cart c JOIN carts_cartitem i ON i.cart_id = c.id "
        "JOIN carts_product p ON p.id = i.product_id "
        f"WHERE c.{column} = %s AND c.{ACTIVE}",
        [value, value],
    )
    if head is None:
        return None
    cart = sql.instance(Cart, CART_FIELDS, head)
    cart.lines = lines
    return cart


def cart_get_active_with_lines(*, owner: CartOwner) -> Cart | None:
    """The owner's active cart with its `lines`, in one statement: on PostgreSQL written as
    the answer's JSON (`RenderedLines`), elsewhere as `CartLine`s."""
    column, value = owner_filter(owner)
    if connection.vendor == "postgresql":
        return _cart_get_active_rendered(column, value)
    return _cart_get_active_lines(column, value)


def _nulls(count: int) -> str:
    return ", ".join(["NULL"] * count)


def cart_lock_active(*, owner: CartOwner) -> Cart | None:
    """The owner's active cart, its row locked until the transaction ends.

    Its lines are read by a second statement (`cart_lines_load`), once the lock is held:
    joined into this one, they would come from the snapshot taken before waiting for the
    lock, and miss a line a concurrent request had just added.
    """
    column, value = owner_filter(owner)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    rows = sql.rows(
        f"SELECT {sql.columns(CART_FIELDS)} FROM carts_cart "  # noqa: S608
        f"WHERE {column} = %s AND {ACTIVE}{lock}",
        [value],
        CART_FIELDS,
    )
    return sql.instance(Cart, CART_FIELDS, rows[0]) if rows else None


def cart_lines_load(*, cart: Cart) -> list[CartLine]:
    """Read the cart's lines, in order, into `cart.lines`, and return that list.

    A service that changes a line changes the list too, so the cart it returns is answered
    without reading the lines again.
    """
    rows = sql.rows(
        f"SELECT {LINE_COLUMNS} FROM carts_cartitem i "  # noqa: S608
        "JOIN carts_product p ON p.id = i.product_id "
        "WHERE i.cart_id = %s ORDER BY i.created_at, i.id",
        [sql.param(Cart._meta.pk, cart.pk)],
        LINE_FIELDS,
    )
    cart.lines = [CartLine(*row) for row in rows]
    return cart.lines


def cart_lines_load_with_product(*, cart: Cart, product_id: int) -> Product | None:
    """Read the cart's lines into `cart.lines`, as `cart_lines_load`, and return the product
    `product_id` (None if there is none; on sale or not), in one statement: what adding a
    line reads once the cart is locked."""
    head, cart.lines = _head_and_lines(
        PRODUCT_FIELDS,
        "FROM carts_product h WHERE h.id = %s",
        "FROM carts_cartitem i JOIN carts_product p ON p.id = i.product_id WHERE i.cart_id = %s",
        [product_id, sql.param(Cart._meta.pk, cart.pk)],
    )
    return sql.instance(Product, PRODUCT_FIELDS, head) if head is not None else None


def cart_lines(*, cart: Cart) -> list[CartLine] | RenderedLines:
    """The cart's lines: as a service left them, or read now."""
    return cart.lines if cart.lines is not None else cart_lines_load(cart=cart)


def product_get(*, product_id: int) -> Product | None:
    rows = sql.rows(
        f"SELECT {sql.columns(PRODUCT_FIELDS)} FROM carts_product WHERE id = %s",  # noqa: S608
        [product_id],
        PRODUCT_FIELDS,
    )
    return sql.instance(Product, PRODUCT_FIELDS, rows[0]) if rows else None


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
