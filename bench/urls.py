"""The service's URLs plus the write baseline."""

from django.urls import path

from addtocart import urls as service_urls
from bench.views import WriteBaseline

urlpatterns = [
    path("bench/write/<int:pk>/", WriteBaseline.as_view(), name="bench-write"),
    *service_urls.urlpatterns,
]

handler404 = service_urls.handler404
handler500 = service_urls.handler500
