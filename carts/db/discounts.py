"""The reads and writes of the codes on carts, and the row locks of their uses.

A code's uses are counted under its row's lock: holding one (`code_use_hold`) is a single
guarded UPDATE, so that however many checkouts race for a code's last use, one gets it.
Codes are locked after the cart and its products, in id order, as checkout takes them.
"""

from collections import Counter
from decimal import Decimal
from functools import cache

from django.db import connection
from django.db.models import F, Q

from carts.db import runner
from carts.discounts import Discounts
from carts.domain import CodeTerms, Reason
from carts.models import Cart, CartDiscount, CartStatus, DiscountCode, Product

# What a list of carts prefetches for `cart_codes_read(..., loaded=True)`.
USES_PREFETCH = ("discounts__code__products",)

# Carts whose use of a code counts against its owner's limit: bought, or being bought.
_COUNTED = [CartStatus.CHECKED_OUT, CartStatus.CHECKING_OUT]


def code_find(*, code: str) -> DiscountCode | None:
    """The code spelt `code` in any case, active or not."""
    return DiscountCode.objects.filter(code__iexact=code).first()


def _customer_uses(codes: list[DiscountCode], cart: Cart) -> Counter:
    """The owner's other carts' uses of those of `codes` that limit uses per customer."""
    limited = [code.pk for code in codes if code.max_uses_per_customer is not None]
    if not limited or cart.user_id is None:
        return Counter()
    uses = CartDiscount.objects.filter(
        code_id__in=limited, cart__user_id=cart.user_id, cart__status__in=_COUNTED
    ).exclude(cart_id=cart.pk)
    return Counter(uses.values_list("code_id", flat=True))


def terms_of(
    code: DiscountCode,
    *,
    cart: Cart,
    customer_uses: int,
    use: CartDiscount | None,
    product_ids: frozenset[int] | None = None,
) -> CodeTerms:
    """The code's terms for this cart (`use`: its place on the cart, once checkout began;
    `product_ids`: the code's products, if read with it)."""
    refusal = None
    if code.max_uses_per_customer is not None:
        if cart.user_id is None:
            refusal = Reason.SIGN_IN_REQUIRED
        elif customer_uses >= code.max_uses_per_customer:
            refusal = Reason.USAGE_LIMIT_REACHED
    charged = use.amount if use is not None and cart.status != CartStatus.ACTIVE else None
    frozen = use.charged_terms if charged is not None else {}
    return CodeTerms(
        id=code.pk,
        code=frozen.get("code", code.code),
        kind=frozen.get("kind", code.kind),
        value=Decimal(frozen.get("value", code.value)),
        currency=code.currency,
        min_subtotal=code.min_subtotal,
        product_ids=(
            product_ids
            if product_ids is not None
            else frozenset(product.pk for product in code.products.all())
        ),
        starts_at=code.starts_at,
        ends_at=code.ends_at,
        is_active=code.is_active,
        uses_left=code.max_uses is None or code.times_used + code.uses_held < code.max_uses,
        customer_refusal=refusal,
        charged=charged,
        charged_shares=(
            {int(line): Decimal(share) for line, share in use.line_shares.items()}
            if charged is not None
            else None
        ),
    )


def cart_codes_read(*, cart: Cart, loaded: bool = False) -> tuple[CodeTerms, ...]:
    """The codes on the cart, in the order they were added (none read if it holds none).
    `loaded`: the cart's `discounts` were prefetched with their codes and products
    (`USES_PREFETCH`), as lists of carts do."""
    if not cart.discount_count:
        return ()
    if loaded:
        uses = sorted(cart.discounts.all(), key=lambda use: (use.added_at, use.pk))
        products = [None] * len(uses)
    else:
        uses, products = _uses_read(cart)
    counts = _customer_uses([use.code for use in uses], cart)
    return tuple(
        terms_of(use.code, cart=cart, customer_uses=counts[use.code_id], use=use, product_ids=ids)
        for use, ids in zip(uses, products, strict=True)
    )


_USE_FIELDS = tuple(
    CartDiscount._meta.get_field(name) for name in ("id", "amount", "line_shares", "charged_terms")
)
_CODE_FIELDS = DiscountCode._meta.concrete_fields
_LINKS = DiscountCode.products.through._meta.db_table
_IDS_TEXT = Product._meta.get_field("sku")  # the products' ids as text (no conversion)


@cache
def _uses_sql(vendor: str) -> str:
    ids = "l.product_id::text" if vendor == "postgresql" else "CAST(l.product_id AS TEXT)"
    joined = "string_agg" if vendor == "postgresql" else "group_concat"
    return (
        f"SELECT {runner.columns(_USE_FIELDS, 'u')}, {runner.columns(_CODE_FIELDS, 'c')}, "  # noqa: S608
        f"(SELECT {joined}({ids}, ',') FROM {_LINKS} l WHERE l.discountcode_id = c.id) "
        "FROM carts_cartdiscount u JOIN carts_discountcode c ON c.id = u.code_id "
        "WHERE u.cart_id = %s ORDER BY u.added_at, u.id"
    )


def _uses_read(cart: Cart) -> tuple[list[CartDiscount], list[frozenset[int]]]:
    """The cart's codes, each with its products' ids, in one statement (the ORM took two,
    and building them cost more than the add they were read for)."""
    rows = runner.rows(
        _uses_sql(connection.vendor),
        [runner.param(Cart._meta.pk, cart.pk)],
        (*_USE_FIELDS, *_CODE_FIELDS, _IDS_TEXT),
    )
    uses, products = [], []
    split = len(_USE_FIELDS)
    for row in rows:
        use = runner.instance(CartDiscount, _USE_FIELDS, row[:split])
        use.code = runner.instance(DiscountCode, _CODE_FIELDS, row[split:-1])
        use.code_id = use.code.pk
        uses.append(use)
        products.append(frozenset(int(pk) for pk in row[-1].split(",")) if row[-1] else frozenset())
    return uses, products


def code_terms_for(*, code: DiscountCode, cart: Cart | None) -> CodeTerms:
    """The terms of a code not yet on a cart (None: the owner has no cart yet)."""
    if cart is None:
        cart = Cart(status=CartStatus.ACTIVE)
    counts = _customer_uses([code], cart) if cart.pk else Counter()
    return terms_of(code, cart=cart, customer_uses=counts[code.pk], use=None)


def code_use_hold(*, code_id: int) -> bool:
    """Hold one use of the code for a checkout, if its `max_uses` leave one; the row stays
    locked until the transaction ends."""
    room = Q(max_uses__isnull=True) | Q(max_uses__gt=F("times_used") + F("uses_held"))
    held = DiscountCode.objects.filter(Q(pk=code_id) & room)
    return held.update(uses_held=F("uses_held") + 1) == 1


def code_use_count(*, code_id: int, amount: Decimal) -> None:
    """A checkout holding a use of the code completed: the use is counted, with its amount."""
    DiscountCode.objects.filter(pk=code_id).update(
        uses_held=F("uses_held") - 1,
        times_used=F("times_used") + 1,
        discounted_total=F("discounted_total") + amount,
    )


def code_use_release(*, code_ids: list[int]) -> None:
    """Checkouts holding uses of these codes ended without a sale: give the uses back."""
    DiscountCode.objects.filter(pk__in=code_ids).update(uses_held=F("uses_held") - 1)


def cart_discounts_charge(*, cart: Cart, discounts: Discounts) -> tuple[CodeTerms, ...]:
    """Keep what each code on the cart takes off, as its checkout charges it; returns the
    codes' terms as charged."""
    charged = []
    for outcome in discounts.codes:
        terms = outcome.terms
        CartDiscount.objects.filter(cart=cart, code_id=terms.id).update(
            amount=outcome.amount,
            line_shares={str(line): str(share) for line, share in outcome.shares.items()},
            charged_terms={"code": terms.code, "kind": terms.kind, "value": str(terms.value)},
        )
        charged.append(terms._replace(charged=outcome.amount, charged_shares=outcome.shares))
    return tuple(charged)


def cart_discounts_count(*, charged: tuple[CodeTerms, ...]) -> None:
    """The cart's checkout completed: the use each of its codes held is counted, with the
    amount it was charged (`charged`: the cart's codes, read once its checkout began)."""
    for terms in sorted(charged, key=lambda terms: terms.id):
        code_use_count(code_id=terms.id, amount=terms.charged)


def cart_discounts_release(*, cart: Cart) -> None:
    """The cart's checkout ended without a sale: its codes' uses are given back, and their
    amounts computed afresh again."""
    if cart.discount_count:
        uses = CartDiscount.objects.filter(cart=cart)
        code_use_release(code_ids=list(uses.values_list("code_id", flat=True)))
        uses.update(amount=None, line_shares={}, charged_terms={})


def cart_discounts_move(*, source: Cart, target: Cart, limit: int) -> tuple[int, int]:
    """Move the codes of `source` that `target` lacks to it, while it holds fewer than
    `limit`; returns how many codes each then holds."""
    held = set(CartDiscount.objects.filter(cart=target).values_list("code_id", flat=True))
    uses = CartDiscount.objects.filter(cart=source).exclude(code_id__in=held)
    moving = list(uses.order_by("added_at", "id").values_list("pk", flat=True))
    moving = moving[: max(limit - len(held), 0)]
    CartDiscount.objects.filter(pk__in=moving).update(cart=target)
    return source.discount_count - len(moving), len(held) + len(moving)
