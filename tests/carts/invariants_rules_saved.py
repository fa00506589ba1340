"""The cart machine's rules for saving for later (carts/services/saved.py): a signed-in
shopper moves a line into their saved items, moves one back to the cart, or deletes one;
guests may not. Mixed into `CartMachine` (test_invariants.py), whose helpers they use:
`_attempt`, `_named`, `_buyer`, `_item_id`, `_if_match`, `_stale`, `_adding`, `_added` and
`_changed_own_line`."""

from hypothesis.stateful import invariant, precondition, rule

from carts import services
from carts.attributes import attributes_key
from tests.carts.invariants_draws import (
    BUYER,
    IF_MATCH,
    LINE,
    MAX_QUANTITY,
    MAX_SAVED,
    SAVED_ITEM,
    UNKNOWN_ITEM,
    USERS,
)
from tests.carts.invariants_model import Saved, Shopper, normalised


class SavedItemRules:
    """Each user's saved items are the model's (`Shopper.saved`): one per product and
    attributes, 1 to MAX_QUANTITY units, at most MAX_SAVED; a refused save or move changes
    nothing (`_attempt`)."""

    def _saver(self, pick: int) -> Shopper:
        """A user with saved items, or one time in four (or if none) any shopper."""
        pool = (pick % 4 and [s for s in self.shoppers if s.saved]) or self.shoppers
        return pool[pick % len(pool)]

    def _saved_id(self, s: Shopper, pick: tuple[bool, int]) -> int:
        """As `_item_id`, of saved items."""
        own, index = pick
        rows = self.now.saved.items()
        ids = sorted(pk for pk, row in rows if not own or row["user_id"] == s.owner.user_id)
        if not own:
            ids.append(UNKNOWN_ITEM)
        return ids[index % len(ids)] if ids else UNKNOWN_ITEM

    def _saving(self, s: Shopper, item_id: int, etag: list[str] | None) -> str | None:
        """Why saving line `item_id` must be refused, in the service's order (None: it
        must not be): a guest, If-Match, the cart being checked out, not a line of the
        shopper's active cart, a new saved item past SAVED_ITEMS_MAX."""
        active = self.now.active_cart_ids(s.owner)
        line = self.now.lines.get(item_id)
        if s.owner.user_id is None:
            return "not_authenticated"
        if self._stale(s, etag):
            return "precondition_failed"
        if not active and s.reserved is not None:
            return "checkout_in_progress"
        if line is None or [line["cart_id"]] != active:
            return "cart_item_not_found"
        if self.now.key_of(item_id) not in s.saved and len(s.saved) >= MAX_SAVED:
            return "saved_items_limit"
        return None

    @rule(buyer=BUYER, line=LINE, if_match=IF_MATCH)
    def save_for_later(self, buyer, line, if_match):
        """The line leaves the cart (a new version) for the user's saved items: one per
        product and attributes, whose quantities add up to the line limit."""
        s = self._buyer(buyer, among=self.shoppers[:USERS])
        self._save(s, self._item_id(s, line), self._if_match(s, if_match))

    def _save(self, s: Shopper, item_id: int, etag: list[str] | None) -> None:
        expected = self._saving(s, item_id, etag)
        if not self._attempt(
            self._named("save", s),
            lambda: services.saved_item_save(owner=s.owner, item_id=item_id, if_match=etag),
        ):
            assert self.refused.code == expected, f"save: expected {expected}"
            return
        assert expected is None, f"a save succeeded where it should have been refused ({expected})"
        key = self._changed_own_line(s, item_id)
        moved = s.active.pop(key)
        held = s.saved[key].quantity if key in s.saved else 0
        s.saved[key] = Saved(min(held + moved.quantity, MAX_QUANTITY), moved.attributes)
        cart_id = self.before.lines[item_id]["cart_id"]
        assert self.now.carts[cart_id]["version"] > self.before.carts[cart_id]["version"]

    @precondition(lambda self: self.now.saved)
    @rule(saver=BUYER, pick=SAVED_ITEM, if_match=IF_MATCH)
    def move_to_cart(self, saver, pick, if_match):
        """A saved item goes back to the cart as an add would go (`_adding`), and is gone;
        refused, nothing changes, the item still saved."""
        s = self._saver(saver)
        saved_id = self._saved_id(s, pick)
        etag = self._if_match(s, if_match)
        row = self.now.saved.get(saved_id)
        if s.owner.user_id is None:
            expected = ("not_authenticated", {})
        elif row is None or row["user_id"] != s.owner.user_id:
            expected = ("saved_item_not_found", {})
        else:
            entry = (row["product_id"], row["quantity"], row["attributes"])
            expected = self._adding(s, etag, [entry])
        if self._added(
            s,
            "move back",
            expected,
            lambda: services.saved_item_move_to_cart(
                owner=s.owner, saved_item_id=saved_id, if_match=etag
            ),
        ):
            del s.saved[(row["product_id"], row["attributes_key"])]

    @precondition(lambda self: self.now.saved)
    @rule(user=BUYER, pick=SAVED_ITEM)
    def delete_saved(self, user, pick):
        """Only the user's own saved item can be deleted."""
        s = self._saver(user)
        if s.owner.user_id is None:
            return
        saved_id = self._saved_id(s, pick)
        row = self.now.saved.get(saved_id)
        mine = row is not None and row["user_id"] == s.owner.user_id
        ok = self._attempt(
            "delete saved",
            lambda: services.saved_item_delete(user_id=s.owner.user_id, saved_item_id=saved_id),
        )
        assert ok == mine, "a saved item not the user's was deleted, or the user's was not"
        if ok:
            del s.saved[(row["product_id"], row["attributes_key"])]
        else:
            assert self.refused.code == "saved_item_not_found"

    @invariant()
    def saved_items_match_the_model(self):
        now = self.now
        for row in now.saved.values():
            assert 1 <= row["quantity"] <= MAX_QUANTITY, row
            assert row["attributes"] == normalised(row["attributes"]), row
            assert row["attributes_key"] == attributes_key(row["attributes"]), row
        for s in self.shoppers:
            if s.owner.user_id is not None:
                saved = now.saved_of(s.owner.user_id)
                assert saved == s.saved, f"{s.owner.key} saved {saved}, not {s.saved}"
                assert len(s.saved) <= MAX_SAVED
        assert len(now.saved) == sum(len(s.saved) for s in self.shoppers), "saved twice"
