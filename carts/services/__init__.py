"""The cart domain's rules, as functions: `<entity>_<action>(*, ...)`, each in one transaction
(the batch jobs in one per batch). Callers import them from here.

- add.py: adding to a cart, one line or several; cart.py: a shopper's other changes to
  their cart;
- saved.py: a signed-in shopper's saved items (lines moved out of the cart, and back);
- checkout.py: checking out, in phases (reservations.py: the transactions of those phases;
  preview.py: what a checkout would find now; sales.py: telling the product service what was
  sold; sweeper.py: ending what a dead worker left half done);
- discounts.py: a shopper's discount codes; discount_codes.py: staff's;
- catalog.py: staff's product changes and the product service's data;
- maintenance.py: the batch jobs; common.py: the checks and steps several of them share.
"""

from carts.services.add import cart_item_add, cart_items_add
from carts.services.cart import (
    cart_clear,
    cart_details_update,
    cart_item_remove,
    cart_item_update,
    cart_merge,
    cart_resume,
)
from carts.services.catalog import (
    product_apply,
    product_cache_warm,
    product_create,
    product_data_fetch,
    product_delete,
    product_update,
)
from carts.services.checkout import (
    cart_change,
    cart_checkout,
    checkout_payment_settle,
    checkout_resolve,
)
from carts.services.discount_codes import (
    discount_code_batch_create,
    discount_code_create,
    discount_code_delete,
    discount_code_update,
)
from carts.services.discounts import cart_discount_apply, cart_discount_remove
from carts.services.maintenance import cart_abandon_idle, cart_purge_old
from carts.services.preview import checkout_preview
from carts.services.reservations import checkout_complete, checkout_release, checkout_reserve
from carts.services.saved import saved_item_delete, saved_item_move_to_cart, saved_item_save
from carts.services.sweeper import checkout_release_expired

__all__ = [
    "cart_abandon_idle",
    "cart_change",
    "cart_checkout",
    "cart_clear",
    "cart_details_update",
    "cart_discount_apply",
    "cart_discount_remove",
    "cart_item_add",
    "cart_item_remove",
    "cart_item_update",
    "cart_items_add",
    "cart_merge",
    "cart_purge_old",
    "cart_resume",
    "checkout_complete",
    "checkout_payment_settle",
    "checkout_preview",
    "checkout_release",
    "checkout_release_expired",
    "checkout_reserve",
    "checkout_resolve",
    "discount_code_batch_create",
    "discount_code_create",
    "discount_code_delete",
    "discount_code_update",
    "product_apply",
    "product_cache_warm",
    "product_create",
    "product_data_fetch",
    "product_delete",
    "product_update",
    "saved_item_delete",
    "saved_item_move_to_cart",
    "saved_item_save",
]
