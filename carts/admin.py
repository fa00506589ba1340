"""The Django admin of shoppers' carts (read-only); the catalog's is in product_admin.py, the
discount codes' in discount_admin.py.

Every changelist makes a fixed number of queries per page: per-row figures are annotated in
`get_queryset`, never computed row by row.
"""

import csv
import logging
import uuid

from django.contrib import admin
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.html import format_html

from carts.admin_display import discounts_html, moment, money, short_id
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
    """The cart's lines, a table of their figures: without the caption Django puts above each
    line of an inline (its model's text, "2 x 5 in <cart id>"), which says nothing here."""

    model = CartItem
    template = "admin/carts/cart/lines.html"
    verbose_name_plural = "lines"
    fields = ["product", "options", "quantity", "price", "line_total", "added", "changed"]
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", "cart")

    @admin.display(description="attributes")
    def options(self, item: CartItem) -> str:
        """`size: M; gift: yes`, or a dash (escaped by the admin as any text)."""
        return "; ".join(f"{key}: {value}" for key, value in sorted(item.attributes.items())) or "-"

    @admin.display(description="unit price")
    def price(self, item: CartItem) -> str:
        return money(item.unit_price, item.cart.currency)

    @admin.display(description="line total")
    def line_total(self, item: CartItem) -> str:
        return money(item.quantity * item.unit_price, item.cart.currency)

    @admin.display(description="added")
    def added(self, item: CartItem) -> str:
        return moment(item.created_at)

    @admin.display(description="last changed")
    def changed(self, item: CartItem) -> str:
        return moment(item.updated_at)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
        "cart",
        "owner",
        "status",
        "lines",
        "total_quantity",
        "subtotal",
        "checkout_total",
        "checked_out",
        "last_activity",
        "created",
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
        "discounts",
        "discount_total",
        "estimated_total",
        "checkout_total",
        "version",
        "created_at_shown",
        "updated_at_shown",
        "first_item_added_at_shown",
        "checked_out_at_shown",
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

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        """A cart's page is titled with its short id and its status as staff read it."""
        if obj is not None:
            context["subtitle"] = f"Cart {short_id(obj)} · {obj.get_status_display()}"
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="cart", ordering="id")
    def cart(self, cart: Cart) -> str:
        """The short id, the whole one in its tooltip (and on the cart's page)."""
        return format_html('<span class="cart-id" title="{}">{}</span>', cart.id, short_id(cart))

    @admin.display(description="owner", ordering="user__username")
    def owner(self, cart: Cart) -> str:
        return owner_name(cart)

    @admin.display(description="lines", ordering="line_count")
    def lines(self, cart: Cart) -> int:
        return cart.line_count

    @admin.display(description="units", ordering="quantity_sum")
    def total_quantity(self, cart: Cart) -> int:
        return cart.quantity_sum

    @admin.display(description="subtotal", ordering="subtotal_sum")
    def subtotal(self, cart: Cart) -> str:
        return money(cart.subtotal_sum, cart.currency)

    @admin.display(description="total at checkout", ordering="total")
    def checkout_total(self, cart: Cart) -> str | None:
        return money(cart.total, cart.currency)

    @admin.display(description="checked out", ordering="checked_out_at")
    def checked_out(self, cart: Cart) -> str | None:
        return moment(cart.checked_out_at)

    @admin.display(description="last activity", ordering="updated_at")
    def last_activity(self, cart: Cart) -> str:
        return moment(cart.updated_at)

    @admin.display(description="created", ordering="created_at")
    def created(self, cart: Cart) -> str:
        return moment(cart.created_at)

    @admin.display(description="created at")
    def created_at_shown(self, cart: Cart) -> str:
        return moment(cart.created_at, seconds=True)

    @admin.display(description="last activity")
    def updated_at_shown(self, cart: Cart) -> str:
        return moment(cart.updated_at, seconds=True)

    @admin.display(description="first item added at")
    def first_item_added_at_shown(self, cart: Cart) -> str | None:
        return moment(cart.first_item_added_at, seconds=True)

    @admin.display(description="checked out at")
    def checked_out_at_shown(self, cart: Cart) -> str | None:
        return moment(cart.checked_out_at, seconds=True)

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
