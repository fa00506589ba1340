"""The root URLconf: the one module of the project package that imports the apps (their URLs)."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.decorators.cache import cache_control
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

# Browsers ask for /favicon.ico by themselves: it sends them to the icon among the static files
# (a temporary redirect, kept a day: the static file's name changes with its content).
favicon = RedirectView.as_view(url=lazy(static, str)("addtocart/favicon.ico"), permanent=False)

urlpatterns = [
    path("", RedirectView.as_view(url="/api/v1/docs/", permanent=False)),
    path("favicon.ico", cache_control(max_age=86400, public=True)(favicon), name="favicon"),
    path("admin/", admin.site.urls),
    path("dashboard/", include(dashboard_urls)),
    path("api/v1/", include(api_urls)),
    *health_urls.root_urlpatterns,
]

handler404 = "addtocart.api.problems.handler404"
handler500 = "addtocart.api.problems.handler500"
