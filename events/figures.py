"""The webhook figures Prometheus scrapes from the web pods (health/prometheus.py)."""

from datetime import datetime

from django.db.models import Min

from events.models import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint

WEBHOOK_GAUGES = (
    (
        "webhook_outbox_lag_seconds",
        "Age of the oldest event not yet delivered to every endpoint that wants it (0: none).",
    ),
    ("webhook_deliveries_pending", "Deliveries waiting for their first try or a retry."),
    ("webhook_endpoints_disabled", "Endpoints the worker disabled for failing."),
)


def webhook_figures(now: datetime) -> dict[str, float]:
    """Three small queries: the oldest unpositioned event (a partial index), the oldest
    pending delivery's event, and the counts."""
    unpositioned = Event.objects.filter(position__isnull=True).aggregate(at=Min("created_at"))
    # An endpoint turned off (by staff, or disabled for failing) is not waited for: its own
    # gauge and alert tell of it.
    pending = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, endpoint__is_active=True
    )
    oldest_pending = pending.aggregate(at=Min("event__created_at"))
    oldest = min(
        (at for at in (unpositioned["at"], oldest_pending["at"]) if at is not None), default=None
    )
    return {
        "webhook_outbox_lag_seconds": max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        "webhook_deliveries_pending": float(pending.count()),
        "webhook_endpoints_disabled": float(
            WebhookEndpoint.objects.filter(is_active=False, disabled_at__isnull=False).count()
        ),
    }
