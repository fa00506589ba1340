"""Staff's webhook endpoints: creating, changing, rotating the secret, deleting."""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from events.models import WebhookEndpoint
from integrations.webhooks import webhook_secret_new

# After a rotation the old secret still signs deliveries this long (Standard Webhooks).
ROTATION_OVERLAP = timedelta(hours=24)


def webhook_endpoint_create(
    *, url: str, events: list[str], description: str = "", is_active: bool = True
) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        url=url,
        events=events,
        description=description,
        is_active=is_active,
        secret=webhook_secret_new(),
    )


@transaction.atomic
def webhook_endpoint_update(*, endpoint_id: int, changes: dict[str, Any]) -> WebhookEndpoint:
    """Change `url`, `events`, `description` or `is_active`; turning it on again clears the
    worker's notice of why it was disabled."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    for name, value in changes.items():
        setattr(endpoint, name, value)
    if changes.get("is_active"):
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint_id: int) -> WebhookEndpoint:
    """A new secret signs from now on; the old one signs too for ROTATION_OVERLAP, so a
    receiver can switch without refusing a delivery."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
    endpoint.secret = webhook_secret_new()
    endpoint.save()
    return endpoint


def webhook_endpoint_delete(*, endpoint_id: int) -> None:
    """Its pending deliveries go with it."""
    WebhookEndpoint.objects.filter(pk=endpoint_id).delete()
