from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """Staff dashboards: business metrics and service health, server-rendered."""

    name = "dashboard"
