"""Invariants of the cart services under random sequences of changes by several shoppers.

A Hypothesis state machine drives `carts.services` for three signed-in users and two guests
over four products (one priced in another currency): adds, quantity changes, removals, clears,
checkouts and merges, with and without `If-Match`; staff changes to stock, price and sale
status; the idle-cart job and a shopper coming back. A domain error is an allowed outcome as
long as it changed nothing at all. The machine keeps its own model of every cart and product,
and after every step checks the database against it:

- every line holds 1 to CART_MAX_QUANTITY_PER_LINE units;
- each owner has at most one active cart, holding exactly the lines (product, quantity, unit
  price) the model expects, so no line ever lands in another owner's cart;
- every cart's `subtotal` and `total_quantity` as `CartOutput` reports them are the Decimal sums
  of its lines, and each reported line has its quantity, unit price and line total;
- stock is never negative and is what staff last set minus what checkouts took since;
- a cart's version never goes down, and goes up whenever its lines or status change;
- a checked-out or merged cart never changes again.

Each example starts from an empty database. The normal suite runs a fixed set of examples;
`make fuzz` (HYPOTHESIS_PROFILE=fuzz) runs many more, random ones.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import hypothesis
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from addtocart.api.problems import DomainError
from carts import services
from carts.api.serializers import CartOutput
from carts.domain import CartOwner, cart_etag
from carts.models import Cart, CartItem, CartStatus, IdempotencyRecord, Product
from tests.factories import cart_get_active, cart_items_prefetch
from tests.fuzz.profiles import FUZZING, profile

pytestmark = pytest.mark.slow

MAX_QUANTITY = 5  # small limits, so that random sequences reach them
MAX_LINES = 2
USERS, GUESTS = 3, 2
PRODUCTS = [  # sku, price, currency, stock
    ("P1", Decimal("10.00"), "EUR", 6),
    ("P2", Decimal("1.99"), "EUR", 3),
    ("P3", Decimal("0.10"), "EUR", 10),
    ("P4", Decimal("5.00"), "USD", 10),
]
PRICES = [Decimal("0.10"), Decimal("1.99"), Decimal("10.00"), Decimal("33.33")]
UNKNOWN_ITEM = 999_999_999
STALE_ETAG = '"00000000000000000000000000000000.1"'
CENT = Decimal("0.01")

EXAMPLES = 500 if FUZZING else 100
STEPS = 50 if FUZZING else 30

# What the runs did: "examples", "steps", and "<rule>: ok" or "<rule>: <error code>".
STATS: Counter = Counter()

SHOPPER = st.integers(0, USERS + GUESTS - 1)
USER = st.integers(0, USERS - 1)
GUEST = st.integers(USERS, USERS + GUESTS - 1)
PRODUCT = st.integers(0, len(PRODUCTS) - 1)
# Mostly valid quantities; 0 and one past the limit are refused by add.
QUANTITY = st.sampled_from([1, 1, 1, 2, 2, 3, MAX_QUANTITY, 0, MAX_QUANTITY + 1])
# A line's new quantity: 0 removes it through an update, None through a removal.
NEW_QUANTITY = st.sampled_from([None, 0, 1, 2, 3, MAX_QUANTITY, MAX_QUANTITY + 1])
# Mostly no If-Match; else the cart's current ETag, a stale one, or "*".
IF_MATCH = st.sampled_from([None, None, None, None, None, "current", "stale", "*"])
STAFF_CHANGE = st.one_of(
    st.tuples(st.just("stock"), st.integers(0, 6)),
    st.tuples(st.just("price"), st.sampled_from(PRICES)),
    st.tuples(st.just("is_active"), st.booleans()),
)
# A line: (own, index): one of the shopper's own lines, or any line of any cart (another
# shopper's, a closed cart's) or an unknown id.
LINE = st.tuples(st.sampled_from([True, True, False]), st.integers(0, 12))

Lines = dict[int, tuple[int, Decimal]]  # product id: (quantity, unit price)


@dataclass
class Shopper:
    """The model of one owner's carts."""

    owner: CartOwner
    active: Lines | None = None  # None: no active cart
    ever_had_items: bool = False  # the active cart's first_item_added_at is set
    abandoned: list[Lines] = field(default_factory=list)

    def open(self) -> None:
        """As the services do: resume the latest abandoned cart, or start an empty one."""
        if self.active is None:
            if self.abandoned:
                self.active, self.ever_had_items = self.abandoned.pop(), True
            else:
                self.active, self.ever_had_items = {}, False


@dataclass
class Snapshot:
    """Everything the services may change, as stored."""

    carts: dict
    lines: dict
    products: dict

    @classmethod
    def take(cls) -> "Snapshot":
        return cls(
            carts={
                cart["id"]: cart
                for cart in Cart.objects.values(
                    "id",
                    "user_id",
                    "session_id",
                    "status",
                    "version",
                    "total",
                    "checked_out_at",
                    "updated_at",
                    "first_item_added_at",
                )
            },
            lines={
                line["id"]: line
                for line in CartItem.objects.values(
                    "id", "cart_id", "product_id", "quantity", "unit_price"
                )
            },
            products={
                product["id"]: product
                for product in Product.objects.values(
                    "id", "price", "currency", "stock", "is_active"
                )
            },
        )

    def lines_of(self, cart_id) -> Lines:
        return {
            line["product_id"]: (line["quantity"], line["unit_price"])
            for line in self.lines.values()
            if line["cart_id"] == cart_id
        }

    def active_cart_ids(self, owner: CartOwner) -> list:
        return [
            cart_id
            for cart_id, cart in self.carts.items()
            if cart["status"] == CartStatus.ACTIVE and owner_key(cart) == owner.key
        ]

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
        }


def owner_key(cart: dict) -> str:
    if cart["user_id"] is not None:
        return f"user:{cart['user_id']}"
    return f"guest:{cart['session_id']}"


def subtotal(lines: Lines) -> Decimal:
    return sum((quantity * price for quantity, price in lines.values()), Decimal("0"))


class CartMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        for model in (IdempotencyRecord, CartItem, Cart, Product, get_user_model()):
            model.objects.all().delete()
        users = [get_user_model().objects.create(username=f"shopper{i}") for i in range(USERS)]
        self.shoppers = [Shopper(CartOwner(user_id=user.pk)) for user in users] + [
            Shopper(CartOwner(session_token=f"guest-{i}")) for i in range(GUESTS)
        ]
        self.product_ids = []
        self.price, self.stock = {}, {}
        for sku, price, currency, stock in PRODUCTS:
            product = Product.objects.create(
                sku=sku, name=sku, price=price, currency=currency, stock=stock
            )
            self.product_ids.append(product.pk)
            self.price[product.pk], self.stock[product.pk] = price, stock
        self.versions: dict = {}
        self.closed: dict = {}  # cart id: its record when it was checked out or merged
        self.before = self.now = Snapshot.take()  # the data before and after the last step
        STATS["examples"] += 1

    # Helpers ------------------------------------------------------------------------

    def _attempt(self, name: str, call) -> bool:
        """Run one service call. A domain error must leave the database as it was; a success
        must bump the version of every cart whose lines or status it changed."""
        STATS["steps"] += 1
        before = self.before = self.now
        refused = None
        try:
            call()
        except DomainError as exc:
            refused = exc
        after = self.now = Snapshot.take()
        if refused is not None:
            STATS[f"{name}: {refused.code}"] += 1
            assert after == before, f"{name} was refused ({refused.code}) but changed data"
            return False
        STATS[f"{name}: ok"] += 1
        for cart_id, cart in after.carts.items():
            old = before.carts.get(cart_id)
            if old is not None and (
                old["status"] != cart["status"]
                or before.lines_of(cart_id) != after.lines_of(cart_id)
            ):
                assert cart["version"] > old["version"], f"{name} changed a cart, same version"
        return True

    def _if_match(self, shopper: Shopper, kind: str | None) -> list[str] | None:
        if kind is None:
            return None
        if kind == "*":
            return ["*"]
        cart = cart_get_active(owner=shopper.owner)
        return [cart_etag(cart)] if kind == "current" and cart else [STALE_ETAG]

    def _item_id(self, shopper: Shopper, line: tuple[bool, int]) -> int:
        own, index = line
        lines = CartItem.objects.order_by("pk")
        if own:
            lines = lines.filter(cart=cart_get_active(owner=shopper.owner))
        ids = [*lines.values_list("pk", flat=True), UNKNOWN_ITEM]
        return ids[index % len(ids)]

    def _changed_own_line(self, shopper: Shopper, item_id: int) -> int:
        """The product of the line a successful change touched, which must be the shopper's."""
        line = self.before.lines[item_id]
        assert self.before.active_cart_ids(shopper.owner) == [line["cart_id"]], (
            "a shopper changed a line of another cart"
        )
        return line["product_id"]

    def _close(self, shopper: Shopper, cart_id) -> None:
        self.closed[cart_id] = self.now.record(cart_id)
        assert self.closed[cart_id]["lines"] == shopper.active
        shopper.active, shopper.ever_had_items = None, False

    # Shoppers -----------------------------------------------------------------------

    @initialize(shoppers=st.sets(SHOPPER))
    def fill_some_carts(self, shoppers):
        """Some shoppers start with a unit each of the first and third products."""
        for shopper in sorted(shoppers):
            self.add(shopper, 0, 1, None)
            self.add(shopper, 2, 1, None)

    @rule(shopper=SHOPPER, product=PRODUCT, quantity=QUANTITY, if_match=IF_MATCH)
    def add(self, shopper, product, quantity, if_match):
        s, product_id = self.shoppers[shopper], self.product_ids[product]
        if self._attempt(
            "add",
            lambda: services.cart_item_add(
                owner=s.owner,
                product_id=product_id,
                quantity=quantity,
                if_match=self._if_match(s, if_match),
            ),
        ):
            s.open()
            held = s.active.get(product_id, (0, None))[0]
            s.active[product_id] = (held + quantity, self.price[product_id])
            s.ever_had_items = True

    @rule(shopper=SHOPPER, line=LINE, quantity=NEW_QUANTITY, if_match=IF_MATCH)
    def change_line(self, shopper, line, quantity, if_match):
        """Set a line's quantity (0 removes it), or remove it (`None`)."""
        s = self.shoppers[shopper]
        item_id = self._item_id(s, line)
        etag = self._if_match(s, if_match)
        if quantity is None:
            name, call = (
                "remove",
                lambda: services.cart_item_remove(owner=s.owner, item_id=item_id, if_match=etag),
            )
        else:
            name, call = (
                "update",
                lambda: services.cart_item_update(
                    owner=s.owner, item_id=item_id, quantity=quantity, if_match=etag
                ),
            )
        if self._attempt(name, call):
            product_id = self._changed_own_line(s, item_id)
            if quantity:
                s.active[product_id] = (quantity, self.price[product_id])
            else:
                del s.active[product_id]

    @rule(shopper=SHOPPER, if_match=IF_MATCH)
    def clear(self, shopper, if_match):
        s = self.shoppers[shopper]
        etag = self._if_match(s, if_match)
        if self._attempt("clear", lambda: services.cart_clear(owner=s.owner, if_match=etag)) and (
            s.active
        ):
            s.active = {}

    @rule(shopper=SHOPPER, if_match=IF_MATCH)
    def checkout(self, shopper, if_match):
        s = self.shoppers[shopper]
        etag = self._if_match(s, if_match)
        if self._attempt("checkout", lambda: services.cart_checkout(owner=s.owner, if_match=etag)):
            (cart_id,) = self.before.active_cart_ids(s.owner)
            for product_id, (quantity, _) in s.active.items():
                self.stock[product_id] -= quantity
            self._close(s, cart_id)
            assert self.closed[cart_id]["status"] == CartStatus.CHECKED_OUT
            assert self.closed[cart_id]["total"] == subtotal(self.closed[cart_id]["lines"])

    @rule(user=USER, guest=GUEST)
    def merge(self, user, guest):
        u, g = self.shoppers[user], self.shoppers[guest]
        if not self._attempt(
            "merge",
            lambda: services.cart_merge(
                user_id=u.owner.user_id, session_token=g.owner.session_token
            ),
        ):
            return
        if g.active is None:
            return  # no guest cart: nothing moves
        u.open()
        for product_id, (quantity, _) in g.active.items():
            held = u.active.get(product_id, (0, None))[0]
            u.active[product_id] = (min(held + quantity, MAX_QUANTITY), self.price[product_id])
        u.ever_had_items = u.ever_had_items or bool(g.active)
        (cart_id,) = self.before.active_cart_ids(g.owner)
        self._close(g, cart_id)
        assert self.closed[cart_id]["status"] == CartStatus.MERGED

    @precondition(lambda self: any(s.abandoned for s in self.shoppers))
    @rule(shopper=SHOPPER)
    def come_back(self, shopper):
        """`GET cart/` with no active cart gives the shopper their abandoned cart back."""
        s = self.shoppers[shopper]
        if self._attempt("resume", lambda: services.cart_resume(owner=s.owner)) and (
            s.active is None and s.abandoned
        ):
            s.open()

    # Staff and jobs -----------------------------------------------------------------

    @rule(product=PRODUCT, change=STAFF_CHANGE)
    def staff_changes_product(self, product, change):
        product_id, (field_name, value) = self.product_ids[product], change
        if self._attempt(
            f"set_{field_name}",
            lambda: services.product_update(product_id=product_id, fields={field_name: value}),
        ):
            if field_name == "stock":
                self.stock[product_id] = value
            if field_name == "price":
                self.price[product_id] = value

    @precondition(lambda self: any(s.ever_had_items for s in self.shoppers))
    @rule(hours=st.sampled_from([1, 12, 23, 25, 48]))
    def abandon_idle(self, hours):
        """The idle-cart job, run `hours` from now: past CART_ABANDONMENT_MINUTES (a day),
        every active cart that ever held a line and was not touched since is abandoned."""
        later = timezone.now() + timedelta(hours=hours)
        cutoff = later - timedelta(minutes=django_settings.CART_ABANDONMENT_MINUTES)
        marked = []
        if self._attempt(
            "abandon_idle", lambda: marked.append(services.cart_abandon_idle(now=later))
        ):
            idle = [
                s
                for s in self.shoppers
                if s.ever_had_items
                and any(
                    self.before.carts[cart_id]["updated_at"] < cutoff
                    for cart_id in self.before.active_cart_ids(s.owner)
                )
            ]
            assert marked == [len(idle)]
            for s in idle:
                s.abandoned.append(s.active)
                s.active, s.ever_had_items = None, False

    # Invariants ---------------------------------------------------------------------

    @invariant()
    def database_matches_the_model(self):
        now = self.now
        for line in now.lines.values():
            assert 1 <= line["quantity"] <= MAX_QUANTITY, line

        for product_id, product in now.products.items():
            assert product["stock"] >= 0, product
            assert product["stock"] == self.stock[product_id], (product, self.stock)

        owners = {s.owner.key for s in self.shoppers}
        assert {owner_key(cart) for cart in now.carts.values()} <= owners
        for s in self.shoppers:
            active = now.active_cart_ids(s.owner)
            assert len(active) <= 1, f"{s.owner.key} has {len(active)} active carts"
            assert (now.lines_of(active[0]) if active else None) == s.active, s.owner.key
            if active:
                has_mark = now.carts[active[0]]["first_item_added_at"] is not None
                assert has_mark == s.ever_had_items, s.owner.key

        for cart_id, version in self.versions.items():
            assert now.carts[cart_id]["version"] >= version, "a cart's version went down"
        self.versions = {cart_id: cart["version"] for cart_id, cart in now.carts.items()}

        for cart_id, record in self.closed.items():
            assert now.record(cart_id) == record, "a checked-out or merged cart changed"

        for cart in Cart.objects.prefetch_related(cart_items_prefetch()):
            lines = now.lines_of(cart.pk)
            body = CartOutput().to_representation(cart)
            assert body["subtotal"] == str(subtotal(lines).quantize(CENT)), (body, lines)
            assert body["total_quantity"] == sum(quantity for quantity, _ in lines.values())
            assert {
                item["product"]["id"]: (item["quantity"], item["unit_price"], item["line_total"])
                for item in body["items"]
            } == {
                product_id: (quantity, str(price), str((quantity * price).quantize(CENT)))
                for product_id, (quantity, price) in lines.items()
            }


def test_cart_invariants_hold_under_random_sequences(transactional_db, settings, capsys):
    settings.CART_MAX_QUANTITY_PER_LINE = MAX_QUANTITY
    settings.CART_MAX_LINES = MAX_LINES
    with connection.cursor() as cursor:  # every step commits: do not wait for the disk
        cursor.execute("SET synchronous_commit TO OFF")
    STATS.clear()
    run_state_machine_as_test(
        CartMachine,
        settings=hypothesis.settings(
            parent=profile(), max_examples=EXAMPLES, stateful_step_count=STEPS
        ),
    )
    outcomes = ", ".join(f"{name} {count}" for name, count in sorted(STATS.items()))
    with capsys.disabled():
        print(f"\ncart invariants: {outcomes}")
    # The sequences reached the interesting outcomes, not only refusals.
    for outcome in ("add: ok", "update: ok", "checkout: ok", "checkout: checkout_conflict"):
        assert STATS[outcome], f"no step ended in {outcome}"
