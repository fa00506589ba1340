from django.urls import path

from bench.bare.views import Write, plain_json

urlpatterns = [
    path("bench/write/<int:pk>/", Write.as_view(), name="bare-write"),
    path("bench/json/", plain_json, name="bare-json"),
]
