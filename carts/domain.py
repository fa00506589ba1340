"""The cart's plain values: whose cart, its lines, the state a service returns, its ETag.

No database access and no rules here: services, selectors and the API pass these around.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from carts.attributes import attributes_key

if TYPE_CHECKING:
    from carts.models import Cart, CartItem


@dataclass(frozen=True)
class CartOwner:
    """Whose cart: a signed-in user's or a guest session's (`session_token`: the SHA-256 of
    the token part of its id, as carts store it; carts/guest_sessions.py)."""

    user_id: int | None = None
    session_token: str | None = None

    def __post_init__(self) -> None:
        if (self.user_id is None) == (self.session_token is None):
            raise ValueError("A cart owner is either a user or a guest session.")

    @property
    def key(self) -> str:
        return f"user:{self.user_id}" if self.user_id is not None else f"guest:{self.session_token}"


class CartLine(NamedTuple):
    """A cart line as the API shows it, with its product's SKU and name: what cart reads and
    answers need, without building a model instance per line."""

    id: int
    product_id: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    attributes: dict[str, str]  # normalised (carts/attributes.py); {} for none

    @classmethod
    def of(cls, line: CartItem) -> CartLine:
        """From a line model whose product is loaded."""
        product = line.product
        return cls(
            line.pk,
            product.pk,
            product.sku,
            product.name,
            line.quantity,
            line.unit_price,
            line.attributes,
        )

    @property
    def identity(self) -> tuple[int, str]:
        """What makes a line one: its product and its attributes (the unique constraint's)."""
        return self.product_id, attributes_key(self.attributes)


class RenderedLines(NamedTuple):
    """A cart's lines as PostgreSQL wrote them for an answer (carts/db/document.py): the JSON
    text of its `items` array, and the totals over the lines."""

    items_json: str
    quantity: int
    subtotal: Decimal


class Reason(StrEnum):
    """Why a code does not apply (the API's `reason`)."""

    NOT_FOUND = "not_found"  # unknown or inactive: one answer for both
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    USAGE_LIMIT_REACHED = "usage_limit_reached"
    SIGN_IN_REQUIRED = "sign_in_required"  # a code limited per customer, on a guest's cart
    MIN_SUBTOTAL_NOT_MET = "min_subtotal_not_met"
    NOT_APPLICABLE = "not_applicable"  # no line is eligible
    CURRENCY_MISMATCH = "currency_mismatch"


class CodeTerms(NamedTuple):
    """A code as read with a cart (carts/db/discounts.py): its terms, whether the cart's
    owner may still use it, and, once the cart's checkout began, what it took off."""

    id: int
    code: str
    kind: str
    value: Decimal
    currency: str
    min_subtotal: Decimal | None
    product_ids: frozenset[int]  # empty: every product
    starts_at: datetime | None
    ends_at: datetime | None
    is_active: bool
    uses_left: bool  # max_uses not reached by the uses counted and held
    customer_refusal: Reason | None  # the owner's own limit: reached, or a guest's cart
    charged: Decimal | None = None  # set at checkout: the amount, and each line's share
    charged_shares: dict[int, Decimal] | None = None


@dataclass(frozen=True, slots=True)
class CartState:
    """A cart and its lines, as a service left them or a selector read them: everything an
    answer needs, with no further query."""

    cart: Cart
    lines: list[CartLine] | RenderedLines
    # The codes on the cart; None: not read (the document reads them if the cart holds any).
    discounts: tuple[CodeTerms, ...] | None = None

    @property
    def etag(self) -> str:
        return cart_etag(self.cart)


def cart_etag(cart: Cart, *, version: int | None = None) -> str:
    """The cart's entity tag: its id and version, so any change makes a new one. Checking out
    does not change the version (a refused payment gives the cart back unchanged, tag
    included), so a cart being checked out has a tag of its own."""
    checking_out = "-checking-out" if cart.status == "checking_out" else ""
    return f'"{cart.id.hex}.{cart.version if version is None else version}{checking_out}"'


class LineEvent(NamedTuple):
    """The event of a change that puts a line (carts/db/statements.py `line_put` writes both
    in one statement): its `data` holds the cart with the line at `item_index`, whose id the
    statement fills in (a new line has none yet)."""

    type: str
    data: dict
    item_index: int
