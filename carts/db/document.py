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
from django.utils import timezone

from addtocart.api.renderers import RawJSON
from carts.db import runner, statements
from carts.db.discounts import cart_codes_read
from carts.db.statements import CART_FIELDS, CURRENT, LINE_COLUMNS, owner_filter
from carts.discounts import NONE, Discounts, discounts_evaluate
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


def _items(lines: list[CartLine], discounts: Discounts) -> tuple[list[dict], Decimal, int]:
    """The document's `items`, with the subtotal and quantity over them (what `LINE_JSON`
    and `_rendered_cart_sql` below write in PostgreSQL)."""
    items, subtotal, quantity = [], Decimal("0"), 0
    zero = Decimal("0.00")
    for line in lines:
        line_total = line.quantity * line.unit_price
        subtotal += line_total
        quantity += line.quantity
        items.append(
            {
                "id": line.id,
                "product": {"id": line.product_id, "sku": line.sku, "name": line.name},
                "attributes": dict(sorted(line.attributes.items())),
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "line_total": _money(line_total),
                "discount": _money(discounts.by_line.get(line.id, zero)),
            }
        )
    return items, subtotal, quantity


def _codes(discounts: Discounts) -> list[dict]:
    """The document's `discounts`: each code on the cart, what it takes off, or why not."""
    codes = []
    for outcome in discounts.codes:
        terms = outcome.terms
        code = {
            "code": terms.code,
            "kind": terms.kind,
            "value": _money(terms.value),
            "amount": _money(outcome.amount),
            "applicable": outcome.reason is None,
            "reason": outcome.reason and str(outcome.reason),
        }
        if outcome.reason == "min_subtotal_not_met":
            code["min_subtotal"] = _money(terms.min_subtotal)
        codes.append(code)
    return codes


def cart_discounts(state: CartState) -> Discounts:
    """What the codes on the cart take off its lines now (read if `state` did not read
    them and the cart holds any). Rendered lines are only read for carts without codes."""
    codes = state.discounts
    if codes is None:
        codes = cart_codes_read(cart=state.cart)
    if not codes or isinstance(state.lines, RenderedLines):
        return NONE
    now = timezone.now()
    return discounts_evaluate(codes, lines=state.lines, currency=state.cart.currency, now=now)


def cart_document(state: CartState | None, *, session_id: str | None = None) -> dict:
    """The cart as its owner sees it; an empty active cart when the owner has none yet."""
    if state is None:
        return {
            "id": None,
            "status": "active",
            "items": [],
            "total_quantity": 0,
            "subtotal": "0.00",
            "discounts": [],
            "discount_total": "0.00",
            "estimated_total": "0.00",
            "currency": settings.CART_DEFAULT_CURRENCY,
            "version": 0,
            "created_at": None,
            "updated_at": None,
            "checked_out_at": None,
            "total": None,
            "note": None,
            "email": None,
            "session_id": session_id,
        }
    cart, lines = state.cart, state.lines
    discounts = cart_discounts(state)
    if isinstance(lines, RenderedLines):
        items, subtotal, quantity = RawJSON(lines.items_json), lines.subtotal, lines.quantity
    else:
        items, subtotal, quantity = _items(lines, discounts)
    return {
        "id": str(cart.id),
        "status": cart.status,
        "items": items,
        "total_quantity": quantity,
        "subtotal": _money(subtotal),
        "discounts": _codes(discounts),
        "discount_total": _money(discounts.total),
        "estimated_total": _money(max(subtotal - discounts.total, Decimal("0"))),
        "currency": cart.currency,
        "version": cart.version,
        "created_at": _time(cart.created_at),
        "updated_at": _time(cart.updated_at),
        "checked_out_at": _time(cart.checked_out_at),
        "total": None if cart.total is None else _money(cart.total),
        "note": cart.note or None,
        "email": cart.email or None,
        "session_id": session_id,
    }


# PostgreSQL writing a line (i, p aliased) as `_items` writes it, byte for byte: compact, keys
# in the same order, strings escaped as orjson escapes them. Both money columns have two
# decimals, so their text is what `_money` writes. Only carts without codes are written so
# (`cart_read_active_rendered`): their lines' discount is nil.
_ID, _PRODUCT_ID, _SKU, _NAME, _QUANTITY, _UNIT_PRICE, _ATTRIBUTES = LINE_COLUMNS.split(", ")
# Attributes compact, keys in code point order as `_items` sorts them (jsonb's own text has
# spaces and orders keys by length); most lines have none, and skip the subquery.
ATTRIBUTES_JSON = (
    "CASE WHEN i.attributes_key = '' THEN '{}' ELSE (SELECT '{' || string_agg("  # noqa: S608
    "to_json(a.key)::text || ':' || to_json(a.value)::text, ',' ORDER BY a.key COLLATE \"C\""
    f") || '}}' FROM jsonb_each_text({_ATTRIBUTES}) a) END"
)
LINE_JSON = (
    f"""'{{"id":' || {_ID} || ',"product":{{"id":' || {_PRODUCT_ID} """
    f"""|| ',"sku":' || to_json({_SKU}) || ',"name":' || to_json({_NAME}) """
    f"""|| '}},"attributes":' || {ATTRIBUTES_JSON} """
    f"""|| ',"quantity":' || {_QUANTITY} || ',"unit_price":"' || {_UNIT_PRICE} """
    f"""|| '","line_total":"' || ({_QUANTITY} * {_UNIT_PRICE}) || '","discount":"0.00"}}'"""
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
    A cart holding codes is read again as `CartLine`s, with its codes: its lines' discounts
    are computed in Python (carts/discounts.py), in one place.
    """
    column, value = owner_filter(owner)
    rows = runner.rows(_rendered_cart_sql(column), [value], CART_FIELDS)
    if not rows:
        return None
    head, lines = rows[0][: len(CART_FIELDS)], rows[0][len(CART_FIELDS) :]
    cart = runner.instance(Cart, CART_FIELDS, head)
    if cart.discount_count:
        return CartState(cart, statements.cart_lines_read(cart=cart), cart_codes_read(cart=cart))
    return CartState(cart, RenderedLines(*lines))
