"""The Django admin of shoppers' carts (read-only); the catalog's is in product_admin.py, the
discount codes' in discount_admin.py.

Every changelist makes a fixed number of queries per page: per-row figures are annotated in
`get_queryset`, never computed row by row.
"""

import csv
import logging
import uuid
from decimal import Decimal

from django.contrib import admin
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from carts.db.document import cart_document
from carts.db.statements import cart_lines_read
from carts.discount_admin import Echo, csv_cell  # and registers the discount codes
from carts.domain import CartState
from carts.guest_sessions import guest_session_verify
from carts.models import Cart, CartItem
from carts.product_admin import ProductAdmin  # noqa: F401 (registers the catalog)
from carts.selectors import carts_with_figures

admin_log = logging.getLogger("addtocart.admin")


def owner_name(cart: Cart) -> str:
    return cart.user.username if cart.user_id else "guest"


class OwnerFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        return [("user", "Signed-in shopper"), ("guest", "Guest")]

    def queryset(self, request, queryset):
        if self.value() in ("user", "guest"):
            return queryset.filter(user__isnull=self.value() == "guest")
        return queryset


class CartItemInline(admin.TabularInline):
    model = CartItem
    fields = [
        "product",
        "options",
        "quantity",
        "unit_price",
        "line_total",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    @admin.display(description="attributes")
    def options(self, item: CartItem) -> str:
        """`size: M; gift: yes`, or a dash (escaped by the admin as any text)."""
        return "; ".join(f"{key}: {value}" for key, value in sorted(item.attributes.items())) or "-"

    @admin.display(description="line total")
    def line_total(self, item: CartItem) -> Decimal:
        return item.quantity * item.unit_price

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


CODE_ROW = "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"
LINE_ROW = "<tr><td>{} {}</td><td>{}</td><td>{}</td></tr>"


def discounts_html(document: dict) -> str:
    """The cart document's codes (what each takes off, or why not) and each line's discount."""
    codes = format_html_join(
        "",
        CODE_ROW,
        (
            (c["code"], c["kind"], c["value"], c["amount"], c["applicable"], c["reason"] or "")
            for c in document["discounts"]
        ),
    )
    lines = format_html_join(
        "",
        LINE_ROW,
        (
            (i["product"]["sku"], i["product"]["name"], i["line_total"], i["discount"])
            for i in document["items"]
        ),
    )
    return format_html(
        '<table class="cart-discounts"><tr><th>code</th><th>kind</th><th>value</th><th>amount'
        "</th><th>applicable</th><th>reason</th></tr>{}</table>"
        '<table class="line-discounts"><tr><th>line</th><th>line total</th><th>discount</th>'
        "</tr>{}</table>",
        codes,
        lines,
    )


CSV_HEADER = [
    "id",
    "owner",
    "status",
    "lines",
    "total_quantity",
    "subtotal",
    "currency",
    "created_at",
    "updated_at",
    "checked_out_at",
    "total",
]


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    """Shoppers' carts, read-only: staff look and export, they do not edit."""

    list_display = [
        "id",
        "owner",
        "status",
        "lines",
        "total_quantity",
        "subtotal",
        "last_activity",
        "created_at",
    ]
    list_filter = ["status", OwnerFilter, "created_at"]
    list_select_related = ["user"]
    search_fields = ["id", "session_id", "user__username", "user__email"]
    search_help_text = "Cart id (whole or any part), guest session id, user name or email."
    # The second COUNT over every cart that a filtered page would show is not worth its cost.
    show_full_result_count = False
    fields = [
        "id",
        "owner",
        "user",
        "session_id",
        "status",
        "currency",
        "email",
        "note",
        "lines",
        "total_quantity",
        "subtotal",
        "total",
        "discounts",
        "discount_total",
        "estimated_total",
        "version",
        "created_at",
        "updated_at",
        "first_item_added_at",
        "checked_out_at",
    ]
    readonly_fields = fields
    inlines = [CartItemInline]
    actions = ["export_csv"]

    def get_queryset(self, request):
        return carts_with_figures(super().get_queryset(request).select_related("user"))

    def get_search_results(self, request, queryset, search_term):
        """A whole cart id, or a guest's signed session id (`X-Session-ID`), finds its cart by
        index; any other text is searched for in every search field."""
        term = search_term.strip()
        if term:
            try:
                return queryset.filter(pk=uuid.UUID(term)), False
            except ValueError:
                pass
            token = guest_session_verify(term)
            if token:
                return queryset.filter(session_id=token), False
        return super().get_search_results(request, queryset, term)

    @admin.display(description="owner", ordering="user__username")
    def owner(self, cart: Cart) -> str:
        return owner_name(cart)

    @admin.display(description="lines", ordering="line_count")
    def lines(self, cart: Cart) -> int:
        return cart.line_count

    @admin.display(description="total quantity", ordering="quantity_sum")
    def total_quantity(self, cart: Cart) -> int:
        return cart.quantity_sum

    @admin.display(description="subtotal", ordering="subtotal_sum")
    def subtotal(self, cart: Cart) -> str:
        return f"{cart.subtotal_sum:.2f} {cart.currency}"

    @admin.display(description="last activity", ordering="updated_at")
    def last_activity(self, cart: Cart):
        return cart.updated_at

    @staticmethod
    def _document(cart: Cart) -> dict:
        """The cart as its owner sees it, discounts included (read once per page)."""
        if not hasattr(cart, "_admin_document"):
            cart._admin_document = cart_document(CartState(cart, cart_lines_read(cart=cart)))
        return cart._admin_document

    @admin.display(description="discounts")
    def discounts(self, cart: Cart) -> str:
        document = self._document(cart)
        return discounts_html(document) if document["discounts"] else "None"

    @admin.display(description="discount total")
    def discount_total(self, cart: Cart) -> str:
        return f"{self._document(cart)['discount_total']} {cart.currency}"

    @admin.display(description="estimated total")
    def estimated_total(self, cart: Cart) -> str:
        return f"{self._document(cart)['estimated_total']} {cart.currency}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Export selected carts as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        """Stream the carts, one row each, so a large export is never held in memory."""
        admin_log.info("admin: carts exported", extra={"user_id": str(request.user.pk)})
        writer = csv.writer(Echo())

        def rows():
            yield writer.writerow(CSV_HEADER)
            for cart in queryset.iterator(chunk_size=500):
                yield writer.writerow([csv_cell(value) for value in self._csv_values(cart)])

        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="carts-{stamp}.csv"'
        return response

    @staticmethod
    def _csv_values(cart: Cart) -> list:
        return [
            cart.id,
            owner_name(cart),
            cart.status,
            cart.line_count,
            cart.quantity_sum,
            f"{cart.subtotal_sum:.2f}",
            cart.currency,
            cart.created_at,
            cart.updated_at,
            cart.checked_out_at,
            cart.total,
        ]
