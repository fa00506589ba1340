"""Django's user admin, with each user's carts linked."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count, IntegerField, OuterRef
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from carts.models import Cart
from carts.selectors import aggregate_of_rows

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserWithCartsAdmin(UserAdmin):
    """Django's user admin, with each user's carts linked."""

    list_display = [*UserAdmin.list_display, "carts"]
    fieldsets = [*UserAdmin.fieldsets, ("Carts", {"fields": ["recent_carts"]})]
    readonly_fields = ["recent_carts"]

    def get_queryset(self, request):
        carts = Cart.objects.filter(user=OuterRef("pk")).values("user")
        count = aggregate_of_rows(carts, Count("pk"), IntegerField())
        return super().get_queryset(request).annotate(cart_count=count)

    @staticmethod
    def _carts_url(user) -> str:
        return f"{reverse('admin:carts_cart_changelist')}?user__id__exact={user.pk}"

    @admin.display(description="carts", ordering="cart_count")
    def carts(self, user) -> str:
        return format_html('<a href="{}">{}</a>', self._carts_url(user), user.cart_count)

    @admin.display(description="carts")
    def recent_carts(self, user) -> str:
        """The ten newest carts on the user's page; the link lists them all."""
        recent = user.carts.order_by("-created_at")[:10]
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a> {}, created {}</li>',
            (
                (
                    reverse("admin:carts_cart_change", args=[cart.pk]),
                    cart.pk,
                    cart.get_status_display(),
                    cart.created_at.strftime("%Y-%m-%d %H:%M"),
                )
                for cart in recent
            ),
        )
        return format_html(
            '<a href="{}">All {} carts</a><ul>{}</ul>',
            self._carts_url(user),
            user.cart_count,
            items,
        )
