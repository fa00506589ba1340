"""`/api/v1/webhooks/`: staff manage the endpoints that receive the cart events."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from addtocart.api.permissions import IsStaff
from addtocart.api.schema import problems
from addtocart.api.serializers import StrictInputSerializer
from events import webhooks
from events.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from integrations.webhooks import webhook_url_refusal

EVENT_CHOICES = ["*", *EventType.values]


class WebhookInput(StrictInputSerializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES), min_length=1, max_length=20
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)

    def validate_url(self, value: str) -> str:
        if refusal := webhook_url_refusal(url=value):
            raise serializers.ValidationError(f"Webhooks are not sent there: {refusal}.")
        return value

    def validate_events(self, value: list[str]) -> list[str]:
        return ["*"] if "*" in value else sorted(set(value))


class WebhookOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "description",
            "is_active",
            "disabled_at",
            "disabled_reason",
            "last_success_at",
            "created_at",
            "updated_at",
        ]


class WebhookWithSecretOutput(WebhookOutput):
    """Only the answers to a creation and a rotation carry the secret: keep it then."""

    secret = serializers.CharField(help_text="`whsec_` + base64: verify the signatures with it.")

    class Meta(WebhookOutput.Meta):
        fields = [*WebhookOutput.Meta.fields, "secret"]


class AttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["attempted_at", "status_code", "duration_ms", "error"]


class DeliveryOutput(serializers.ModelSerializer):
    event_id = serializers.SerializerMethodField()
    type = serializers.CharField(source="event.type")
    tries = AttemptOutput(many=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event_id", "type", "status", "attempts", "next_attempt_at", "tries"]

    def get_event_id(self, delivery: WebhookDelivery) -> str:
        return f"evt_{delivery.event_id}"


@extend_schema_view(
    list=extend_schema(
        summary="List the webhook endpoints (staff)",
        responses={200: WebhookOutput(many=True), **problems(401, 403)},
    ),
    retrieve=extend_schema(
        summary="Read a webhook endpoint (staff)",
        responses={200: WebhookOutput, **problems(401, 403, 404)},
    ),
    create=extend_schema(
        summary="Register a webhook endpoint (staff)",
        request=WebhookInput,
        responses={201: WebhookWithSecretOutput, **problems(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint (staff)",
        request=WebhookInput(partial=True),
        responses={200: WebhookOutput, **problems(400, 401, 403, 404)},
    ),
    destroy=extend_schema(
        summary="Remove a webhook endpoint (staff)",
        responses={204: None, **problems(401, 403, 404)},
    ),
)
class WebhookViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = WebhookOutput
    permission_classes = [IsStaff]
    queryset = WebhookEndpoint.objects.all()

    def create(self, request):
        data = WebhookInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = webhooks.webhook_endpoint_create(**data.validated_data)
        return Response(WebhookWithSecretOutput(endpoint).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk: str):
        data = WebhookInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        updated = webhooks.webhook_endpoint_update(
            endpoint_id=endpoint.pk, changes=data.validated_data
        )
        return Response(WebhookOutput(updated).data)

    def destroy(self, request, pk: str):
        webhooks.webhook_endpoint_delete(endpoint_id=get_object_or_404(WebhookEndpoint, pk=pk).pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Give a webhook endpoint a new signing secret (staff)",
        request=None,
        responses={200: WebhookWithSecretOutput, **problems(401, 403, 404)},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk: str):
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        rotated = webhooks.webhook_endpoint_rotate_secret(endpoint_id=endpoint.pk)
        return Response(WebhookWithSecretOutput(rotated).data)

    @extend_schema(
        summary="List a webhook endpoint's deliveries (staff)",
        responses={200: DeliveryOutput(many=True), **problems(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk: str):
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        deliveries = (
            endpoint.deliveries.select_related("event")
            .prefetch_related("tries")
            .order_by("-position")
        )
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(DeliveryOutput(page, many=True).data)
