"""Invariants of the cart services under random sequences of changes by several shoppers.

A Hypothesis state machine drives `carts.services` for three signed-in users and two guests
over four products (one priced in another currency): adds of one line (with attributes, some
the same once normalised) or several at once, quantity changes, removals, clears, checkouts
and merges, with and without `If-Match`; saving lines for later, moving saved items back and
deleting them; staff changes to stock, price and sale status; discount codes applied and
removed, and staff changing them; the idle-cart job and a shopper coming back. The world and
what the rules draw are in invariants_draws.py, the model and the snapshots in
invariants_model.py, the saved-items rules in invariants_rules_saved.py. Checkout runs against
a payment service on loopback (`PaymentStub`, the contract in integrations/payments.py), whole
or in phases:

- `checkout`: the one-shot `cart_checkout`, its payment approved, refused (402), authorised
  with the answer lost (500), or with no payment service (the sale is made at once);
- `reserve`: `checkout_reserve` alone, with a new Idempotency-Key or a retry with the last one
  (which resumes the reserved attempt, or answers the checked-out cart);
- `authorise_and_complete`: `checkout_complete` as after an approval; `release`:
  `checkout_release` as after a refusal (either on an attempt that ended: nothing changes);
- `preview`: `checkout_preview`, which must change nothing and find the lines at fault;
- `expire`: the worker is gone: one reservation expires, or every one an hour later, and the
  sweeper (`checkout_release_expired`) asks the payment service about each: authorised, it
  completes; never received or refused, it releases; a payment whose answer was lost is voided.

Some shoppers start with a cart (whose product staff may have changed since), some users with
its first line saved for later, some shoppers checking their cart out. A domain error is an
allowed outcome as long as it changed nothing at all (a refused or lost payment: nothing but
the cart's last activity and the released attempt). An add (one line, a bulk add, or a saved
item moved back) succeeds or is refused exactly as the model predicts, checked in the
services' order (`lines_add`), a bulk add's error naming the entries at fault by index; so do
a save and a merge (whose line limit counts lines, one per product and attributes). While a
cart is checking out, every change to it (add, update, remove, clear, checkout, merge, save,
move back) must be refused, `checkout_in_progress` unless the request is wrong anyway (401,
404, 412, 422), and reads show it `checking_out`. The machine keeps its own model of every
cart, product, attempt and saved item, and after every step checks the database (read in one
statement) against it:

- every line holds 1 to CART_MAX_QUANTITY_PER_LINE units; its `attributes` are normalised and
  its `attributes_key` is theirs; a cart has at most one line per product and attributes, and
  at most CART_MAX_LINES lines;
- each owner has at most one active or checking-out cart, holding exactly the lines (product,
  attributes, quantity, unit price) the model expects, so no line ever lands in another
  owner's cart; it is checking out exactly while the model has a reserved attempt for it;
- a product's stock covers the units of all its lines in the cart together: an add or an
  update that would take more is refused, and one that succeeded did not; checkout and preview
  find exactly the lines at fault the model finds (`insufficient_stock` requesting the
  product's units over its lines);
- every cart's `subtotal` and `total_quantity` as `CartOutput` reports them are the Decimal sums
  of its lines, and each reported line has its attributes, quantity, unit price and line total;
- stock is never negative and is start - sold - reserved: what staff last set (with the units
  then reserved, which come back if released), minus the units of checkouts completed since,
  minus the units in `StockReservation` rows; those rows are exactly the reserved attempts'
  units, one per product over its lines, and every attempt has the status the model expects;
- the payment service holds an authorisation only for a completed attempt, or for a released
  one whose answer was lost until the sweeper voids it;
- a cart's version never goes down, and goes up whenever its lines or status change, except
  that reserving and releasing keep it: a released cart is as it was, lines, version and ETag;
- a checked-out or merged cart never changes again;
- each current cart holds exactly the discount codes the model expects; every cart's lines'
  discounts add up to its `discount_total`, `estimated_total` is `subtotal - discount_total`
  and never negative, and a checked-out cart's `total` is it; an attempt's total is its
  subtotal less its codes' amounts; each code's `times_used` is the completed checkouts that
  used it, `uses_held` the reserved ones holding it, together never above `max_uses`, and its
  `discounted_total` the amounts of its checked-out carts;
- each user's saved items are exactly the model's (one per product and attributes, 1 to
  CART_MAX_QUANTITY_PER_LINE units, at most SAVED_ITEMS_MAX): saving moves the line out of the
  cart (a new version), adding to a saved item of the same product and attributes; a saved
  item moved back is gone, one refused stays; guests save nothing; merges and checkouts never
  touch saved items.

Each example starts from an empty database. The normal suite runs a fixed set of examples;
`make fuzz` (HYPOTHESIS_PROFILE=fuzz) runs many more, random ones.
"""

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import hypothesis
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Max
from django.test import override_settings
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
from carts import selectors, services
from carts.api.serializers import CartOutput
from carts.attributes import attributes_key
from carts.db.document import cart_document
from carts.domain import CartOwner, CartState
from carts.models import (
    CURRENT_STATUSES,
    Cart,
    CartDiscount,
    CartItem,
    CartStatus,
    CheckoutAttempt,
    DiscountCode,
    IdempotencyRecord,
    PaymentState,
    Product,
    SavedItem,
    StockReservation,
)
from events.models import Event
from events.relay import events_position
from tests.carts.invariants_draws import (
    ATTEMPT,
    ATTRIBUTES,
    BUYER,
    CODE,
    CODE_CHANGE,
    CODES,
    ENTRIES,
    GUEST,
    GUESTS,
    IF_MATCH,
    LINE,
    MAX_CODES,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_SAVED,
    NEW_QUANTITY,
    OUTCOME,
    PAYMENT,
    PAYMENT_ANSWERS,
    PRODUCT,
    PRODUCTS,
    QUANTITY,
    SHOPPER,
    STAFF_CHANGE,
    UNKNOWN_ITEM,
    USER,
    USERS,
)
from tests.carts.invariants_model import (
    COMPLETED,
    RELEASED,
    RESERVED,
    Attempt,
    Line,
    LineKey,
    Outcome,
    PaymentStub,
    Shopper,
    Snapshot,
    etag_of,
    lines_add,
    normalised,
    owner_key,
    product_units,
    subtotal,
)
from tests.carts.invariants_rules_saved import SavedItemRules
from tests.factories import cart_items_prefetch
from tests.fuzz.profiles import FUZZING, profile

pytestmark = pytest.mark.slow

STALE_ETAG = '"00000000000000000000000000000000.1"'
CENT = Decimal("0.01")
# Reserving and releasing move a cart between these and keep its version.
PHASES = {CartStatus.ACTIVE, CartStatus.CHECKING_OUT}
# Why a change to a cart being checked out may be refused: it is, or the request is wrong.
WHILE_CHECKING_OUT = {
    "checkout_in_progress",
    "precondition_failed",
    "line_quantity_limit",
    "not_authenticated",  # a guest saving for later
    "saved_item_not_found",  # moving back another's saved item
}
# A checkout refused for its payment was reserved, then released: the cart is as it was.
PAYMENT_FAILED = {
    "payment_refused": PaymentState.REFUSED,
    "payment_unavailable": PaymentState.UNKNOWN,
}

EXAMPLES = 500 if FUZZING else 150
STEPS = 50

# What the runs did: "examples", "steps", and "<rule>: ok" or "<rule>: <error code>".
STATS: Counter = Counter()


class CartMachine(SavedItemRules, RuleBasedStateMachine):
    payments: PaymentStub  # set by the test, started once for all examples

    def __init__(self) -> None:
        super().__init__()
        for model in (
            SavedItem,
            StockReservation,
            CheckoutAttempt,
            IdempotencyRecord,
            CartDiscount,
            CartItem,
            Cart,
            DiscountCode,
            Product,
            get_user_model(),
        ):
            model.objects.all().delete()
        self.payments.payments.clear()
        users = [get_user_model().objects.create(username=f"shopper{i}") for i in range(USERS)]
        self.shoppers = [Shopper(CartOwner(user_id=user.pk)) for user in users] + [
            Shopper(CartOwner(session_token=f"guest-{i}")) for i in range(GUESTS)
        ]
        self.product_ids = []
        self.price, self.start, self.sold = {}, {}, Counter()
        for sku, price, currency, stock in PRODUCTS:
            product = Product.objects.create(
                sku=sku, name=sku, price=price, currency=currency, stock=stock
            )
            self.product_ids.append(product.pk)
            self.price[product.pk], self.start[product.pk] = price, stock
        self.code_ids = []
        for code, terms, products in CODES:
            made = DiscountCode.objects.create(code=code, **terms)
            made.products.set([self.product_ids[n] for n in products])
            self.code_ids.append(made.pk)
        self.used: Counter = Counter()  # code id: the completed checkouts that used it
        self.attempts: list[Attempt] = []
        self.keys = 0
        self.versions: dict = {}
        self.rendered: dict = {}  # cart id: (cart, lines) when last checked through CartOutput
        self.closed: dict = {}  # cart id: its record when it was checked out or merged
        self.before = self.now = Snapshot.take()  # the data before and after the last step
        self.result = self.refused = None  # what the last step's call returned or raised
        STATS["examples"] += 1

    # Helpers ------------------------------------------------------------------------

    def _attempt(self, name: str, call) -> bool:
        """Run one service call. A domain error must leave the database as it was (a refused
        payment: see `checkout`); a success must bump the version of every cart whose lines or
        status it changed, but for reserving and releasing, which keep it."""
        STATS["steps"] += 1
        before = self.before = self.now
        self.result = self.refused = None
        try:
            self.result = call()
        except DomainError as exc:
            self.refused = exc
        after = self.now = Snapshot.take()
        for cart_id, cart in after.carts.items():
            old = before.carts.get(cart_id)
            if old is None:
                continue
            if {old["status"], cart["status"]} == PHASES:
                assert cart["version"] == old["version"], f"{name} changed the version"
            elif old["status"] != cart["status"] or (
                before.lines_of(cart_id) != after.lines_of(cart_id)
            ):
                assert cart["version"] > old["version"], f"{name} changed a cart, same version"
        if self.refused is not None:
            code = self.refused.code
            STATS[f"{name}: {code}"] += 1
            if "checking out)" in name:
                assert code in WHILE_CHECKING_OUT, f"{name} was refused with {code}"
            if code not in PAYMENT_FAILED:
                assert after == before, f"{name} was refused ({code}) but changed data"
            return False
        STATS[f"{name}: ok"] += 1
        return True

    def _named(self, name: str, shopper: Shopper) -> str:
        return f"{name} (checking out)" if shopper.reserved else name

    def _if_match(self, shopper: Shopper, kind: str | None) -> list[str] | None:
        if kind is None:
            return None
        if kind == "*":
            return ["*"]
        current = self.now.cart_ids(shopper.owner, CURRENT_STATUSES)
        if kind == "current" and current:
            return [etag_of(self.now.carts[current[0]])]
        return [STALE_ETAG]

    def _item_id(self, shopper: Shopper, line: tuple[bool, int]) -> int:
        own, index = line
        current = self.now.cart_ids(shopper.owner, CURRENT_STATUSES)
        lines = self.now.lines.items()
        ids = sorted(pk for pk, row in lines if not own or row["cart_id"] in current)
        if not own:
            ids.append(UNKNOWN_ITEM)
        return ids[index % len(ids)] if ids else UNKNOWN_ITEM

    def _changed_own_line(self, shopper: Shopper, item_id: int) -> LineKey:
        """The key of the line a successful change touched, which must be the shopper's."""
        assert shopper.reserved is None, "a line of a cart being checked out changed"
        line = self.before.lines[item_id]
        assert self.before.active_cart_ids(shopper.owner) == [line["cart_id"]], (
            "a shopper changed a line of another cart"
        )
        return self.before.key_of(item_id)

    def _stale(self, s: Shopper, etag: list[str] | None) -> bool:
        """Whether `If-Match: etag` fails against the shopper's active cart (a cart being
        checked out is not active: any `If-Match` fails)."""
        active = self.now.active_cart_ids(s.owner)
        current = etag_of(self.now.carts[active[0]]) if active else None
        return etag is not None and not (current and ("*" in etag or current in etag))

    def _adding(self, s: Shopper, etag: list[str] | None, entries: list[tuple]) -> Outcome:
        """What adding `entries` (product id, quantity, attributes) must do, in the services'
        order: each quantity checked, then If-Match, the cart being checked out, and what
        `lines_add` checks on the shopper's cart (an abandoned one comes back)."""
        if any(not 1 <= quantity <= MAX_QUANTITY for _, quantity, _ in entries):
            return "line_quantity_limit", {"max_quantity": MAX_QUANTITY}
        active = [self.now.carts[pk] for pk in self.now.active_cart_ids(s.owner)]
        if self._stale(s, etag):
            return "precondition_failed", {"current_etag": etag_of(active[0])} if active else {}
        if s.reserved is not None:
            return "checkout_in_progress", {}
        lines = s.active if s.active is not None else (s.abandoned or [{}])[-1]
        currency = active[0]["currency"] if active else django_settings.CART_DEFAULT_CURRENCY
        entries = [(pk, quantity, normalised(attrs)) for pk, quantity, attrs in entries]
        limits = (MAX_QUANTITY, MAX_LINES)
        return lines_add(lines, entries, self.now.products, currency, limits)

    def _added(self, s: Shopper, name: str, expected: Outcome, call) -> bool:
        """Run an add that must do as `expected` says; on success, the shopper's lines are
        the expected ones, no product added over its stock."""
        code, outcome = expected
        if not self._attempt(self._named(name, s), call):
            assert self.refused.code == code, f"{name}: expected {code}, got {self.refused.code}"
            return False
        assert code is None, f"{name} succeeded where it should have been refused ({code})"
        assert s.reserved is None, "a cart being checked out took a line"
        s.open()
        added = {key[0] for key, line in outcome.items() if line != s.active.get(key)}
        s.active, s.ever_had_items = outcome, True
        for product_id, units in product_units(s.active).items():
            stock = self.now.products[product_id]["stock"]
            assert product_id not in added or units <= stock, "lines over the stock"
        if len(product_units(s.active)) < len(s.active):
            STATS[f"{name}: a product on two lines"] += 1
        return True

    def _close(self, shopper: Shopper, cart_id, codes_left: list[int] | None = None) -> None:
        """The cart is checked out (with the shopper's codes) or merged (`codes_left`: the
        codes that stayed on the guest's cart)."""
        self.closed[cart_id] = self.now.record(cart_id)
        assert self.closed[cart_id]["lines"] == shopper.active
        kept = shopper.codes if codes_left is None else codes_left
        assert set(self.closed[cart_id]["codes"]) == set(kept)
        shopper.active, shopper.ever_had_items, shopper.codes = None, False, []

    def _shopper_of(self, cart_id) -> Shopper:
        key = owner_key(self.now.carts[cart_id])
        return next(s for s in self.shoppers if s.owner.key == key)

    def _new_attempt(self, cart_id, key: str) -> Attempt | None:
        """The attempt the last step made, if any (at most one), for `cart_id`: its lines
        were all sellable, and its total is theirs."""
        new = self.now.attempts.keys() - self.before.attempts.keys()
        if not new:
            return None
        (attempt_id,) = new
        assert self.now.attempts[attempt_id]["cart_id"] == cart_id
        assert not self.before.faults(cart_id), "a line at fault was checked out"
        cart, lines = self.before.carts[cart_id], self.before.lines_of(cart_id)
        charged = self.now.codes_of(cart_id)
        total = self.now.attempts[attempt_id]["total"]
        if self.now.attempts[attempt_id]["status"] == RELEASED:
            # Refused for its payment: the release forgot the codes' amounts.
            assert Decimal("0") <= total <= subtotal(lines)
        else:
            assert None not in charged.values(), "a code's amount was not kept at checkout"
            off = sum(charged.values(), Decimal("0"))
            assert total == max(subtotal(lines) - off, Decimal("0"))
        version, etag = cart["version"], etag_of(cart)
        attempt = Attempt(attempt_id, cart_id, key, lines, version, etag, tuple(charged))
        self.attempts.append(attempt)
        return attempt

    def _reserved(self) -> list[Attempt]:
        return [attempt for attempt in self.attempts if attempt.status == RESERVED]

    def _lost(self) -> list:
        """The released attempts whose payment's answer was lost: the sweeper asks again."""
        return [
            pk
            for pk, row in self.now.attempts.items()
            if row["status"] == RELEASED and row["payment"] == PaymentState.UNKNOWN
        ]

    def _buyer(self, pick: int, among: list[Shopper] | None = None) -> Shopper:
        """A shopper (`among` these) whose cart holds lines (being checked out or not), or one
        time in four (or if none) any shopper: most line changes and checkouts then have a
        line to act on."""
        pool = (pick % 4 and [s for s in among or self.shoppers if s.active]) or self.shoppers
        return pool[pick % len(pool)]

    def _pick(self, pick: int) -> Attempt:
        """A reserved attempt, or one time in four (or if none) any attempt."""
        pool = (pick % 4 and self._reserved()) or self.attempts
        return pool[pick % len(pool)]

    def _reserved_units(self) -> Counter:
        units: Counter = Counter()
        for attempt in self._reserved():
            units.update(product_units(attempt.lines))
        return units

    def _completed(self, attempt: Attempt) -> None:
        """The attempt's units are sold and its cart checked out, for good."""
        shopper = self._shopper_of(attempt.cart_id)
        attempt.status, shopper.reserved = COMPLETED, None
        self.sold.update(product_units(attempt.lines))
        self.used.update(attempt.codes)
        if attempt.request_key:
            shopper.completed_keys[attempt.request_key] = attempt.cart_id
        self._close(shopper, attempt.cart_id)
        closed = self.closed[attempt.cart_id]
        assert closed["status"] == CartStatus.CHECKED_OUT
        off = sum(closed["codes"].values(), Decimal("0"))
        assert closed["total"] == max(subtotal(attempt.lines) - off, Decimal("0"))
        assert closed["lines"] == attempt.lines
        assert self.now.attempts[attempt.id]["status"] == COMPLETED

    def _released(self, attempt: Attempt, payment: str) -> None:
        """The units are back in stock and the cart is its owner's again, exactly as it was."""
        shopper = self._shopper_of(attempt.cart_id)
        attempt.status, shopper.reserved = RELEASED, None
        assert self.now.attempts[attempt.id]["status"] == RELEASED
        assert self.now.attempts[attempt.id]["payment"] == payment
        state = selectors.cart_get_active_with_lines(owner=shopper.owner)
        assert state is not None
        assert (state.cart.pk, state.cart.status) == (attempt.cart_id, CartStatus.ACTIVE)
        assert (state.cart.version, state.etag) == (attempt.version, attempt.etag)
        assert self.now.lines_of(attempt.cart_id) == attempt.lines == shopper.active
        assert self.now.codes_of(attempt.cart_id) == dict.fromkeys(attempt.codes)

    # Shoppers -----------------------------------------------------------------------

    @initialize(
        shoppers=st.sets(SHOPPER),
        attributes=ATTRIBUTES,
        staff=st.none() | st.tuples(st.sampled_from([0, 2]), STAFF_CHANGE),
        saving=st.sets(USER),
        checking_out=st.sets(SHOPPER),
    )
    def fill_some_carts(self, shoppers, attributes, staff, saving, checking_out):
        """Some shoppers start with a unit each of the first and third products, and two of
        the first with `attributes` (a line of its own, unless there are none); staff may have
        changed one of those products since; some users saved their first line for later;
        some of the shoppers are checking out."""
        for shopper in sorted(shoppers):
            self.add(shopper, 0, 1, None, None)
            self.add(shopper, 2, 1, None, None)
            self.add(shopper, 0, 2, attributes, None)
        if staff is not None:
            self.staff_changes_product(*staff)
        for shopper in sorted(shoppers & saving):
            s = self.shoppers[shopper]
            self._save(s, self._item_id(s, (True, 0)), None)
        for shopper in sorted(shoppers & checking_out):
            self._reserve(self.shoppers[shopper], None, retry=False)

    @rule(
        shopper=SHOPPER,
        product=PRODUCT,
        quantity=QUANTITY,
        attributes=ATTRIBUTES,
        if_match=IF_MATCH,
    )
    def add(self, shopper, product, quantity, attributes, if_match):
        """Succeeds or is refused exactly as the model says (`_adding`)."""
        s, product_id = self.shoppers[shopper], self.product_ids[product]
        etag = self._if_match(s, if_match)
        expected = self._adding(s, etag, [(product_id, quantity, attributes)])
        self._added(
            s,
            "add",
            expected,
            lambda: services.cart_item_add(
                owner=s.owner,
                product_id=product_id,
                quantity=quantity,
                attributes=attributes,
                if_match=etag,
            ),
        )

    @rule(shopper=SHOPPER, entries=ENTRIES, if_match=IF_MATCH)
    def add_many(self, shopper, entries, if_match):
        """A bulk add: every entry or none, as the model says, the refusal naming the entries
        at fault by index; a refused one changes nothing (`_attempt`)."""
        s = self.shoppers[shopper]
        etag = self._if_match(s, if_match)
        known = [*self.product_ids, UNKNOWN_ITEM]
        entries = [(known[product], quantity, attrs) for product, quantity, attrs in entries]
        items = [
            {"product_id": pk, "quantity": quantity}
            | ({} if attrs is None else {"attributes": attrs})
            for pk, quantity, attrs in entries
        ]
        expected = self._adding(s, etag, entries)

        def call() -> CartState:
            return services.cart_items_add(owner=s.owner, items=items, if_match=etag)

        if self._added(s, "add many", expected, call):
            return
        named = dict(self.refused.extra)
        if "lines" in named:
            named["lines"] = sorted(named["lines"], key=lambda line: line["index"])
        assert named == expected[1], f"add many ({self.refused.code}) named {named}"

    @rule(buyer=BUYER, line=LINE, quantity=NEW_QUANTITY, if_match=IF_MATCH)
    def change_line(self, buyer, line, quantity, if_match):
        """Set a line's quantity (0 removes it), or remove it (`None`)."""
        s = self._buyer(buyer)
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
        ok = self._attempt(self._named(name, s), call)
        if quantity and (ok or self.refused.code == "insufficient_stock"):
            # The product's units over all the cart's lines, this one at its new quantity.
            key = self.before.key_of(item_id)
            cart_lines = self.before.lines_of(self.before.lines[item_id]["cart_id"])
            units = product_units({**cart_lines, key: cart_lines[key]._replace(quantity=quantity)})
            short = units[key[0]] > self.before.products[key[0]]["stock"]
            assert short != ok, f"update ({ok=}) of {units[key[0]]} units over the lines"
        if ok:
            key = self._changed_own_line(s, item_id)
            if quantity:
                s.active[key] = s.active[key]._replace(
                    quantity=quantity, unit_price=self.price[key[0]]
                )
            else:
                del s.active[key]

    @rule(shopper=SHOPPER, if_match=IF_MATCH)
    def clear(self, shopper, if_match):
        s = self.shoppers[shopper]
        etag = self._if_match(s, if_match)
        call = lambda: services.cart_clear(owner=s.owner, if_match=etag)  # noqa: E731
        if self._attempt(self._named("clear", s), call) and s.active:
            assert s.reserved is None, "a cart being checked out was cleared"
            s.active = {}

    @rule(buyer=BUYER, if_match=IF_MATCH, payment=PAYMENT)
    def checkout(self, buyer, if_match, payment):
        """The whole checkout in one call: reserve, authorise, complete or release."""
        s = self._buyer(buyer)
        etag = self._if_match(s, if_match)
        self.payments.answer = payment
        url = "" if payment == "none" else self.payments.url

        def call() -> CartState:
            with override_settings(PAYMENT_SERVICE_URL=url):
                return services.cart_checkout(owner=s.owner, if_match=etag)

        ok = self._attempt(f"{self._named('checkout', s)}, {payment}", call)
        assert self.now.saved == self.before.saved, "a checkout touched saved items"
        code = self.refused.code if self.refused else None
        if code == "checkout_conflict":
            (cart_id,) = self.before.active_cart_ids(s.owner)
            faulty_codes = {fault["code"] for fault in self.refused.extra["discounts"]}
            on_cart = {CODES[self.code_ids.index(pk)][0] for pk in self.before.codes_of(cart_id)}
            assert faulty_codes <= on_cart, "checkout refused a code not on the cart"
            assert self.before.faults(cart_id) or faulty_codes, "a cart with no fault was refused"
            self._check_faults(cart_id, self.refused.extra["lines"])
        if not ok and code not in PAYMENT_FAILED:
            return
        assert s.reserved is None, "a cart being checked out was checked out again"
        (cart_id,) = self.before.active_cart_ids(s.owner)
        attempt = self._new_attempt(cart_id, "")
        assert attempt is not None
        if ok:
            self._completed(attempt)
            free = payment == "none" or not self.now.attempts[attempt.id]["total"]
            paid = PaymentState.NOT_NEEDED if free else PaymentState.AUTHORISED
            assert self.now.attempts[attempt.id]["payment"] == paid
        else:
            assert self.now.without_activity(self.before.attempts) == (
                self.before.without_activity(self.before.attempts)
            ), f"a checkout refused for its payment ({code}) changed data"
            self._released(attempt, PAYMENT_FAILED[code])

    @rule(buyer=BUYER, if_match=IF_MATCH, retry=st.sampled_from([False, False, True]))
    def reserve(self, buyer, if_match, retry):
        """Checkout's first phase alone; `retry`: with the shopper's last Idempotency-Key."""
        self._reserve(self._buyer(buyer), if_match, retry)

    def _check_faults(self, cart_id, faults: list[dict]) -> None:
        """The lines at fault a checkout or its preview found are those the model finds."""
        found = {
            self.before.key_of(fault["item_id"]): (fault["reason"], fault.get("requested"))
            for fault in faults
        }
        assert len(found) == len(faults), "a line was at fault twice"
        assert found == self.before.faults(cart_id), "checkout missed or made a fault"

    def _reserve(self, s: Shopper, if_match: str | None, retry: bool) -> None:
        etag = self._if_match(s, if_match)
        if not (retry and s.last_key):
            self.keys += 1
            s.last_key = f"key-{self.keys}"
        key = s.last_key
        # A retry of a checkout that is under way or done, as opposed to a new one.
        retrying = (s.reserved and s.reserved.request_key == key) or (
            s.reserved is None and s.active is None and key in s.completed_keys
        )
        if not self._attempt(
            "reserve (retry)" if retrying else self._named("reserve", s),
            lambda: services.checkout_reserve(
                owner=s.owner, if_match=etag, request_key=key, service_data=None
            ),
        ):
            # A retry is answered from what was done, whatever its If-Match says.
            assert not retrying, f"a retried checkout was refused ({self.refused.code})"
            if self.refused.code == "checkout_conflict":
                (cart_id,) = self.before.active_cart_ids(s.owner)
                self._check_faults(cart_id, self.refused.extra["lines"])
            return
        if s.reserved is None and s.active is not None:
            (cart_id,) = self.before.active_cart_ids(s.owner)
            attempt = self._new_attempt(cart_id, key)
            assert attempt is not None
            if not self.now.attempts[attempt.id]["total"]:
                # Nothing to pay (the codes take it all): sold at once, the cart answered.
                assert isinstance(self.result, CartState)
                assert self.result.cart.pk == cart_id
                self._completed(attempt)
                assert self.now.attempts[attempt.id]["payment"] == PaymentState.NOT_NEEDED
                return
            assert isinstance(self.result, CheckoutAttempt)
            assert self.result.pk == attempt.id
            s.reserved = attempt
            # Reads show the cart being checked out, with an ETag of its own.
            state = selectors.cart_get_active_with_lines(owner=s.owner)
            assert (state.cart.pk, state.cart.status) == (cart_id, CartStatus.CHECKING_OUT)
            assert state.etag == etag_of(self.now.carts[cart_id]) != attempt.etag
            return
        # A retry: the attempt under way, or the checked-out cart; nothing changes.
        assert retrying, "a checkout was reserved without an active cart"
        assert self.now == self.before, "a retried checkout changed data"
        if s.reserved is not None:
            assert isinstance(self.result, CheckoutAttempt)
            assert self.result.pk == s.reserved.id
        else:
            assert isinstance(self.result, CartState)
            assert self.result.cart.pk == s.completed_keys[key]
            assert self.result.cart.status == CartStatus.CHECKED_OUT

    @rule(buyer=BUYER)
    def preview(self, buyer):
        """Checkout's preview changes nothing, and finds the lines at fault checkout would."""
        s = self._buyer(buyer)
        if not self._attempt(
            self._named("preview", s), lambda: services.checkout_preview(owner=s.owner)
        ):
            return
        assert self.now == self.before, "a checkout preview changed data"
        (cart_id,) = self.before.active_cart_ids(s.owner)
        self._check_faults(cart_id, self.result.lines)
        assert self.result.ok == (not self.result.lines and not self.result.discounts)

    @rule(user=USER, guest=GUEST)
    def merge(self, user, guest):
        u, g = self.shoppers[user], self.shoppers[guest]
        name = "merge (guest checking out)" if g.reserved else self._named("merge", u)
        expected = self._merging(u, g)
        merged = self._attempt(
            name,
            lambda: services.cart_merge(
                user_id=u.owner.user_id, session_token=g.owner.session_token
            ),
        )
        assert self.now.saved == self.before.saved, "a merge touched saved items"
        if not merged:
            assert self.refused.code == expected, f"merge: expected {expected}"
            return
        assert expected is None, f"a merge succeeded where it should have been refused ({expected})"
        assert g.reserved is None, "a guest cart being checked out was merged"
        if g.active is None:
            # No guest cart: nothing moves.
            assert self.now == self.before, "a merge with no guest cart to merge changed data"
            return
        assert u.reserved is None, "a guest cart was merged into a cart being checked out"
        u.open()
        for key, line in g.active.items():
            held = u.active[key].quantity if key in u.active else 0
            quantity = min(held + line.quantity, MAX_QUANTITY)
            u.active[key] = Line(quantity, self.price[key[0]], line.attributes)
        u.ever_had_items = u.ever_had_items or bool(g.active)
        moving = [pk for pk in g.codes if pk not in u.codes][: MAX_CODES - len(u.codes)]
        u.codes += moving
        (cart_id,) = self.before.active_cart_ids(g.owner)
        self._close(g, cart_id, codes_left=[pk for pk in g.codes if pk not in moving])
        assert self.closed[cart_id]["status"] == CartStatus.MERGED

    def _merging(self, u: Shopper, g: Shopper) -> str | None:
        """Why merging the guest's cart into the user's must be refused (None: it must not):
        either being checked out, or more lines together (one per product and attributes)
        than a cart may hold."""
        if g.reserved is not None or (g.active is not None and u.reserved is not None):
            return "checkout_in_progress"
        lines = u.active if u.active is not None else (u.abandoned or [{}])[-1]
        if g.active is not None and len(lines.keys() | g.active.keys()) > MAX_LINES:
            return "cart_lines_limit"
        return None

    @precondition(lambda self: any(s.abandoned for s in self.shoppers))
    @rule(shopper=SHOPPER)
    def come_back(self, shopper):
        """`GET cart/` with no active cart gives the shopper their abandoned cart back."""
        s = self.shoppers[shopper]
        if self._attempt(
            self._named("resume", s), lambda: services.cart_resume(owner=s.owner)
        ) and (s.active is None and s.abandoned):
            s.open()

    # The payment, and the sweeper ---------------------------------------------------

    @precondition(lambda self: self._reserved())
    @rule(pick=ATTEMPT)
    def authorise_and_complete(self, pick):
        """The payment service approved the attempt: it completes (once)."""
        attempt = self._pick(pick)
        status = attempt.status
        ok = self._attempt(
            f"complete ({status})",
            lambda: services.checkout_complete(
                attempt_id=attempt.id, payment=PaymentState.AUTHORISED, authorization_id="x"
            ),
        )
        assert ok == (status != RELEASED), "a released attempt completed, or a reserved failed"
        if status == RESERVED:
            self._completed(attempt)
            assert self.result.cart.pk == attempt.cart_id
            assert self.now.attempts[attempt.id]["payment"] == PaymentState.AUTHORISED
        else:
            assert self.now == self.before, "completing an ended attempt changed data"

    @precondition(lambda self: self._reserved())
    @rule(pick=ATTEMPT)
    def release(self, pick):
        """The payment service refused the attempt: its stock and cart are given back."""
        attempt = self._pick(pick)
        status = attempt.status
        released = []
        assert self._attempt(
            f"release ({status})",
            lambda: released.append(
                services.checkout_release(
                    attempt_id=attempt.id, reason="refused", payment=PaymentState.REFUSED
                )
            ),
        )
        assert released == [status == RESERVED]
        if status == RESERVED:
            self._released(attempt, PaymentState.REFUSED)
        else:
            assert self.now == self.before, "releasing an ended attempt changed data"

    @precondition(lambda self: self._reserved() or self._lost())
    @rule(pick=ATTEMPT, outcome=OUTCOME, later=st.booleans())
    def expire(self, pick, outcome, later):
        """The worker died: the attempt expires (`later`: every reservation, an hour on), and
        the sweeper resolves what expired by asking the payment service, and settles every
        payment whose answer was lost."""
        attempt = self._pick(pick)
        if attempt.status == RESERVED and outcome != "absent":
            self.payments.payments[str(attempt.id)] = outcome
        now = timezone.now()
        if later:
            now += timedelta(hours=1, seconds=django_settings.CHECKOUT_RESERVATION_SECONDS)
            expiring = self._reserved()
        else:
            expires = now - timedelta(seconds=1)
            CheckoutAttempt.objects.filter(pk=attempt.id).update(expires_at=expires)
            expiring = [attempt] if attempt.status == RESERVED else []
        lost = self._lost()
        reports = []
        assert self._attempt(
            "expire", lambda: reports.append(services.checkout_release_expired(now=now))
        )
        resolved: Counter = Counter()
        for expired in expiring:
            said = self.payments.payments.get(str(expired.id), "absent")
            if said == "authorised":
                self._completed(expired)
                resolved["completed"] += 1
            else:
                self._released(expired, said)
                resolved["released"] += 1
            STATS[f"expire: {said}"] += 1
        assert reports[0].resolved == dict(resolved)
        assert reports[0].payments_settled == ({"voided": len(lost)} if lost else {})
        for pk in lost:
            assert self.payments.payments[str(pk)] == "voided"
            assert self.now.attempts[pk]["payment"] == PaymentState.VOIDED
        STATS["expire: voided"] += len(lost)

    # Discount codes -----------------------------------------------------------------

    @rule(shopper=SHOPPER, code=CODE, if_match=IF_MATCH)
    def apply_code(self, shopper, code, if_match):
        s, code_id, spelling = self.shoppers[shopper], self.code_ids[code], CODES[code][0]
        etag = self._if_match(s, if_match)
        if not self._attempt(
            self._named("apply", s),
            lambda: services.cart_discount_apply(
                owner=s.owner, code=spelling.lower(), if_match=etag
            ),
        ):
            return
        assert s.reserved is None, "a code went on a cart being checked out"
        assert s.active is not None, "a code went on no cart"
        if code_id in s.codes:
            assert self.now == self.before, "applying a code already on the cart changed data"
            return
        s.codes.append(code_id)
        shown = {c["code"]: c for c in cart_document(self.result)["discounts"]}
        assert shown[spelling]["applicable"], "a code was applied that does not apply"

    @precondition(lambda self: any(s.codes for s in self.shoppers))
    @rule(pick=BUYER, code=CODE)
    def remove_code(self, pick, code):
        """Mostly a code on the shopper's cart (if any shopper holds one), else any code."""
        holders = [s for s in self.shoppers if s.codes]
        s = holders[pick % len(holders)] if holders and pick % 4 else self.shoppers[pick % 5]
        if s.codes and pick % 4:
            code = self.code_ids.index(s.codes[pick % len(s.codes)])
        code_id = self.code_ids[code]
        if self._attempt(
            self._named("remove code", s),
            lambda: services.cart_discount_remove(owner=s.owner, code=CODES[code][0]),
        ):
            assert code_id in s.codes, "a code not on the cart was removed"
            s.codes.remove(code_id)

    @rule(code=CODE, change=CODE_CHANGE)
    def staff_changes_code(self, code, change):
        field_name, value = change
        if field_name == "ends_at" and value == "past":
            value = timezone.now() - timedelta(seconds=1)
        self._attempt(
            f"code {field_name}",
            lambda: services.discount_code_update(
                code_id=self.code_ids[code], fields={field_name: value}
            ),
        )

    # Staff and jobs -----------------------------------------------------------------

    @rule(product=PRODUCT, change=STAFF_CHANGE)
    def staff_changes_product(self, product, change):
        product_id, (field_name, value) = self.product_ids[product], change
        if self._attempt(
            f"set_{field_name}",
            lambda: services.product_update(product_id=product_id, fields={field_name: value}),
        ):
            if field_name == "stock":
                # Staff set the units free now; those reserved come back if released.
                self.start[product_id] = value + self._reserved_units()[product_id]
                self.sold[product_id] = 0
            if field_name == "price":
                self.price[product_id] = value

    @precondition(lambda self: any(s.ever_had_items for s in self.shoppers))
    @rule(hours=st.sampled_from([1, 12, 23, 25, 48]))
    def abandon_idle(self, hours):
        """The idle-cart job, run `hours` from now: past CART_ABANDONMENT_MINUTES (a day),
        every active cart that ever held a line and was not touched since is abandoned (one
        being checked out is not active)."""
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
                s.abandoned_codes.append(s.codes)
                s.active, s.ever_had_items, s.codes = None, False, []

    # Invariants ---------------------------------------------------------------------

    @invariant()
    def database_matches_the_model(self):
        now = self.now
        for line in now.lines.values():
            assert 1 <= line["quantity"] <= MAX_QUANTITY, line
            assert line["attributes"] == normalised(line["attributes"]), line
            assert line["attributes_key"] == attributes_key(line["attributes"]), line
        identities = Counter(
            (line["cart_id"], line["product_id"], line["attributes_key"])
            for line in now.lines.values()
        )
        assert max(identities.values(), default=1) == 1, "two lines of one product and attributes"
        per_cart = Counter(line["cart_id"] for line in now.lines.values())
        assert max(per_cart.values(), default=0) <= MAX_LINES, "a cart over the line limit"

        reserved = self._reserved_units()
        for product_id, product in now.products.items():
            assert product["stock"] >= 0, product
            expected = self.start[product_id] - self.sold[product_id] - reserved[product_id]
            assert product["stock"] == expected, (product, "start - sold - reserved:", expected)
        assert now.reservations == {
            (attempt.id, product_id): units
            for attempt in self._reserved()
            for product_id, units in product_units(attempt.lines).items()
        }, "the stock reservations are not those of the reserved attempts"
        assert {pk: row["status"] for pk, row in now.attempts.items()} == {
            attempt.id: attempt.status for attempt in self.attempts
        }
        for key, state in self.payments.payments.items():
            row = now.attempts[UUID(key)]
            assert state != "authorised" or (
                row["status"] == COMPLETED or row["payment"] == PaymentState.UNKNOWN
            ), f"attempt {key} was charged and not sold: {row}"

        owners = {s.owner.key for s in self.shoppers}
        assert {owner_key(cart) for cart in now.carts.values()} <= owners
        for s in self.shoppers:
            current = now.cart_ids(s.owner, CURRENT_STATUSES)
            assert len(current) <= 1, f"{s.owner.key} has {len(current)} current carts"
            assert (now.lines_of(current[0]) if current else None) == s.active, s.owner.key
            if current:
                cart = now.carts[current[0]]
                assert (cart["first_item_added_at"] is not None) == s.ever_had_items, s.owner.key
                checking_out = cart["status"] == CartStatus.CHECKING_OUT
                assert checking_out == (s.reserved is not None), s.owner.key
                assert not checking_out or s.reserved.cart_id == current[0]
            else:
                assert s.reserved is None, s.owner.key

        for s in self.shoppers:
            current = now.cart_ids(s.owner, CURRENT_STATUSES)
            held = set(now.codes_of(current[0])) if current else set()
            assert held == set(s.codes), f"{s.owner.key} holds codes {held}, not {s.codes}"
            if current:
                assert now.carts[current[0]]["discount_count"] == len(s.codes), s.owner.key
        holding = Counter(pk for attempt in self._reserved() for pk in attempt.codes)
        for code_id, code in now.codes.items():
            assert (code["times_used"], code["uses_held"]) == (
                self.used[code_id],
                holding[code_id],
            ), code
            if code["max_uses"] is not None:
                assert code["times_used"] + code["uses_held"] <= code["max_uses"], code
            sold = [
                row["amount"]
                for row in now.cart_codes.values()
                if row["code_id"] == code_id
                and now.carts[row["cart_id"]]["status"] == CartStatus.CHECKED_OUT
            ]
            assert code["discounted_total"] == sum(sold, Decimal("0")), code

        for cart_id, version in self.versions.items():
            assert now.carts[cart_id]["version"] >= version, "a cart's version went down"
        self.versions = {cart_id: cart["version"] for cart_id, cart in now.carts.items()}

        for cart_id, record in self.closed.items():
            assert now.record(cart_id) == record, "a checked-out or merged cart changed"

        # Each cart as the API shows it, whenever it changed.
        seen = {cart_id: (cart, now.lines_of(cart_id)) for cart_id, cart in now.carts.items()}
        changed = [cart_id for cart_id in seen if seen[cart_id] != self.rendered.get(cart_id)]
        self.rendered = seen
        if not changed:
            return
        # Each changed cart's events: numbered 1..n by the relay, the last one the cart as it is.
        events_position()
        told = Event.objects.filter(cart_id__in=changed).values("cart_id")
        told = {row["cart_id"]: row for row in told.annotate(n=Count("pk"), last=Max("sequence"))}
        for cart in Cart.objects.filter(pk__in=changed).prefetch_related(cart_items_prefetch()):
            lines = now.lines_of(cart.pk)
            body = CartOutput().to_representation(cart)
            events = told.get(cart.pk, {"n": 0, "last": None})
            assert events["n"] == events["last"], f"{cart.pk}: events {events}"
            last = Event.objects.get(cart_id=cart.pk, sequence=events["last"]).data["cart"]
            assert (last["status"], last["version"]) == (body["status"], body["version"]), last
            assert {
                (item["product"]["id"], attributes_key(item["attributes"])): item["quantity"]
                for item in last["items"]
            } == {key: line.quantity for key, line in lines.items()}, (
                "the cart's last event is not the cart as it is"
            )
            assert body["subtotal"] == str(subtotal(lines).quantize(CENT)), (body, lines)
            off = Decimal(body["discount_total"])
            shares = sum((Decimal(item["discount"]) for item in body["items"]), Decimal("0"))
            assert shares == off, body
            estimated = Decimal(body["estimated_total"])
            assert estimated == max(subtotal(lines) - off, Decimal("0")) >= 0, body
            if body["status"] == CartStatus.CHECKED_OUT:
                assert Decimal(body["total"]) == estimated, body
            assert body["total_quantity"] == sum(line.quantity for line in lines.values())
            reported = {
                (item["product"]["id"], attributes_key(item["attributes"])): (
                    item["quantity"],
                    item["unit_price"],
                    item["line_total"],
                    item["attributes"],
                )
                for item in body["items"]
            }
            assert len(reported) == len(body["items"]), body
            assert reported == {
                key: (
                    line.quantity,
                    str(line.unit_price),
                    str((line.quantity * line.unit_price).quantize(CENT)),
                    line.attributes,
                )
                for key, line in lines.items()
            }, (body, lines)


# Outcomes the fixed examples must reach, one at least of each group, or the sequences stopped
# exercising something.
REACHED = (
    ("add: ok",),
    ("add: a product on two lines", "add many: a product on two lines"),
    ("add many: ok",),
    # Refusals naming the entries at fault.
    ("add many: product_not_found", "add many: currency_mismatch", "add many: insufficient_stock"),
    ("update: ok",),
    ("checkout, approve: ok", "checkout, none: ok"),
    (
        "reserve: checkout_conflict",
        *(f"checkout, {payment}: checkout_conflict" for payment in PAYMENT_ANSWERS),
    ),
    ("checkout, refuse: payment_refused", "checkout, lost: payment_unavailable"),
    ("reserve: ok",),
    ("complete (reserved): ok",),
    ("release (reserved): ok",),
    ("expire: authorised",),
    ("expire: absent", "expire: refused"),
    tuple(
        f"{change} (checking out): checkout_in_progress"
        for change in ("add", "update", "remove", "clear")
    ),
    ("apply: ok",),
    ("apply: discount_code_invalid",),
    ("remove code: ok",),
    ("save: ok",),
    ("save: saved_items_limit",),
    ("move back: ok",),
    ("delete saved: ok", "delete saved: saved_item_not_found"),
    ("preview: ok",),
)


def test_cart_invariants_hold_under_random_sequences(transactional_db, settings, capsys):
    settings.CART_MAX_QUANTITY_PER_LINE = MAX_QUANTITY
    settings.CART_MAX_LINES = MAX_LINES
    settings.CART_MAX_DISCOUNT_CODES = MAX_CODES
    settings.SAVED_ITEMS_MAX = MAX_SAVED
    settings.BREAKER_MIN_CALLS = 10**9  # lost answers (500) must not open the breaker
    with connection.cursor() as cursor:  # every step commits: do not wait for the disk
        cursor.execute("SET synchronous_commit TO OFF")
    STATS.clear()
    with PaymentStub() as payments:
        # Set: checkout_reserve reserves and cart_checkout calls the stub (one rule unsets it).
        CartMachine.payments, settings.PAYMENT_SERVICE_URL = payments, payments.url
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
    for outcomes in REACHED:
        assert any(STATS[outcome] for outcome in outcomes), f"no step ended in {outcomes}"
