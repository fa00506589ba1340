"""The cart domain's data: the catalog, carts and their lines, checkout's records
(cart.py), discount codes with their place on carts (discount.py), saved items
(saved.py), and refused checkouts (refusal.py)."""

from carts.models.cart import (
    CURRENT_STATUSES,
    AttemptStatus,
    Cart,
    CartItem,
    CartStatus,
    CheckoutAttempt,
    IdempotencyRecord,
    PaymentState,
    Product,
    StockReservation,
    StockSale,
    currency_validator,
    default_currency,
)
from carts.models.discount import CartDiscount, DiscountCode, DiscountKind
from carts.models.refusal import (
    CheckoutRefusal,
    CheckoutRefusalLine,
    CheckoutRefusalReason,
    RefusalReason,
)
from carts.models.saved import SavedItem

__all__ = [
    "CURRENT_STATUSES",
    "AttemptStatus",
    "Cart",
    "CartDiscount",
    "CartItem",
    "CartStatus",
    "CheckoutAttempt",
    "CheckoutRefusal",
    "CheckoutRefusalLine",
    "CheckoutRefusalReason",
    "DiscountCode",
    "DiscountKind",
    "IdempotencyRecord",
    "PaymentState",
    "Product",
    "RefusalReason",
    "SavedItem",
    "StockReservation",
    "StockSale",
    "currency_validator",
    "default_currency",
]
