from django.contrib import admin

from carts.models import Cart, CartItem, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "currency", "stock", "is_active", "updated_at"]
    list_editable = ["stock", "is_active"]
    list_filter = ["is_active", "currency"]
    search_fields = ["sku", "name"]


class CartItemInline(admin.TabularInline):
    model = CartItem
    fields = ["product", "quantity", "unit_price", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    """Shoppers' carts, read-only: staff look, they do not edit."""

    list_display = ["id", "user", "status", "version", "created_at", "updated_at"]
    list_filter = ["status", "created_at"]
    list_select_related = ["user"]
    search_fields = ["id", "session_id", "user__username", "user__email"]
    inlines = [CartItemInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
