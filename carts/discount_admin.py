"""The Django admin of discount codes: single codes, batches of single-use codes and their CSV
(`csv_cell` guards every export of the admin against formulas, carts/admin.py's too).

Writes go through carts/services/discount_codes.py; a code that was used or is on a cart is
deactivated instead of deleted. The changelist makes a fixed number of queries per page.
"""

import csv
import logging
import re
from datetime import datetime
from functools import partial
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import actions, helpers
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.db.models import F, Max, Q, QuerySet
from django.http import HttpResponseBadRequest, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from carts import errors
from carts.models import DiscountCode
from carts.services.discount_codes import (
    BATCH_MAX,
    discount_code_batch_create,
    discount_code_create,
    discount_code_delete,
    discount_code_update,
)

admin_log = logging.getLogger("addtocart.admin")

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Echo:
    """A file-like object whose write returns the line, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value) -> str:
    """A cell a spreadsheet cannot run: text starting like a formula gets a leading quote."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


CSV_COLUMNS = ["code", "kind", "value", "currency", "min_subtotal", "starts_at", "ends_at"]
CSV_COLUMNS += ["max_uses", "times_used", "is_active", "batch"]


def codes_csv(codes: QuerySet[DiscountCode], name: str) -> StreamingHttpResponse:
    """The codes streamed as CSV, one row each, never all held in memory."""
    writer = csv.writer(Echo())

    def rows():
        yield writer.writerow(CSV_COLUMNS)
        for values in codes.values_list(*CSV_COLUMNS).iterator(chunk_size=2000):
            yield writer.writerow([csv_cell(value) for value in values])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    filename = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def state_filters(now: datetime) -> dict[str, Q]:
    started = Q(starts_at__isnull=True) | Q(starts_at__lte=now)
    not_ended = Q(ends_at__isnull=True) | Q(ends_at__gt=now)
    uses_left = Q(max_uses__isnull=True) | Q(max_uses__gt=F("times_used"))
    return {
        "running": Q(is_active=True) & started & not_ended & uses_left,
        "not_started": Q(is_active=True, starts_at__gt=now),
        "ended": Q(is_active=True, ends_at__lte=now),
    }


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("running", "Running now"), ("not_started", "Not started"), ("ended", "Ended")]

    def queryset(self, request, queryset):
        condition = state_filters(timezone.now()).get(self.value())
        return queryset if condition is None else queryset.filter(condition)


NO_BATCH = "none"
RECENT_BATCHES = 15


class BatchFilter(admin.SimpleListFilter):
    """The latest batches (any other by `?batch=<name>`, as the batch page links it)."""

    title = "batch"
    parameter_name = "batch"

    def lookups(self, request, model_admin):
        batches = DiscountCode.objects.exclude(batch="").values("batch")
        latest = batches.annotate(latest=Max("created_at")).order_by("-latest")
        recent = list(latest.values_list("batch", flat=True)[:RECENT_BATCHES])
        if self.value() and self.value() not in (*recent, NO_BATCH):
            recent.insert(0, self.value())
        return [(NO_BATCH, "Not in a batch"), *((name, name) for name in recent)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(batch="" if self.value() == NO_BATCH else self.value())
        return queryset


BATCH_TERMS = ["kind", "value", "currency", "min_subtotal", "starts_at", "ends_at"]
BATCH_TERMS += ["max_uses_per_customer", "products"]


class DiscountBatchForm(forms.ModelForm):
    """A batch's terms; the model's constraints check them as for a single code."""

    prefix = forms.CharField(
        max_length=40,
        required=False,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]*$", "Use letters, digits, '-' and '_'.")],
        help_text="Each code is this followed by 10 random letters and digits.",
    )
    count = forms.IntegerField(min_value=1, max_value=BATCH_MAX, initial=1000)


class DiscountCodeForm(forms.ModelForm):
    def _get_validation_exclusions(self):
        """The counters too are checked against the code's constraints (`max_uses` is never
        below the uses counted and held), as the service will check them."""
        return super()._get_validation_exclusions() - {"times_used", "uses_held"}


COUNTERS = ["times_used", "uses_held", "discounted_total", "batch", "created_at", "updated_at"]
CONDITIONS = ["min_subtotal", "starts_at", "ends_at", "max_uses", "max_uses_per_customer"]
DEACTIVATED = "_discount_codes_deactivated"  # on the request: what `_retire` deactivated
IN_USE = "used or on a cart"


@admin.register(DiscountCode)
class DiscountCodeAdmin(admin.ModelAdmin):
    form = DiscountCodeForm
    list_display = ["code", "kind", "value", "currency", "is_active", "times_used"]
    list_display += ["max_uses", "discounted_total", "starts_at", "ends_at", "batch"]
    list_filter = ["kind", "is_active", StateFilter, BatchFilter]
    search_fields = ["code"]
    search_help_text = "Code (any part, any case)."
    show_full_result_count = False
    autocomplete_fields = ["products"]
    readonly_fields = COUNTERS
    fieldsets = [
        (None, {"fields": ["code", "kind", "value", "currency", "is_active"]}),
        ("Conditions", {"fields": [*CONDITIONS, "products"]}),
        ("Use", {"fields": COUNTERS}),
    ]
    actions = ["export_csv", "delete_selected"]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("generate/", view(self.batch_view), name="carts_discountcode_generate"),
            path("export/", view(self.batch_export_view), name="carts_discountcode_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        links = {"generate_url": reverse("admin:carts_discountcode_generate")}
        batch = request.GET.get("batch", "")
        if batch and batch != NO_BATCH:
            links["export_url"] = batch_export_url(batch)
        return super().changelist_view(request, {**links, **(extra_context or {})})

    # Writing: the services, so the admin refuses and keeps what the API does.

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (errors.DiscountCodeRejected, errors.DiscountCodeTaken, errors.NotFound) as error:
            # Only a save in between gets here: the form checked the rest.
            problems = error.extra.get("errors", "")
            self.message_user(request, f"{error.detail} {problems}".strip(), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        changed = form.changed_data if change else list(data)
        fields = {name: data[name] for name in changed if name != "products"}
        products = [product.pk for product in data["products"]] if "products" in changed else None
        if change:
            saved = discount_code_update(code_id=obj.pk, fields=fields, product_ids=products)
        else:
            saved = discount_code_create(fields=fields, product_ids=products)
        obj.pk, obj._state = saved.pk, saved._state

    def save_related(self, request, form, formsets, change):
        """The products were saved with the code (`save_model`)."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # Deleting: a code used or on a cart is deactivated, and said to be.

    def get_deleted_objects(self, objs, request):
        """No cart protects a code: one on a cart is deactivated instead (`_retire`)."""
        deleted, counts, perms_needed, _protected = super().get_deleted_objects(objs, request)
        return deleted, counts, perms_needed, []

    @admin.action(description="Delete selected %(verbose_name_plural)s", permissions=["delete"])
    def delete_selected(self, request, queryset):
        """Django's, saying at the end which codes were deactivated instead."""
        if not request.POST.get("post"):
            return actions.delete_selected(self, request, queryset)  # the confirmation page
        self.delete_queryset(request, queryset)
        return None

    def log_deletions(self, request, queryset):
        """Logged by `_retire`, once it knows what became of each code."""

    def delete_model(self, request, obj):
        self._retire(request, [obj])

    def delete_queryset(self, request, queryset):
        deleted, deactivated = self._retire(request, list(queryset))
        done = [f"Deleted {len(deleted)} discount code(s)."] if deleted else []
        if deactivated:
            names = ", ".join(code.code for code in deactivated[:20])
            more = f" and {len(deactivated) - 20} more" if len(deactivated) > 20 else ""
            done.append(f"Deactivated {len(deactivated)} instead ({IN_USE}): {names}{more}.")
        self.message_user(request, " ".join(done), messages.SUCCESS)

    def response_delete(self, request, obj_display, obj_id):
        if not getattr(request, DEACTIVATED, None):
            return super().response_delete(request, obj_display, obj_id)
        message = f"“{obj_display}” was deactivated, not deleted: it was {IN_USE}."
        self.message_user(request, message, messages.WARNING)
        return HttpResponseRedirect(reverse("admin:carts_discountcode_change", args=[obj_id]))

    def _retire(self, request, codes: list[DiscountCode]):
        """Each code deleted, or deactivated if the service finds it used or on a cart."""
        deleted, deactivated = [], []
        for code in codes:
            retired = discount_code_delete(code_id=code.pk)
            (deleted if retired is None else deactivated).append(code)
        log = partial(LogEntry.objects.log_actions, user_id=request.user.pk)
        log(queryset=deleted, action_flag=DELETION)
        log(queryset=deactivated, action_flag=CHANGE, change_message=f"Deactivated: {IN_USE}.")
        setattr(request, DEACTIVATED, deactivated)
        counts = {"deleted": len(deleted), "deactivated": len(deactivated)}
        admin_log.info("admin: discount codes deleted", extra={**staff(request), **counts})
        return deleted, deactivated

    # Batches and CSV.

    def batch_view(self, request):
        """A batch of single-use codes, then the changelist of the batch with its CSV link."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form_class = self.get_form(request, fields=BATCH_TERMS, form=DiscountBatchForm)
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            terms = {name: data[name] for name in BATCH_TERMS if name != "products"}
            try:
                batch = discount_code_batch_create(
                    prefix=data["prefix"],
                    count=data["count"],
                    fields=terms,
                    product_ids=[product.pk for product in data["products"]],
                )
            except errors.DiscountCodeRejected as rejected:
                for field, problems in rejected.extra.get("errors", {}).items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                made = {"batch": batch, "count": data["count"]}
                admin_log.info("admin: discount code batch made", extra={**staff(request), **made})
                message = "Generated {} single-use codes, batch {}. <a href='{}'>Download them</a>."
                made = format_html(message, data["count"], batch, batch_export_url(batch))
                self.message_user(request, made, messages.SUCCESS)
                changelist = reverse("admin:carts_discountcode_changelist")
                return HttpResponseRedirect(f"{changelist}?{urlencode({'batch': batch})}")
        fields = ["prefix", "count", *BATCH_TERMS]
        context = {
            **self.admin_site.each_context(request),
            "title": "Generate a batch of discount codes",
            "opts": self.opts,
            "adminform": helpers.AdminForm(form, [(None, {"fields": fields})], {}, (), self),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/carts/discountcode/batch.html", context)

    def batch_export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        batch = request.GET.get("batch", "")
        if not batch:
            return HttpResponseBadRequest("Name the batch: ?batch=<name>.")
        admin_log.info("admin: discount codes exported", extra={**staff(request), "batch": batch})
        codes = DiscountCode.objects.filter(batch=batch).order_by("id")
        return codes_csv(codes, f"discount-codes-{batch}")

    @admin.action(description="Export selected codes as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        admin_log.info("admin: discount codes exported", extra=staff(request))
        return codes_csv(queryset, f"discount-codes-{timezone.now():%Y%m%d-%H%M%S}")


def staff(request) -> dict[str, str]:
    return {"user_id": str(request.user.pk)}


def batch_export_url(batch: str) -> str:
    return f"{reverse('admin:carts_discountcode_export')}?{urlencode({'batch': batch})}"
