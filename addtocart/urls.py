from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from addtocart import auth
from carts.views import CartViewSet, ProductViewSet, StaffCartViewSet
from dashboard.apis import BusinessMetricsApi
from health import prometheus

router = SimpleRouter()
router.register("products", ProductViewSet, basename="product")
router.register("carts", StaffCartViewSet, basename="staff-cart")

cart_urls = [
    path("", CartViewSet.as_view({"get": "retrieve", "delete": "clear"}), name="cart"),
    path("items/", CartViewSet.as_view({"post": "add_item"}), name="cart-items"),
    path(
        "items/<int:item_id>/",
        CartViewSet.as_view({"patch": "update_item", "delete": "remove_item"}),
        name="cart-item",
    ),
    path("checkout/", CartViewSet.as_view({"post": "checkout"}), name="cart-checkout"),
    path("merge/", CartViewSet.as_view({"post": "merge"}), name="cart-merge"),
]

api_urls = [
    path("auth/register/", auth.RegisterView.as_view(), name="register"),
    path("auth/token/", auth.TokenObtainPairView.as_view(), name="token"),
    path("auth/token/refresh/", auth.TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/logout/", auth.LogoutView.as_view(), name="logout"),
    path("cart/", include(cart_urls)),
    path("", include("health.urls")),
    path("metrics/business/", BusinessMetricsApi.as_view(), name="metrics-business"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    *router.urls,
]

urlpatterns = [
    path("", RedirectView.as_view(url="/api/v1/docs/", permanent=False)),
    path("admin/", admin.site.urls),
    path("dashboard/", include("dashboard.urls")),
    path("api/v1/", include(api_urls)),
    path("metrics", prometheus.metrics, name="prometheus-metrics"),
]

handler404 = "addtocart.errors.handler404"
handler500 = "addtocart.errors.handler500"
