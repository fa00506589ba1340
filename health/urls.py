from django.urls import path, re_path

from health import prometheus, views

# /api/v1/health, /api/v1/health/live, ... answer with or without a trailing slash, as the
# operations runbook and the Kubernetes probes call them.
urlpatterns = [
    re_path(r"^health/?$", views.health, name="health"),
    *(
        re_path(rf"^health/{name}/?$", getattr(views, name), name=f"health-{name}")
        for name in ("live", "ready", "database", "redis", "external", "detailed", "metrics")
    ),
]

# At the root of the site, where Prometheus scrapes.
root_urlpatterns = [path("metrics", prometheus.metrics, name="prometheus-metrics")]
