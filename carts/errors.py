"""The cart domain's errors, each with a stable machine-readable `code`. (Errors of the other
services it calls are in integrations/errors.py.)"""

from addtocart.api.problems import DomainError


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found."


class ProductNotFound(NotFound):
    code = "product_not_found"
    title = "No such product."


class CartItemNotFound(NotFound):
    code = "cart_item_not_found"
    title = "No such line in your cart."


class InsufficientStock(DomainError):
    status = 409
    code = "insufficient_stock"
    title = "Not enough stock."


class ProductUnavailable(DomainError):
    status = 409
    code = "product_unavailable"
    title = "The product is not for sale."


class CurrencyMismatch(DomainError):
    status = 409
    code = "currency_mismatch"
    title = "The product is priced in another currency than the cart."


class CartEmpty(DomainError):
    status = 409
    code = "cart_empty"
    title = "The cart is empty."


class CheckoutConflict(DomainError):
    """Raised with `lines`: one entry for each line at fault."""

    status = 409
    code = "checkout_conflict"
    title = "Some lines cannot be checked out."


class CheckoutInProgress(DomainError):
    status = 409
    code = "checkout_in_progress"
    title = "The cart is being checked out; it cannot change until that ends."


class CheckoutExpired(DomainError):
    """The payment answered after the sweeper had released the stock; any authorisation is
    voided."""

    status = 409
    code = "checkout_expired"
    title = "The checkout took too long and was undone."


class ProductInUse(DomainError):
    status = 409
    code = "product_in_use"
    title = "The product is in carts; deactivate it instead of deleting it."


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition_failed"
    title = "The cart has changed since you read it."


class CartLinesLimitReached(DomainError):
    status = 422
    code = "cart_lines_limit"
    title = "The cart holds the most lines it may."


class LineQuantityLimitReached(DomainError):
    status = 422
    code = "line_quantity_limit"
    title = "The line would hold more than the most a line may."


class IdempotencyKeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used for another request."


class IdempotencyKeyInUse(DomainError):
    """A request with this key is still being processed (IETF draft "The Idempotency-Key HTTP
    Header Field"): retry after `Retry-After` seconds."""

    status = 409
    code = "idempotency_key_in_use"
    title = "A request with this Idempotency-Key is still being processed."


class NotSignedIn(DomainError):
    status = 401
    code = "not_authenticated"
    title = "Sign in first."


class AccountInactive(DomainError):
    """The account of a still-valid access token was deactivated or deleted since."""

    status = 401
    code = "account_inactive"
    title = "This account is deactivated or no longer exists."


class SkuTaken(DomainError):
    status = 409
    code = "sku_taken"
    title = "Another product has this SKU."


class DiscountCodeInvalid(DomainError):
    """Raised with `reason` (carts.discounts.Reason), and `min_subtotal` for that reason."""

    status = 422
    code = "discount_code_invalid"
    title = "This discount code cannot be applied."


class DiscountCodesLimitReached(DomainError):
    status = 409
    code = "discount_codes_limit"
    title = "The cart holds the most discount codes it may."


class CartDiscountNotFound(NotFound):
    code = "cart_discount_not_found"
    title = "Your cart holds no such discount code."


class DiscountCodeTaken(DomainError):
    status = 409
    code = "discount_code_taken"
    title = "Another discount code is spelt the same (codes ignore case)."


class DiscountCodeRejected(DomainError):
    """A code staff wrote breaks its rules: raised with `errors`, field name to messages."""

    status = 400
    code = "invalid"
    title = "The discount code is not valid."


class SignInToSave(NotSignedIn):
    """A guest asked for saved items: they belong to signed-in shoppers."""

    def __init__(self) -> None:
        super().__init__("Sign in to save items for later.")


class SavedItemNotFound(NotFound):
    code = "saved_item_not_found"
    title = "No such saved item."


class SavedItemChanged(DomainError):
    """A save added units to the saved item while it was being moved to the cart."""

    status = 409
    code = "saved_item_changed"
    title = "The saved item changed while it was being moved."


class SavedItemsLimitReached(DomainError):
    """Raised with `max_saved_items`."""

    status = 422
    code = "saved_items_limit"
    title = "You have saved the most items you may."
