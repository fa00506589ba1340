"""The Django admin of the catalog: products, editable in the list."""

from django.contrib import admin, messages
from django.utils import timezone

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


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "currency", "stock", "is_active", "updated_at"]
    list_editable = ["stock", "is_active"]
    list_filter = ["is_active", "currency", StockLevelFilter]
    search_fields = ["sku", "name"]
    search_help_text = "SKU or name (any part)."
    readonly_fields = ["created_at", "updated_at"]
    actions = ["activate", "deactivate"]

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
