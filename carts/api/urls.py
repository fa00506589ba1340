from django.urls import include, path
from rest_framework.routers import SimpleRouter

from carts.api.catalog import ProductViewSet
from carts.api.discount_codes import DiscountCodeViewSet
from carts.api.saved_items import SavedItemViewSet
from carts.api.staff import StaffCartViewSet
from carts.api.views import CartViewSet

router = SimpleRouter()
router.register("products", ProductViewSet, basename="product")
router.register("carts", StaffCartViewSet, basename="staff-cart")
router.register("discount-codes", DiscountCodeViewSet, basename="discount-code")
router.register("saved-items", SavedItemViewSet, basename="saved-item")

cart_urls = [
    path(
        "",
        CartViewSet.as_view({"get": "retrieve", "patch": "update_details", "delete": "clear"}),
        name="cart",
    ),
    path("items/", CartViewSet.as_view({"post": "add_item"}), name="cart-items"),
    path(
        "items/<int:item_id>/",
        CartViewSet.as_view({"patch": "update_item", "delete": "remove_item"}),
        name="cart-item",
    ),
    path(
        "items/<int:item_id>/save-for-later/",
        CartViewSet.as_view({"post": "save_for_later"}),
        name="cart-item-save-for-later",
    ),
    path(
        "discount-codes/",
        CartViewSet.as_view({"post": "apply_discount"}),
        name="cart-discount-codes",
    ),
    path(
        "discount-codes/<str:code>/",
        CartViewSet.as_view({"delete": "remove_discount"}),
        name="cart-discount-code",
    ),
    path("checkout/", CartViewSet.as_view({"post": "checkout"}), name="cart-checkout"),
    path(
        "checkout/preview/",
        CartViewSet.as_view({"post": "preview_checkout"}),
        name="cart-checkout-preview",
    ),
    path("merge/", CartViewSet.as_view({"post": "merge"}), name="cart-merge"),
]

urlpatterns = [path("cart/", include(cart_urls)), *router.urls]
