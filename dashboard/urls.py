from django.urls import path

from dashboard import apis, views

app_name = "dashboard"
urlpatterns = [
    path("", views.business, name="business"),
    path("health/", views.health, name="health"),
    path("health/data", views.health_data, name="health-data"),
]

# Under /api/v1/, with the other API routes (no namespace: API routes are named plainly).
api_urlpatterns = [
    path("metrics/business/", apis.BusinessMetricsApi.as_view(), name="metrics-business"),
]
