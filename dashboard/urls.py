from django.urls import path

from dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.business, name="business"),
    path("health/", views.health, name="health"),
    path("health/data", views.health_data, name="health-data"),
]
