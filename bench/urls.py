"""The service's URLs plus the in-stack write baseline: the bare project's own write view."""

from django.urls import path

from addtocart import urls as service_urls
from bench.bare.views import Write

urlpatterns = [
    path("bench/write/<int:pk>/", Write.as_view(), name="bench-write"),
    *service_urls.urlpatterns,
]

handler404 = service_urls.handler404
handler500 = service_urls.handler500
