"""The root URLconf: the one module of the project package that imports the apps (their URLs)."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.api import urls as accounts_urls
from carts.api import urls as carts_urls
from dashboard import urls as dashboard_urls
from events.api import urls as events_urls
from health import urls as health_urls

api_urls = [
    *accounts_urls.urlpatterns,
    *carts_urls.urlpatterns,
    *events_urls.urlpatterns,
    *health_urls.urlpatterns,
    *dashboard_urls.api_urlpatterns,
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("", RedirectView.as_view(url="/api/v1/docs/", permanent=False)),
    path("admin/", admin.site.urls),
    path("dashboard/", include(dashboard_urls)),
    path("api/v1/", include(api_urls)),
    *health_urls.root_urlpatterns,
]

handler404 = "addtocart.api.problems.handler404"
handler500 = "addtocart.api.problems.handler500"
