from django.urls import path
from rest_framework.routers import SimpleRouter

from events.api import views, webhooks

router = SimpleRouter()
router.register("webhooks", webhooks.WebhookViewSet, basename="webhook")

urlpatterns = [path("events/", views.EventListView.as_view(), name="events"), *router.urls]
