"""Every hand-written cart statement, the row locks among them included.

Hand-written because building and compiling these with the ORM cost more than PostgreSQL
takes to answer them (carts/db/runner.py runs them). Only column names taken from the models
go into the SQL text (hence the S608 exemptions); every value is a parameter.

Locking: a change to a cart first locks the owner's active cart row, on the hot paths with the
UPDATE that bumps its version (`cart_lock_and_touch`), else with SELECT ... FOR UPDATE
(`cart_lock_active`). The cart's lines are read by a later statement, once the lock is held.
"""

import json
from uuid import UUID

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import Field, QuerySet
from django.utils import timezone

from carts.attributes import attributes_key
from carts.db import runner
from carts.domain import CartLine, CartOwner, CartState, LineEvent
from carts.models import Cart, CartItem, CartStatus, CheckoutAttempt, Product
from events.models import Event
from events.outbox import event_record

CART_FIELDS = Cart._meta.concrete_fields
LINE_FIELDS = (
    CartItem._meta.get_field("id"),
    CartItem._meta.get_field("product"),
    Product._meta.get_field("sku"),
    Product._meta.get_field("name"),
    CartItem._meta.get_field("quantity"),
    CartItem._meta.get_field("unit_price"),
    CartItem._meta.get_field("attributes"),
)
# Aliases: i for carts_cartitem, p for carts_product.
LINE_COLUMNS = ", ".join(
    f"{'p' if field.model is Product else 'i'}.{field.column}" for field in LINE_FIELDS
)
PRODUCT_FIELDS = Product._meta.concrete_fields

# A literal, not a parameter: the plan PostgreSQL keeps for a prepared statement (runner.py)
# can then use the partial indexes of active carts; with a parameter it plans every time.
ACTIVE = f"status = '{CartStatus.ACTIVE}'"
# What the owner reads as their cart: the active one, or the one being checked out.
CURRENT = f"status IN ('{CartStatus.ACTIVE}', '{CartStatus.CHECKING_OUT}')"


def owner_filter(owner: CartOwner) -> tuple[str, str | int]:
    """The cart column that names the owner, and its value."""
    if owner.user_id is not None:
        return "user_id", owner.user_id
    return "session_id", owner.session_token


def _nulls(count: int) -> str:
    return ", ".join(["NULL"] * count)


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
    rows = runner.rows(
        f"SELECT {', '.join(names[:-1])} FROM (SELECT {named} "  # noqa: S608
        f"{head_from} UNION ALL SELECT {_nulls(first_line)}, {LINE_COLUMNS}, i.created_at "
        f"{lines_from}) u ORDER BY {names[-1]} NULLS FIRST, {names[first_line]} NULLS FIRST",
        params,
        (*head_fields, *LINE_FIELDS),
    )
    head_row = rows[0][:first_line] if rows and rows[0][0] is not None else None
    lines = [CartLine(*row[first_line:]) for row in rows[1 if head_row else 0 :]]
    return head_row, lines


def cart_read_active(*, owner: CartOwner) -> CartState | None:
    """The owner's active (or checking-out) cart and its `CartLine`s, in one statement, on any
    database."""
    column, value = owner_filter(owner)
    head, lines = _head_and_lines(
        CART_FIELDS,
        f"FROM carts_cart h WHERE h.{column} = %s AND h.{CURRENT}",
        "FROM carts_cart c JOIN carts_cartitem i ON i.cart_id = c.id "
        "JOIN carts_product p ON p.id = i.product_id "
        f"WHERE c.{column} = %s AND c.{CURRENT}",
        [value, value],
    )
    if head is None:
        return None
    return CartState(runner.instance(Cart, CART_FIELDS, head), lines)


def cart_lock_active(*, owner: CartOwner) -> Cart | None:
    """The owner's active cart, its row locked until the transaction ends."""
    column, value = owner_filter(owner)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    rows = runner.rows(
        f"SELECT {runner.columns(CART_FIELDS)} FROM carts_cart "  # noqa: S608
        f"WHERE {column} = %s AND {ACTIVE}{lock}",
        [value],
        CART_FIELDS,
    )
    return runner.instance(Cart, CART_FIELDS, rows[0]) if rows else None


def cart_lock_and_touch(*, owner: CartOwner, first_item: bool = False) -> Cart | None:
    """Lock the owner's active cart by touching it, in one statement.

    The UPDATE ... RETURNING bumps the version and the last activity (and, for a first
    line, `first_item_added_at`) and returns the row, where SELECT ... FOR UPDATE and a later
    UPDATE take two statements. A change that fails afterwards rolls it back with the rest of
    the transaction.
    """
    column, value = owner_filter(owner)
    now = runner.param(Cart._meta.get_field("updated_at"), timezone.now())
    first = ", first_item_added_at = COALESCE(first_item_added_at, %s)" if first_item else ""
    rows = runner.rows(
        f"UPDATE carts_cart SET version = version + 1, updated_at = %s{first} "  # noqa: S608
        f"WHERE {column} = %s AND {ACTIVE} RETURNING {runner.columns(CART_FIELDS)}",
        [now, *([now] if first_item else []), value],
        CART_FIELDS,
    )
    return runner.instance(Cart, CART_FIELDS, rows[0]) if rows else None


def cart_lines_read(*, cart: Cart) -> list[CartLine]:
    """The cart's lines, in order."""
    rows = runner.rows(
        f"SELECT {LINE_COLUMNS} FROM carts_cartitem i "  # noqa: S608
        "JOIN carts_product p ON p.id = i.product_id "
        "WHERE i.cart_id = %s ORDER BY i.created_at, i.id",
        [runner.param(Cart._meta.pk, cart.pk)],
        LINE_FIELDS,
    )
    return [CartLine(*row) for row in rows]


def cart_lines_read_with_product(
    *, cart: Cart, product_id: int
) -> tuple[Product | None, list[CartLine]]:
    """The product `product_id` (None if there is none; on sale or not) and the cart's lines,
    in one statement: what adding a line reads once the cart is locked."""
    head, lines = _head_and_lines(
        PRODUCT_FIELDS,
        "FROM carts_product h WHERE h.id = %s",
        "FROM carts_cartitem i JOIN carts_product p ON p.id = i.product_id WHERE i.cart_id = %s",
        [product_id, runner.param(Cart._meta.pk, cart.pk)],
    )
    product = runner.instance(Product, PRODUCT_FIELDS, head) if head is not None else None
    return product, lines


def product_read(*, product_id: int) -> Product | None:
    rows = runner.rows(
        f"SELECT {runner.columns(PRODUCT_FIELDS)} FROM carts_product WHERE id = %s",  # noqa: S608
        [product_id],
        PRODUCT_FIELDS,
    )
    return runner.instance(Product, PRODUCT_FIELDS, rows[0]) if rows else None


LINE_PUT = (
    "INSERT INTO carts_cartitem (cart_id, product_id, quantity, unit_price, attributes, "
    "attributes_key, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (cart_id, product_id, attributes_key) DO UPDATE "
    "SET quantity = excluded.quantity, unit_price = excluded.unit_price, "
    "updated_at = excluded.updated_at RETURNING id"
)


# The line and its event in one round trip (PostgreSQL): the event's data is its JSON text
# around the line's id, joined to the id in SQL (jsonb_set would parse and rebuild it twice).
_EVENTS = Event._meta.db_table
LINE_PUT_TOLD = (
    f"WITH line AS ({LINE_PUT}), told AS (INSERT INTO {_EVENTS} "  # noqa: S608
    "(type, cart_id, data, created_at) SELECT %s::varchar, %s::uuid, "
    "(%s::text || line.id::text || %s::text)::jsonb, %s::timestamptz FROM line) "
    "SELECT id FROM line"
)
_NO_ID_YET = -1  # the line's id in the event's JSON text until the statement gives it


def _line_values(cart: Cart, product: Product, quantity: int, attributes: dict, now) -> list:
    field = CartItem._meta.get_field
    return [
        runner.param(field("cart"), cart.pk),
        product.pk,
        quantity,
        runner.param(field("unit_price"), product.price),
        runner.param(field("attributes"), attributes),
        attributes_key(attributes),
        now,
        now,
    ]


def line_put(
    *,
    cart: Cart,
    product: Product,
    quantity: int,
    attributes: dict[str, str],
    event: LineEvent | None = None,
) -> CartLine:
    """Set the cart's line of `product` with `attributes` (normalised) to `quantity` units at
    the product's price, creating it if need be, and write `event`, in one statement on
    PostgreSQL; returns the line."""
    field = CartItem._meta.get_field
    at = timezone.now()
    now = runner.param(field("updated_at"), at)
    params = _line_values(cart, product, quantity, attributes, now)
    together = event is not None and connection.vendor == "postgresql"
    if together:
        event.data["cart"]["items"][event.item_index]["id"] = _NO_ID_YET
        text = json.dumps(event.data, cls=DjangoJSONEncoder)
        before, after = text.split(f'"id": {_NO_ID_YET}', 1)
        params += [event.type, params[0], f'{before}"id": ', after, now]
    [(line_id,)] = runner.rows(LINE_PUT_TOLD if together else LINE_PUT, params, (field("id"),))
    if event is not None and not together:
        event.data["cart"]["items"][event.item_index]["id"] = line_id
        event_record(type=event.type, cart_id=cart.pk, data=event.data, at=at)
    return CartLine(
        line_id, product.pk, product.sku, product.name, quantity, product.price, attributes
    )


def lines_put(*, cart: Cart, puts: list[tuple[Product, int, dict[str, str]]]) -> None:
    """Set several lines at once (a bulk add), each as `line_put` sets one, in one statement.
    Each (product, attributes) appears once in `puts`."""
    now = runner.param(CartItem._meta.get_field("updated_at"), timezone.now())
    head, rest = LINE_PUT.split(" VALUES ", 1)
    row, tail = rest.split(") ", 1)
    values = ", ".join([f"{row})"] * len(puts))
    params = [value for put in puts for value in _line_values(cart, *put, now)]
    with connection.cursor() as cursor:
        cursor.execute(f"{head} VALUES {values} {tail}", params)


# Row locks taken through the ORM, off the hot paths ------------------------------------------


def cart_lock_latest_abandoned(*, owner: CartOwner) -> Cart | None:
    """The owner's most recently active abandoned cart, locked."""
    column, value = owner_filter(owner)
    carts = Cart.objects.select_for_update().filter(status=CartStatus.ABANDONED, **{column: value})
    return carts.order_by("-updated_at").first()


def cart_items_lock_products(*, cart: Cart) -> list[CartItem]:
    """The cart's lines with their products, the products locked in id order, so that
    competing checkouts cannot sell the same unit twice or deadlock."""
    lines = cart.items.select_related("product").select_for_update(of=("product",))
    return list(lines.order_by("product_id"))


def product_lock(*, product_id: int) -> Product | None:
    return Product.objects.select_for_update().filter(pk=product_id).first()


def products_lock(*, product_ids: list[int]) -> None:
    """Lock the products in id order, as checkout does (`cart_items_lock_products`)."""
    list(Product.objects.select_for_update().filter(pk__in=product_ids).order_by("pk").values("pk"))


def attempt_lock(*, attempt_id: UUID) -> tuple[Cart, CheckoutAttempt]:
    """A checkout attempt and its cart, both rows locked, in one statement: every change to an
    attempt is made with its cart locked (after a wait, both are read as they are now)."""
    attempts = CheckoutAttempt.objects.select_related("cart").select_for_update(of=("self", "cart"))
    attempt = attempts.get(pk=attempt_id)
    return attempt.cart, attempt


def reservations_take(*, attempt_id: UUID) -> dict[int, int]:
    """Delete an attempt's stock reservations; the units they held, by product id."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM carts_stockreservation WHERE attempt_id = %s "
            "RETURNING product_id, quantity",
            [runner.param(CheckoutAttempt._meta.pk, attempt_id)],
        )
        return dict(cursor.fetchall())


def batch_lock(queryset: QuerySet, *, size: int) -> list:
    """The primary keys of up to `size` rows of `queryset`, locked, skipping rows that others
    hold (a shopper changing a cart right now): a batch job's share of a transaction."""
    return list(queryset.select_for_update(skip_locked=True).values_list("pk", flat=True)[:size])
