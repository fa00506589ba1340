"""The admin of events and webhooks: the outbox read-only, endpoints editable with their
deliveries, a disabled endpoint's notice on top of its page."""

from django import forms
from django.contrib import admin, messages

from events import webhooks
from events.models import Event, EventType, WebhookDelivery, WebhookEndpoint
from integrations.webhooks import webhook_url_refusal


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "cart_id", "sequence", "position", "created_at"]
    list_filter = ["type"]
    search_fields = ["=cart_id"]
    search_help_text = "A cart's id (whole)."
    ordering = ["-id"]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ["event", "status", "attempts", "next_attempt_at", "finished_at"]
    readonly_fields = fields
    ordering = ["-position"]
    max_num = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = "Deliveries (newest first)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("event")


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[("*", "All events"), *EventType.choices], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description", "is_active"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if refusal := webhook_url_refusal(url=url):
            raise forms.ValidationError(f"Webhooks are not sent there: {refusal}.")
        return url

    def clean_events(self) -> list[str]:
        chosen = self.cleaned_data["events"]
        return ["*"] if "*" in chosen else sorted(chosen)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["url", "is_active", "disabled_at", "last_success_at", "description"]
    list_filter = ["is_active"]
    readonly_fields = ["disabled_at", "disabled_reason", "last_success_at", "created_at"]
    inlines = [DeliveryInline]
    actions = ["rotate_secret"]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            webhooks.webhook_endpoint_update(
                endpoint_id=obj.pk,
                changes={name: form.cleaned_data[name] for name in form.changed_data},
            )
            return
        created = webhooks.webhook_endpoint_create(**form.cleaned_data)
        obj.pk = created.pk
        self.message_user(
            request, f"Its signing secret, shown this once: {created.secret}", messages.WARNING
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        endpoint = self.get_object(request, object_id)
        if endpoint is not None and endpoint.disabled_at is not None and not endpoint.is_active:
            self.message_user(
                request,
                f"Disabled by the worker on {endpoint.disabled_at:%Y-%m-%d %H:%M} UTC: "
                f"{endpoint.disabled_reason} Tick 'Is active' once the receiver is fixed.",
                messages.ERROR,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Rotate the signing secret (the old one signs too for 24 h)")
    def rotate_secret(self, request, queryset) -> None:
        for endpoint in queryset:
            rotated = webhooks.webhook_endpoint_rotate_secret(endpoint_id=endpoint.pk)
            self.message_user(
                request,
                f"{rotated.url}: new secret, shown this once: {rotated.secret}",
                messages.WARNING,
            )
