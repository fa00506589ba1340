"""Demand against stock: what shoppers hold in their carts now, per product, against its stock.

Per product:
- in carts: the units of its lines in active carts (status `active`). A product may be on
  several lines of one cart (other attributes); their units add up;
- carts: the active carts holding it, each counted once however many of its lines do;
- stock: `Product.stock`, the units free to sell;
- short by: in carts - stock; above 0, shoppers hold more than can be sold.

Carts being checked out (`checking_out`) are left out: their units already left the stock
for the checkout's reservations (carts/services/reservations.py), so counting them would take
them twice. Checked-out, merged and abandoned carts hold no demand. The figures are "now",
not over a period.

One statement whatever the number of carts and products, grouped by product: each product
left-joined to its lines in active carts. The carts are "active and ever held a line"
(`status = 'active' AND first_item_added_at IS NOT NULL`, the predicate of the partial index
`cart_active_updated_idx`): a cart holding a line has `first_item_added_at` set, so this
leaves out only empty carts, often most of the active ones, and keeps them out of the join.
Their ids are matched in the join's ON clause, which PostgreSQL turns into a semi-join: only
lines of those carts are grouped, not every line the product ever had (what a FILTER on the
aggregates would group). Plans and timings at 1 000 000 carts: docs/performance.md, "Demand
against stock".
"""

from dataclasses import dataclass

from django.db.models import (
    Count,
    F,
    FilteredRelation,
    IntegerField,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from carts.models import Cart, CartStatus, Product

AT_RISK = 10


@dataclass(frozen=True)
class ProductDemand:
    product_id: int
    sku: str
    name: str
    stock: int
    in_carts: int
    carts: int
    short_by: int


def active_carts_holding_lines() -> QuerySet[Cart]:
    """The ids of the active carts that may hold lines (every one that does)."""
    carts = Cart.objects.filter(status=CartStatus.ACTIVE, first_item_added_at__isnull=False)
    # Without the model's ORDER BY, which PostgreSQL would carry out on every active cart.
    return carts.order_by().values("pk")


def products_with_demand(products: QuerySet[Product]) -> QuerySet[Product]:
    """`products` annotated with `in_carts`, `carts` and `short_by` (0, 0 and -stock for a
    product in no active cart): one statement, grouped by product."""
    # The IN goes in the join's ON clause (a FilteredRelation), where PostgreSQL makes it a
    # semi-join. Django refuses a QuerySet there, for the OuterRef it might hold; this
    # Subquery holds none.
    active_lines = FilteredRelation(
        "cart_items", condition=Q(cart_items__cart__in=Subquery(active_carts_holding_lines()))
    )
    return products.annotate(demand_line=active_lines).annotate(
        in_carts=Coalesce(Sum("demand_line__quantity"), Value(0), output_field=IntegerField()),
        carts=Count("demand_line__cart", distinct=True),
        short_by=F("in_carts") - F("stock"),
    )


def products_at_risk(*, limit: int = AT_RISK) -> list[ProductDemand]:
    """The active products in active carts, most short first (then most units in carts):
    what the shop will fail to sell if nothing changes. Inactive products are left out:
    they cannot be sold whatever their stock."""
    rows = (
        products_with_demand(Product.objects.filter(is_active=True))
        .filter(in_carts__gt=0)
        .order_by("-short_by", "-in_carts", "name", "pk")
        .values_list("pk", "sku", "name", "stock", "in_carts", "carts", "short_by")
    )
    return [ProductDemand(*row) for row in rows[:limit]]
