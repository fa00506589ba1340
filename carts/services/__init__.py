"""The cart domain's rules, as functions: `<entity>_<action>(*, ...)`, each in one transaction
(the batch jobs in one per batch). Callers import them from here.

- cart.py: a shopper's changes to their cart; checkout.py: checking out;
- catalog.py: staff's product changes and the product service's data;
- maintenance.py: the batch jobs; common.py: the checks and steps several of them share.
"""

from carts.services.cart import (
    cart_clear,
    cart_item_add,
    cart_item_remove,
    cart_item_update,
    cart_merge,
    cart_resume,
)
from carts.services.catalog import (
    product_cache_warm,
    product_create,
    product_delete,
    product_refresh,
    product_update,
)
from carts.services.checkout import cart_checkout
from carts.services.maintenance import cart_abandon_idle, cart_purge_old

__all__ = [
    "cart_abandon_idle",
    "cart_checkout",
    "cart_clear",
    "cart_item_add",
    "cart_item_remove",
    "cart_item_update",
    "cart_merge",
    "cart_purge_old",
    "cart_resume",
    "product_cache_warm",
    "product_create",
    "product_delete",
    "product_refresh",
    "product_update",
]
