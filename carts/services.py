"""The cart domain's rules. Each function runs in one transaction.

Every change to a cart first locks the owner's active cart row (SELECT ... FOR UPDATE, or, on
the hot paths, the UPDATE that bumps its version: `_lock_and_touch`), so concurrent changes to
one cart happen one after another and none is lost. Checkout also
locks the product rows it takes stock from, in id order, so competing checkouts cannot
sell the same unit twice or deadlock.

With `PRODUCT_SERVICE_URL` set, the product service is the source of a product's name, price,
currency, stock and status: the local row (which carts point to) is refreshed from it on add,
update and checkout. Those calls, and the payment authorisation, happen inside the transaction,
bounded by `EXTERNAL_TIMEOUT_MS` and the circuit breaker.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, When
from django.utils import timezone

from addtocart import metrics
from carts import errors, external, sql
from carts.analytics import abandoned_q
from carts.models import Cart, CartItem, CartStatus, IdempotencyRecord, Product
from carts.selectors import (
    ACTIVE,
    CART_FIELDS,
    CartLine,
    cart_lines_load,
    cart_lines_load_with_product,
    cart_lock_active,
    cart_owned_by,
    owner_filter,
    product_get,
)

User = get_user_model()


@dataclass(frozen=True)
class CartOwner:
    """Whose cart: a signed-in user's or a guest session's (the token part of its id)."""

    user_id: int | None = None
    session_token: str | None = None

    def __post_init__(self) -> None:
        if (self.user_id is None) == (self.session_token is None):
            raise ValueError("A cart owner is either a user or a guest session.")

    @property
    def key(self) -> str:
        return f"user:{self.user_id}" if self.user_id is not None else f"guest:{self.session_token}"


def cart_etag(cart: Cart, *, version: int | None = None) -> str:
    return f'"{cart.id.hex}.{cart.version if version is None else version}"'


def _check_precondition(
    cart: Cart | None, if_match: Sequence[str] | None, *, touched: bool = False
) -> None:
    """`If-Match` against the cart as the caller could have read it: before this request's
    own touch when `touched` (see `_lock_and_touch`)."""
    if if_match is None:
        return
    current = cart and cart_etag(cart, version=cart.version - touched)
    if current is None or ("*" not in if_match and current not in if_match):
        raise errors.PreconditionFailed(
            "Your copy of the cart is out of date: read it again and retry.",
            **({"current_etag": current} if current else {}),
        )


def _lock_and_touch(owner: CartOwner, *, first_item: bool = False) -> Cart | None:
    """Lock the owner's active cart by touching it, in one statement.

    The UPDATE ... RETURNING bumps the version and the last activity (and, for a first
    line, `first_item_added_at`) and returns the row, where SELECT ... FOR UPDATE and a later
    UPDATE take two statements. A change that fails afterwards rolls it back with the rest of
    the transaction.
    """
    column, value = owner_filter(owner)
    now = sql.param(Cart._meta.get_field("updated_at"), timezone.now())
    first = ", first_item_added_at = COALESCE(first_item_added_at, %s)" if first_item else ""
    rows = sql.rows(
        f"UPDATE carts_cart SET version = version + 1, updated_at = %s{first} "  # noqa: S608
        f"WHERE {column} = %s AND {ACTIVE} RETURNING {sql.columns(CART_FIELDS)}",
        [now, *([now] if first_item else []), value],
        CART_FIELDS,
    )
    return sql.instance(Cart, CART_FIELDS, rows[0]) if rows else None


def _check_quantity(quantity: int) -> None:
    limit = settings.CART_MAX_QUANTITY_PER_LINE
    if not 1 <= quantity <= limit:
        raise errors.LineQuantityLimitReached(
            f"A line holds from 1 to {limit} units.", max_quantity=limit
        )


def _resume_abandoned_cart(owner: CartOwner) -> Cart | None:
    """A shopper who comes back gets their latest abandoned cart back, active again."""
    cart = (
        cart_owned_by(owner=owner, queryset=Cart.objects.select_for_update())
        .filter(status=CartStatus.ABANDONED)
        .order_by("-updated_at")
        .first()
    )
    if cart is None:
        return None
    try:
        with transaction.atomic():
            _touch(cart, status=CartStatus.ACTIVE)
    except IntegrityError:
        return cart_lock_active(owner=owner)  # a concurrent request opened an active cart first
    return cart


@transaction.atomic
def cart_resume(*, owner: CartOwner) -> Cart | None:
    """Give a returning shopper with no active cart their abandoned one back (or None)."""
    return _resume_abandoned_cart(owner)


def _open_active_cart(owner: CartOwner) -> Cart:
    """Resume the owner's abandoned cart or create one; or lock the one a concurrent
    request just opened."""
    if (
        owner.user_id is not None
        and not User.objects.filter(pk=owner.user_id, is_active=True).exists()
    ):
        raise errors.NotSignedIn("Your account no longer exists or is inactive.")
    resumed = _resume_abandoned_cart(owner)
    if resumed is not None:
        return resumed
    try:
        with transaction.atomic():
            cart = Cart.objects.create(user_id=owner.user_id, session_id=owner.session_token)
        kind = "user" if owner.user_id is not None else "guest"
        transaction.on_commit(metrics.CARTS_CREATED.labels(owner=kind).inc)
        return cart
    except IntegrityError:
        cart = cart_lock_active(owner=owner)
        if cart is None:
            raise
        return cart


def _touch(cart: Cart, **changes: Any) -> None:
    for field, value in changes.items():
        setattr(cart, field, value)
    cart.version += 1
    cart.updated_at = timezone.now()
    cart.save(update_fields=["version", "updated_at", *changes])


def _first_item_mark(cart: Cart) -> dict[str, Any]:
    """Remember when a cart first held a line: the metrics count carts that ever did."""
    return {} if cart.first_item_added_at else {"first_item_added_at": timezone.now()}


PRODUCT_SERVICE_FIELDS = ("name", "price", "currency", "stock", "is_active")


def _product_refresh(product: Product, *, fresh: bool) -> None:
    """Bring the local row in line with the product service (a SKU it does not know is off
    sale). `fresh` skips the cache, for checkout, which must never trust it."""
    data = external.product_data_get(sku=product.sku, fresh=fresh) or {"is_active": False}
    changed = [f for f in PRODUCT_SERVICE_FIELDS if f in data and getattr(product, f) != data[f]]
    if changed:
        for field in changed:
            setattr(product, field, data[field])
        product.save(update_fields=[*changed, "updated_at"])


def _sellable_product(product: Product | None, product_id: int) -> Product:
    """The product, brought in line with the product service if there is one, if for sale."""
    if product is not None and settings.PRODUCT_SERVICE_URL:
        _product_refresh(product, fresh=False)
    if product is None or not product.is_active:
        raise errors.ProductNotFound(f"There is no product {product_id} for sale.")
    return product


def _check_currency(product: Product, cart: Cart) -> None:
    if product.currency != cart.currency:
        raise errors.CurrencyMismatch(
            f"{product.sku} is priced in {product.currency}, the cart in {cart.currency}.",
            product_id=product.pk,
        )


def _check_stock(product: Product, quantity: int) -> None:
    if quantity > product.stock:
        raise errors.InsufficientStock(
            f"Only {product.stock} of {product.sku} left.",
            product_id=product.pk,
            available=product.stock,
        )


@transaction.atomic
def cart_item_add(
    *,
    owner: CartOwner,
    product_id: int,
    quantity: int = 1,
    if_match: Sequence[str] | None = None,
) -> Cart:
    """Add units of a product; a product already in the cart grows its line."""
    _check_quantity(quantity)
    cart = _lock_and_touch(owner, first_item=True)
    _check_precondition(cart, if_match, touched=True)
    if cart is None:
        cart = _open_active_cart(owner)
        _touch(cart, **_first_item_mark(cart))
    found = cart_lines_load_with_product(cart=cart, product_id=product_id)
    product = _sellable_product(found, product_id)
    _check_currency(product, cart)
    lines = cart.lines
    line = next((line for line in lines if line.product_id == product.pk), None)
    new_quantity = quantity + (line.quantity if line else 0)
    limit = settings.CART_MAX_QUANTITY_PER_LINE
    if new_quantity > limit:
        raise errors.LineQuantityLimitReached(
            f"A line holds at most {limit} units; this one would hold {new_quantity}.",
            max_quantity=limit,
        )
    _check_stock(product, new_quantity)
    if line is None and len(lines) >= settings.CART_MAX_LINES:
        raise errors.CartLinesLimitReached(
            f"A cart holds at most {settings.CART_MAX_LINES} lines.",
            max_lines=settings.CART_MAX_LINES,
        )
    _line_put(cart, lines, product, new_quantity)
    transaction.on_commit(lambda: metrics.ITEMS_ADDED.inc(quantity))
    return cart


LINE_PUT = (
    "INSERT INTO carts_cartitem (cart_id, product_id, quantity, unit_price, created_at, "
    "updated_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (cart_id, product_id) DO UPDATE "
    "SET quantity = excluded.quantity, unit_price = excluded.unit_price, "
    "updated_at = excluded.updated_at RETURNING id"
)


def _line_put(cart: Cart, lines: list[CartLine], product: Product, quantity: int) -> None:
    """Set the cart's line of `product` to `quantity` units at the product's price, creating
    it if need be, in one statement; and the same in the cart's `lines`."""
    field = CartItem._meta.get_field
    now = sql.param(field("updated_at"), timezone.now())
    [(line_id,)] = sql.rows(
        LINE_PUT,
        [
            sql.param(field("cart"), cart.pk),
            product.pk,
            quantity,
            sql.param(field("unit_price"), product.price),
            now,
            now,
        ],
        (field("id"),),
    )
    line = CartLine(line_id, product.pk, product.sku, product.name, quantity, product.price)
    index = next((n for n, old in enumerate(lines) if old.id == line_id), None)
    if index is None:
        lines.append(line)
    else:
        lines[index] = line


def _lock_cart_and_line(
    owner: CartOwner, item_id: int, if_match
) -> tuple[Cart, list[CartLine], CartLine]:
    cart = _lock_and_touch(owner)
    _check_precondition(cart, if_match, touched=True)
    lines = cart_lines_load(cart=cart) if cart is not None else []
    line = next((line for line in lines if line.id == item_id), None)
    if line is None:
        raise errors.CartItemNotFound(f"Your cart has no line {item_id}.")
    return cart, lines, line


@transaction.atomic
def cart_item_update(
    *,
    owner: CartOwner,
    item_id: int,
    quantity: int,
    if_match: Sequence[str] | None = None,
) -> Cart:
    """Set a line's quantity (0 removes it). The line takes the product's current price."""
    if quantity == 0:
        return cart_item_remove(owner=owner, item_id=item_id, if_match=if_match)
    _check_quantity(quantity)
    cart, lines, line = _lock_cart_and_line(owner, item_id, if_match)
    product = product_get(product_id=line.product_id)
    if settings.PRODUCT_SERVICE_URL:
        _product_refresh(product, fresh=False)
    if not product.is_active:
        raise errors.ProductUnavailable(
            f"{product.sku} is no longer for sale; remove the line.", product_id=product.pk
        )
    _check_currency(product, cart)
    _check_stock(product, quantity)
    _line_put(cart, lines, product, quantity)
    return cart


@transaction.atomic
def cart_item_remove(
    *, owner: CartOwner, item_id: int, if_match: Sequence[str] | None = None
) -> Cart:
    cart, lines, line = _lock_cart_and_line(owner, item_id, if_match)
    CartItem.objects.filter(pk=line.id).delete()
    lines.remove(line)
    return cart


@transaction.atomic
def cart_clear(*, owner: CartOwner, if_match: Sequence[str] | None = None) -> Cart | None:
    """Remove every line. Returns None when the owner has no active cart."""
    cart = cart_lock_active(owner=owner)
    _check_precondition(cart, if_match)
    if cart is None:
        return None
    cart.items.all().delete()
    cart.lines = []
    _touch(cart)
    return cart


@transaction.atomic
def cart_checkout(*, owner: CartOwner, if_match: Sequence[str] | None = None) -> Cart:
    """Check every line against the catalog, take the stock, and close the cart.

    Any line at fault (product gone or inactive, not enough stock, price changed since
    the line was added) makes the whole checkout fail with every fault listed, and
    nothing changes. With the product service configured, every line's product is first
    fetched fresh from it (never from the cache); with the payment service configured, it
    must authorise the total before anything is committed.
    """
    cart = cart_lock_active(owner=owner)
    _check_precondition(cart, if_match)
    if cart is None:
        raise errors.CartEmpty("You have no cart to check out.")
    lines = list(
        cart.items.select_related("product")
        .select_for_update(of=("product",))
        .order_by("product_id")
    )
    if not lines:
        raise errors.CartEmpty("Add something to the cart before checking out.")
    if settings.PRODUCT_SERVICE_URL:
        for line in lines:
            _product_refresh(line.product, fresh=True)

    faults = []
    for line in lines:
        product = line.product
        fault = {"item_id": line.pk, "product_id": product.pk, "sku": product.sku}
        if not product.is_active:
            faults.append({**fault, "reason": "product_unavailable"})
        elif product.currency != cart.currency:
            faults.append({**fault, "reason": "currency_changed", "currency": product.currency})
        elif product.stock < line.quantity:
            faults.append(
                {
                    **fault,
                    "reason": "insufficient_stock",
                    "requested": line.quantity,
                    "available": product.stock,
                }
            )
        elif product.price != line.unit_price:
            faults.append(
                {
                    **fault,
                    "reason": "price_changed",
                    "unit_price": f"{line.unit_price:.2f}",
                    "current_price": f"{product.price:.2f}",
                }
            )
    if faults:
        metrics.CHECKOUTS.labels(outcome="conflict").inc()
        raise errors.CheckoutConflict(
            f"{len(faults)} line(s) cannot be checked out; see `lines`.", lines=faults
        )

    total = sum((line.quantity * line.unit_price for line in lines), Decimal("0.00"))
    if settings.PAYMENT_SERVICE_URL:
        external.payment_authorise(
            cart_id=cart.id,
            amount=total,
            currency=cart.currency,
            idempotency_key=f"{cart.id}:{cart.version}",
        )
    Product.objects.filter(pk__in=[line.product_id for line in lines]).update(
        stock=Case(*(When(pk=line.product_id, then=F("stock") - line.quantity) for line in lines)),
        updated_at=timezone.now(),
    )
    now = timezone.now()
    _touch(cart, status=CartStatus.CHECKED_OUT, total=total, checked_out_at=now)
    in_cart_order = sorted(lines, key=lambda line: (line.created_at, line.pk))
    cart.lines = [CartLine.of(line) for line in in_cart_order]
    transaction.on_commit(metrics.CHECKOUTS.labels(outcome="completed").inc)
    return cart


@transaction.atomic
def cart_merge(
    *,
    user_id: int,
    session_token: str | None,
    if_match: Sequence[str] | None = None,
) -> Cart | None:
    """Move a guest cart's lines into the user's cart and mark the guest cart `merged`.

    Quantities of a product in both carts are summed, up to the per-line limit. The guest
    cart keeps its lines as history. Returns the user's cart (None if neither has one).
    """
    user_owner = CartOwner(user_id=user_id)
    guest_cart = (
        cart_lock_active(owner=CartOwner(session_token=session_token)) if session_token else None
    )
    user_cart = cart_lock_active(owner=user_owner)
    _check_precondition(user_cart, if_match)
    if guest_cart is None:
        return user_cart
    guest_lines = list(guest_cart.items.select_related("product"))
    if user_cart is None:
        user_cart = _open_active_cart(user_owner)
    lines = {line.product_id: line for line in user_cart.items.all()}
    new_products = {line.product_id for line in guest_lines} - lines.keys()
    if len(lines) + len(new_products) > settings.CART_MAX_LINES:
        raise errors.CartLinesLimitReached(
            f"Together the carts would hold more than {settings.CART_MAX_LINES} lines.",
            max_lines=settings.CART_MAX_LINES,
        )
    for guest_line in guest_lines:
        _check_currency(guest_line.product, user_cart)
    limit = settings.CART_MAX_QUANTITY_PER_LINE
    to_create, to_update = [], []
    for guest_line in guest_lines:
        line = lines.get(guest_line.product_id)
        if line is None:
            to_create.append(
                CartItem(
                    cart=user_cart,
                    product_id=guest_line.product_id,
                    quantity=min(guest_line.quantity, limit),
                    unit_price=guest_line.product.price,
                )
            )
        else:
            line.quantity = min(line.quantity + guest_line.quantity, limit)
            line.unit_price = guest_line.product.price
            line.updated_at = timezone.now()
            to_update.append(line)
    CartItem.objects.bulk_create(to_create)
    CartItem.objects.bulk_update(to_update, ["quantity", "unit_price", "updated_at"])
    _touch(guest_cart, status=CartStatus.MERGED)
    _touch(user_cart, **(_first_item_mark(user_cart) if guest_lines else {}))
    return user_cart


@transaction.atomic
def product_create(**fields: Any) -> Product:
    try:
        with transaction.atomic():
            return Product.objects.create(**fields)
    except IntegrityError:
        if Product.objects.filter(sku=fields.get("sku")).exists():
            raise errors.SkuTaken(f"A product with SKU {fields.get('sku')} exists.") from None
        raise


@transaction.atomic
def product_update(*, product_id: int, fields: dict[str, Any]) -> Product:
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise errors.ProductNotFound(f"There is no product {product_id}.")
    for field, value in fields.items():
        setattr(product, field, value)
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError:
        if Product.objects.filter(sku=product.sku).exclude(pk=product.pk).exists():
            raise errors.SkuTaken(f"A product with SKU {product.sku} exists.") from None
        raise
    return product


@transaction.atomic
def product_delete(*, product_id: int) -> None:
    """Delete a product that no cart ever held; others can only be deactivated."""
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise errors.ProductNotFound(f"There is no product {product_id}.")
    if CartItem.objects.filter(product=product).exists():
        raise errors.ProductInUse(
            f"{product.sku} is in carts; set is_active to false to take it off sale."
        )
    product.delete()


def cart_abandon_idle(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Mark active carts with items, idle for CART_ABANDONMENT_MINUTES, `abandoned`.

    The rule is `carts.analytics.abandoned_q`. Runs in batches, each its own short
    transaction, skipping carts a shopper is changing right now. Returns how many changed.
    """
    now = now or timezone.now()
    idle = Cart.objects.filter(abandoned_q(now), status=CartStatus.ACTIVE)
    marked = 0
    while True:
        with transaction.atomic():
            batch = list(
                idle.select_for_update(skip_locked=True).values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                return marked
            marked += Cart.objects.filter(pk__in=batch).update(
                status=CartStatus.ABANDONED, version=F("version") + 1
            )


def cart_purge_old(
    *,
    older_than: timedelta,
    now: datetime | None = None,
    batch_size: int = 1000,
    max_batches: int | None = None,
) -> int:
    """Delete merged, abandoned and empty carts idle for longer than `older_than`.

    Checked-out carts are history and are never deleted. Each batch is its own transaction
    and locks at most `batch_size` carts, the longest idle first, found through a partial
    index on `updated_at` (`cart_purge_idx`: abandoned, merged and never-filled carts; then
    `cart_active_updated_idx`: emptied ones), so that no batch scans the table and no lock is
    held for long. Expired idempotency records go too. Returns carts deleted.
    """
    now = now or timezone.now()
    stale = Cart.objects.filter(updated_at__lt=now - older_than).order_by("updated_at")
    empty = ~Exists(CartItem.objects.filter(cart=OuterRef("pk")))
    active = CartStatus.ACTIVE
    candidates = (
        stale.filter(
            Q(status__in=[CartStatus.ABANDONED, CartStatus.MERGED])
            | Q(status=active, first_item_added_at__isnull=True) & empty
        ),
        stale.filter(status=active, first_item_added_at__isnull=False).filter(empty),
    )
    deleted, batches = 0, 0
    for old in candidates:
        pks = old.select_for_update(skip_locked=True).values_list("pk", flat=True)
        while max_batches is None or batches < max_batches:
            with transaction.atomic():
                batch = list(pks[:batch_size])
                if not batch:
                    break
                batches += 1
                # The lines go by cascade, in one DELETE; only("pk") spares loading whole carts.
                carts = Cart.objects.filter(pk__in=batch).only("pk")
                deleted += carts.delete()[1].get(Cart._meta.label, 0)
    IdempotencyRecord.objects.filter(
        created_at__lt=now - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    ).delete()
    return deleted
