"""What the cart-invariants state machine (test_invariants.py) works with: the payment service
on loopback, its model of shoppers, lines and attempts, and one-statement snapshots of the
database."""

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple
from urllib.parse import unquote
from uuid import UUID

from django.db import connection

from carts.attributes import attributes_key
from carts.domain import CartOwner, cart_etag
from carts.models import (
    AttemptStatus,
    Cart,
    CartDiscount,
    CartItem,
    CartStatus,
    CheckoutAttempt,
    DiscountCode,
    Product,
    SavedItem,
    StockReservation,
)
from tests.live import JsonService

RESERVED, COMPLETED, RELEASED = (
    AttemptStatus.RESERVED,
    AttemptStatus.COMPLETED,
    AttemptStatus.RELEASED,
)


class Line(NamedTuple):
    quantity: int
    unit_price: Decimal
    attributes: dict[str, str]  # normalised; {} for none


LineKey = tuple[int, str]  # (product id, attributes key): what makes a line one
Lines = dict[LineKey, Line]


class Saved(NamedTuple):
    """A saved item: one per product and attributes, as a line."""

    quantity: int
    attributes: dict[str, str]


# A refusal's code and what it names (its `extra`), or (None, the lines after a change).
Outcome = tuple[str | None, dict]


def normalised(attributes: dict[str, str] | None) -> dict[str, str]:
    """A line's attributes as the services keep them: keys and values trimmed, keys sorted."""
    return dict(sorted((key.strip(), value.strip()) for key, value in (attributes or {}).items()))


def line_key(product_id: int, attributes: dict[str, str]) -> LineKey:
    return product_id, attributes_key(attributes)


def product_units(lines: Lines) -> Counter:
    """Each product's units over the lines (one line per set of attributes)."""
    units: Counter = Counter()
    for (product_id, _), line in lines.items():
        units[product_id] += line.quantity
    return units


def lines_add(
    lines: Lines,
    entries: list[tuple[int, int, dict[str, str]]],
    products: dict,
    currency: str,
    limits: tuple[int, int],
) -> Outcome:
    """Adding `entries` (product id, quantity from 1 to the limit, normalised attributes) to a
    cart holding `lines`, with the `products` of a snapshot and `limits` (units per line,
    lines), checked in the services' order: the error's code and what it names (entries by
    index, in index order, as a bulk add names them), or None and the lines after."""
    max_quantity, max_lines = limits
    for index, (product_id, _, _) in enumerate(entries):
        if product_id not in products or not products[product_id]["is_active"]:
            return "product_not_found", {"index": index}
    wrong = [
        {"index": index, "product_id": product_id, "currency": products[product_id]["currency"]}
        for index, (product_id, _, _) in enumerate(entries)
        if products[product_id]["currency"] != currency
    ]
    if wrong:
        return "currency_mismatch", {"lines": wrong}
    after, indexes = dict(lines), {}
    for index, (product_id, quantity, attributes) in enumerate(entries):
        key = line_key(product_id, attributes)
        held = after[key].quantity if key in after else 0
        after[key] = Line(held + quantity, products[product_id]["price"], attributes)
        indexes.setdefault(key, []).append(index)
    over = [
        {"index": index, "product_id": key[0], "quantity": after[key].quantity}
        for key, at in indexes.items()
        if after[key].quantity > max_quantity
        for index in at
    ]
    over.sort(key=lambda line: line["index"])
    if over:
        return "line_quantity_limit", {"lines": over, "max_quantity": max_quantity}
    units = product_units(after)
    short = [
        {
            "index": index,
            "product_id": key[0],
            "requested": units[key[0]],
            "available": products[key[0]]["stock"],
        }
        for key, at in indexes.items()
        if units[key[0]] > products[key[0]]["stock"]
        for index in at
    ]
    short.sort(key=lambda line: line["index"])
    if short:
        return "insufficient_stock", {"lines": short}
    if len(after) > max_lines:
        return "cart_lines_limit", {"max_lines": max_lines}
    return None, after


class PaymentStub:
    """The payment service on loopback, as integrations/payments.py expects it: `POST
    /payments` authorises once per key and answers as `answer` says (approve, refuse, or
    lost: authorised, but the answer is a 500); `GET /payments/{key}` says what became of a
    key (404: never received); `POST /payments/{key}/void` voids an authorisation."""

    ANSWERS = {"authorised": "approved", "refused": "declined", "voided": "voided"}

    def __init__(self) -> None:
        self.payments: dict[str, str] = {}  # key: authorised, refused or voided
        self.answer = "approve"
        self.service = JsonService(self.respond)
        self.url = self.service.url

    def respond(self, method: str, path: str, body: object) -> tuple[int, object]:
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if method == "POST" and parts == ["payments"] and isinstance(body, dict):
            made = "refused" if self.answer == "refuse" else "authorised"
            state = self.payments.setdefault(body["idempotency_key"], made)
            if self.answer == "lost":
                return 500, {}
            if state == "refused":
                return 402, {"status": "declined"}
            return 200, {"status": "approved", "id": "a"}
        key = parts[1] if len(parts) > 1 and parts[0] == "payments" else None
        state = self.payments.get(key) if key else None
        if method == "GET" and len(parts) == 2 and state is not None:
            return 200, {"status": self.ANSWERS[state], "id": "late"}
        if method == "POST" and parts[2:] == ["void"] and state == "authorised":
            self.payments[key] = "voided"
            return 200, {"status": "voided"}
        return 404, {}

    def __enter__(self) -> "PaymentStub":
        return self

    def __exit__(self, *exc) -> None:
        self.service.stop()


@dataclass
class Attempt:
    """The model of one checkout attempt."""

    id: UUID
    cart_id: UUID
    request_key: str
    lines: Lines
    version: int  # the cart's version and ETag when it was reserved: a release keeps them
    etag: str
    codes: tuple[int, ...] = ()  # the discount codes on the cart, each holding a use
    status: str = RESERVED


@dataclass
class Shopper:
    """The model of one owner's carts."""

    owner: CartOwner
    active: Lines | None = None  # None: no active (or checking-out) cart
    ever_had_items: bool = False  # the active cart's first_item_added_at is set
    codes: list[int] = field(default_factory=list)  # the discount codes on the current cart
    abandoned: list[Lines] = field(default_factory=list)
    abandoned_codes: list[list[int]] = field(default_factory=list)
    reserved: Attempt | None = None  # the cart is checking out
    last_key: str = ""  # the Idempotency-Key of the shopper's last reserve
    completed_keys: dict[str, UUID] = field(default_factory=dict)  # key: its checked-out cart
    saved: dict[LineKey, Saved] = field(default_factory=dict)  # a user's saved items

    def open(self) -> None:
        """As the services do: resume the latest abandoned cart, or start an empty one."""
        if self.active is None:
            if self.abandoned:
                self.active, self.ever_had_items = self.abandoned.pop(), True
                self.codes = self.abandoned_codes.pop()
            else:
                self.active, self.ever_had_items, self.codes = {}, False, []


def _columns(model, names: list[str]) -> list[tuple[str, object]]:
    """Each column's name and how to read it back from JSON."""
    kinds = {"UUIDField": UUID, "DecimalField": Decimal, "DateTimeField": datetime.fromisoformat}
    fields = {field.attname: field for field in model._meta.concrete_fields}
    return [(name, kinds.get(_kind(fields[name]), lambda value: value)) for name in names]


def _kind(field) -> str:
    return (field.target_field if field.is_relation else field).get_internal_type()


# What a snapshot reads: each table's columns, read back as the ORM would give them.
SNAPSHOT_TABLES = {
    "carts": (
        Cart,
        [
            "id",
            "user_id",
            "session_id",
            "status",
            "version",
            "currency",
            "total",
            "checked_out_at",
            "updated_at",
            "first_item_added_at",
            "discount_count",
        ],
    ),
    "lines": (
        CartItem,
        ["id", "cart_id", "product_id", "quantity", "unit_price", "attributes", "attributes_key"],
    ),
    "products": (Product, ["id", "price", "currency", "stock", "is_active"]),
    "attempts": (CheckoutAttempt, ["id", "cart_id", "status", "payment", "total"]),
    "reservations": (StockReservation, ["attempt_id", "product_id", "quantity"]),
    "codes": (
        DiscountCode,
        ["id", "value", "is_active", "max_uses", "times_used", "uses_held", "discounted_total"],
    ),
    "cart_codes": (CartDiscount, ["id", "cart_id", "code_id", "amount"]),
    "saved": (
        SavedItem,
        ["id", "user_id", "product_id", "quantity", "attributes", "attributes_key"],
    ),
}
SNAPSHOT = {name: _columns(*table) for name, table in SNAPSHOT_TABLES.items()}


def _json_of(model, names: list[str]) -> str:
    """The table as a JSON array of rows; decimals as text, so that none goes through float."""
    fields = {field.attname: field for field in model._meta.concrete_fields}
    columns = ", ".join(
        f'"{fields[name].column}"' + ("::text" if _kind(fields[name]) == "DecimalField" else "")
        for name in names
    )
    table = model._meta.db_table
    return f"(SELECT coalesce(json_agg(json_build_array({columns})), '[]')::text FROM {table})"  # noqa: S608


SNAPSHOT_SQL = "SELECT " + ", ".join(_json_of(*table) for table in SNAPSHOT_TABLES.values())


@dataclass
class Snapshot:
    """Everything the services may change, as stored."""

    carts: dict
    lines: dict
    products: dict
    attempts: dict
    codes: dict
    cart_codes: dict
    saved: dict
    reservations: dict  # (attempt id, product id): units

    @classmethod
    def take(cls) -> "Snapshot":
        """Read in one statement, with no ORM: a snapshot is taken after every step."""
        with connection.cursor() as cursor:
            cursor.execute(SNAPSHOT_SQL)
            tables = dict(zip(SNAPSHOT, cursor.fetchone(), strict=True))
        read = {
            name: [
                {
                    column: None if value is None else convert(value)
                    for (column, convert), value in zip(SNAPSHOT[name], row, strict=True)
                }
                for row in json.loads(tables[name])
            ]
            for name in SNAPSHOT
        }
        reservations = {
            (row["attempt_id"], row["product_id"]): row["quantity"]
            for row in read.pop("reservations")
        }
        by_id = {name: {row["id"]: row for row in rows} for name, rows in read.items()}
        return cls(**by_id, reservations=reservations)

    def lines_of(self, cart_id) -> Lines:
        return {
            self.key_of(pk): Line(line["quantity"], line["unit_price"], line["attributes"])
            for pk, line in self.lines.items()
            if line["cart_id"] == cart_id
        }

    def key_of(self, line_id: int) -> LineKey:
        line = self.lines[line_id]
        return line["product_id"], line["attributes_key"]

    def saved_of(self, user_id: int) -> dict[LineKey, Saved]:
        return {
            (row["product_id"], row["attributes_key"]): Saved(row["quantity"], row["attributes"])
            for row in self.saved.values()
            if row["user_id"] == user_id
        }

    def cart_ids(self, owner: CartOwner, statuses=(CartStatus.ACTIVE,)) -> list:
        return [
            cart_id
            for cart_id, cart in self.carts.items()
            if cart["status"] in statuses and owner_key(cart) == owner.key
        ]

    def active_cart_ids(self, owner: CartOwner) -> list:
        return self.cart_ids(owner)

    def record(self, cart_id) -> dict:
        """What must never change once a cart is checked out or merged."""
        cart = self.carts[cart_id]
        return {
            "status": cart["status"],
            "version": cart["version"],
            "total": cart["total"],
            "checked_out_at": cart["checked_out_at"],
            "updated_at": cart["updated_at"],
            "lines": self.lines_of(cart_id),
            "codes": self.codes_of(cart_id),
        }

    def codes_of(self, cart_id) -> dict[int, Decimal | None]:
        """The discount codes on the cart: code id to the amount kept at checkout (or None)."""
        return {
            row["code_id"]: row["amount"]
            for row in self.cart_codes.values()
            if row["cart_id"] == cart_id
        }

    def faults(self, cart_id) -> dict[LineKey, tuple[str, int | None]]:
        """The cart's lines that keep it from being checked out: why, and for a lack of
        stock the units requested, the product's over all its lines."""
        currency = self.carts[cart_id]["currency"]
        lines = self.lines_of(cart_id)
        units = product_units(lines)
        faults = {}
        for key, line in lines.items():
            product = self.products[key[0]]
            if not product["is_active"]:
                faults[key] = ("product_unavailable", None)
            elif product["currency"] != currency:
                faults[key] = ("currency_changed", None)
            elif product["stock"] < units[key[0]]:
                faults[key] = ("insufficient_stock", units[key[0]])
            elif product["price"] != line.unit_price:
                faults[key] = ("price_changed", None)
        return faults

    def without_activity(self, attempt_ids) -> tuple:
        """All but the carts' last activity and the attempts not in `attempt_ids`."""
        carts = {cart_id: {**cart, "updated_at": None} for cart_id, cart in self.carts.items()}
        attempts = {key: self.attempts[key] for key in attempt_ids}
        return (
            carts,
            self.lines,
            self.products,
            attempts,
            self.reservations,
            self.codes,
            self.cart_codes,
            self.saved,
        )


def owner_key(cart: dict) -> str:
    if cart["user_id"] is not None:
        return f"user:{cart['user_id']}"
    return f"guest:{cart['session_id']}"


def subtotal(lines: Lines) -> Decimal:
    return sum((line.quantity * line.unit_price for line in lines.values()), Decimal("0"))


def etag_of(cart: dict) -> str:
    return cart_etag(Cart(id=cart["id"], version=cart["version"], status=cart["status"]))
