"""The Django admin of the catalog: products, editable in the list, with their demand (units
in active carts against stock, carts/demand.py) annotated on the list's page query."""

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.utils import timezone

from carts.demand import products_with_demand
from carts.models import Product

LOW_STOCK = 10


class StockLevelFilter(admin.SimpleListFilter):
    title = "stock level"
    parameter_name = "stock_level"

    def lookups(self, request, model_admin):
        return [
            ("out", "Out of stock"),
            ("low", f"Low (1 to {LOW_STOCK - 1})"),
            ("in", f"In stock ({LOW_STOCK} or more)"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "out":
            return queryset.filter(stock=0)
        if self.value() == "low":
            return queryset.filter(stock__gt=0, stock__lt=LOW_STOCK)
        if self.value() == "in":
            return queryset.filter(stock__gte=LOW_STOCK)
        return queryset


class DemandFilter(admin.SimpleListFilter):
    title = "demand"
    parameter_name = "demand"

    def lookups(self, request, model_admin):
        return [("exceeds_stock", "Demand exceeds stock")]

    def queryset(self, request, queryset):
        if self.value() == "exceeds_stock":
            return queryset.filter(short_by__gt=0)
        return queryset


class ProductChangeList(ChangeList):
    """The product list: its filters, ordering, count and page read the products annotated
    with their demand; the "N total" count and the filters' choices read plain products
    (`ProductAdmin.get_queryset`), so only the page and its count group the active lines."""

    def get_queryset(self, request, exclude_parameters=None):
        plain = self.root_queryset
        self.root_queryset = products_with_demand(plain)
        try:
            return super().get_queryset(request, exclude_parameters)
        finally:
            self.root_queryset = plain


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "sku",
        "name",
        "price",
        "currency",
        "stock",
        "in_carts",
        "carts",
        "short_by",
        "is_active",
        "updated_at",
    ]
    list_editable = ["stock", "is_active"]
    list_filter = ["is_active", "currency", StockLevelFilter, DemandFilter]
    search_fields = ["sku", "name"]
    search_help_text = "SKU or name (any part)."
    readonly_fields = ["created_at", "updated_at"]
    actions = ["activate", "deactivate"]

    def get_changelist(self, request, **kwargs):
        return ProductChangeList

    @admin.display(description="In carts", ordering="in_carts")
    def in_carts(self, product: Product) -> int:
        """Units in active carts (not in carts being checked out: those left the stock)."""
        return product.in_carts

    @admin.display(description="Carts", ordering="carts")
    def carts(self, product: Product) -> int:
        return product.carts

    @admin.display(description="Short by", ordering="short_by")
    def short_by(self, product: Product) -> int | None:
        """Units in carts beyond the stock; none (a dash) when the stock covers them."""
        return product.short_by if product.short_by > 0 else None

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        """Each field carries the value the page was rendered with, so `changed_data` lists only
        what staff changed, not what a checkout changed meanwhile (see `save_model`)."""
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None:
            field.show_hidden_initial = True
        return field

    def save_model(self, request, obj, form, change):
        """Write only the fields staff changed: saving a stale form must not put back stock
        that checkouts took since the page was opened."""
        if not change:
            obj.save()
        elif form.changed_data:
            obj.save(update_fields=[*form.changed_data, "updated_at"])

    @admin.action(description="Activate selected products", permissions=["change"])
    def activate(self, request, queryset):
        self._set_active(request, queryset, active=True)

    @admin.action(description="Deactivate selected products", permissions=["change"])
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, active=False)

    def _set_active(self, request, queryset, *, active: bool) -> None:
        changed = queryset.filter(is_active=not active).update(
            is_active=active, updated_at=timezone.now()
        )
        noun = "product" if changed == 1 else "products"
        verb = "activated" if active else "deactivated"
        self.message_user(request, f"{changed} {noun} {verb}.", messages.SUCCESS)
