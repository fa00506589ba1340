from django.urls import re_path

from health import views

# /api/v1/health, /api/v1/health/live, ... answer with or without a trailing slash, as the
# operations runbook and the Kubernetes probes call them.
urlpatterns = [
    re_path(r"^health/?$", views.health, name="health"),
    re_path(r"^health/live/?$", views.live, name="health-live"),
    re_path(r"^health/ready/?$", views.ready, name="health-ready"),
]
