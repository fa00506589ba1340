"""The cart document: the JSON every cart answer carries, written in Python and, for reads on
PostgreSQL, by PostgreSQL, side by side so that the two stay byte for byte the same (tests
compare them). Its OpenAPI schema is `carts.api.serializers.CartOutput`.

Built directly rather than by DRF's field-by-field serializers, which cost several times more
for a cart of many lines (docs/performance.md, "What made it fast").
"""

from datetime import datetime
from decimal import Decimal
from functools import cache

from django.conf import settings

from addtocart.api.renderers import RawJSON
from carts.db import runner
from carts.db.statements import CART_FIELDS, CURRENT, LINE_COLUMNS, owner_filter
from carts.domain import CartLine, CartOwner, CartState, RenderedLines
from carts.models import Cart

CENT = Decimal("0.01")


def _time(value: datetime | None) -> str | None:
    """As DRF writes times: ISO 8601, UTC as `Z`."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _items(lines: list[CartLine]) -> tuple[list[dict], Decimal, int]:
    """The document's `items`, with the subtotal and quantity over them (what `LINE_JSON`
    and `_rendered_cart_sql` below write in PostgreSQL)."""
    items, subtotal, quantity = [], Decimal("0"), 0
    for line in lines:
        line_total = line.quantity * line.unit_price
        subtotal += line_total
        quantity += line.quantity
        items.append(
            {
                "id": line.id,
                "product": {"id": line.product_id, "sku": line.sku, "name": line.name},
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "line_total": _money(line_total),
            }
        )
    return items, subtotal, quantity


def cart_document(state: CartState | None, *, session_id: str | None = None) -> dict:
    """The cart as its owner sees it; an empty active cart when the owner has none yet."""
    if state is None:
        return {
            "id": None,
            "status": "active",
            "items": [],
            "total_quantity": 0,
            "subtotal": "0.00",
            "currency": settings.CART_DEFAULT_CURRENCY,
            "version": 0,
            "created_at": None,
            "updated_at": None,
            "checked_out_at": None,
            "total": None,
            "session_id": session_id,
        }
    cart, lines = state.cart, state.lines
    if isinstance(lines, RenderedLines):
        items, subtotal, quantity = RawJSON(lines.items_json), lines.subtotal, lines.quantity
    else:
        items, subtotal, quantity = _items(lines)
    return {
        "id": str(cart.id),
        "status": cart.status,
        "items": items,
        "total_quantity": quantity,
        "subtotal": _money(subtotal),
        "currency": cart.currency,
        "version": cart.version,
        "created_at": _time(cart.created_at),
        "updated_at": _time(cart.updated_at),
        "checked_out_at": _time(cart.checked_out_at),
        "total": None if cart.total is None else _money(cart.total),
        "session_id": session_id,
    }


# PostgreSQL writing a line (i, p aliased) as `_items` writes it, byte for byte: compact, keys
# in the same order, strings escaped as orjson escapes them. Both money columns have two
# decimals, so their text is what `_money` writes.
_ID, _PRODUCT_ID, _SKU, _NAME, _QUANTITY, _UNIT_PRICE = LINE_COLUMNS.split(", ")
LINE_JSON = (
    f"""'{{"id":' || {_ID} || ',"product":{{"id":' || {_PRODUCT_ID} """
    f"""|| ',"sku":' || to_json({_SKU}) || ',"name":' || to_json({_NAME}) """
    f"""|| '}},"quantity":' || {_QUANTITY} || ',"unit_price":"' || {_UNIT_PRICE} """
    f"""|| '","line_total":"' || ({_QUANTITY} * {_UNIT_PRICE}) || '"}}'"""
)


@cache
def _rendered_cart_sql(column: str) -> str:
    """The statement of `cart_read_active_rendered` for an owner column, written once."""
    return (
        f"SELECT {runner.columns(CART_FIELDS, 'h')}, l.items, l.quantity, "  # noqa: S608
        "l.subtotal FROM carts_cart h CROSS JOIN LATERAL ("
        f"SELECT '[' || coalesce(string_agg({LINE_JSON}, ',' "
        "ORDER BY i.created_at, i.id), '') || ']' AS items, "
        f"coalesce(sum({_QUANTITY}), 0) AS quantity, "
        f"coalesce(sum({_QUANTITY} * {_UNIT_PRICE}), 0) AS subtotal "
        "FROM carts_cartitem i JOIN carts_product p ON p.id = i.product_id "
        f"WHERE i.cart_id = h.id) l WHERE h.{column} = %s AND h.{CURRENT}"
    )


def cart_read_active_rendered(*, owner: CartOwner) -> CartState | None:
    """PostgreSQL only: the owner's active cart and its lines already written as the
    document's JSON, in one statement.

    Turning a 50-line cart's rows into Python values, then dicts, then JSON took 390 µs of
    Python's CPU; written by PostgreSQL, 200 µs for the whole read and answer, for 15 µs more
    of PostgreSQL's (docs/performance.md, "What made it fast").
    """
    column, value = owner_filter(owner)
    rows = runner.rows(_rendered_cart_sql(column), [value], CART_FIELDS)
    if not rows:
        return None
    head, lines = rows[0][: len(CART_FIELDS)], rows[0][len(CART_FIELDS) :]
    return CartState(runner.instance(Cart, CART_FIELDS, head), RenderedLines(*lines))
