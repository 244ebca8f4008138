"""Settings ▸ Webhooks (Send Data): webhooks with Send Test, secret and delivery log;
the delivery log with redelivery."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from leadengine.admin_paging import CappedCountPaginator
from leadengine.admin_scoping import WorkspaceScopedAdmin, WorkspaceScopedForm
from leads.models import LeadStatus
from webhooks import selectors
from webhooks.retention import delivery_log_retention_text

from . import services
from .models import Delivery, OutboundWebhook, deliveries_failed_recently, destination_warning
from .presentation import (
    attempt_pill,
    attempts_chart,
    delivery_table,
    next_attempt_text,
    redeliver_button,
    status_badge_html,
    status_change_text,
)
from .retry import schedule_description

RECENT_DELIVERIES = 20
LATEST_DELIVERIES = 5


class OutboundWebhookForm(WorkspaceScopedForm):
    statuses = forms.MultipleChoiceField(
        label="New statuses",
        choices=LeadStatus.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Fire only when the lead changes to one of these. None ticked = every status change.",
    )

    class Meta:
        model = OutboundWebhook
        fields = [
            "workspace",
            "name",
            "description",
            "trigger",
            "url",
            "is_active",
            "lists",
            "campaigns",
            "statuses",
            "deliver_in_order",
            "max_in_flight",
        ]


@admin.register(OutboundWebhook)
class OutboundWebhookAdmin(WorkspaceScopedAdmin):
    form = OutboundWebhookForm
    change_form_template = "admin/outbound/outboundwebhook/change_form.html"
    preselect_only_workspace = True
    list_display = ["name", "workspace", "url", "is_active", "health"]
    list_filter = ["is_active", "workspace"]
    list_select_related = ["workspace"]
    search_fields = ["name", "url", "description"]
    filter_horizontal = ["lists", "campaigns"]
    readonly_fields = ["retry_policy", "recent_deliveries"]
    # The endpoint's state, Send Test, the secret, its health and latest deliveries sit above
    # the form (endpoint_panel.html), where the eye lands; the settings follow.
    fieldsets = [
        (
            None,
            {
                # The help article's order: name, description, trigger, URL.
                "fields": ["name", "description", "trigger", "url", "workspace", "is_active"]
            },
        ),
        ("Filters (optional)", {"fields": ["lists", "campaigns", "statuses"]}),
        ("Delivery", {"fields": ["deliver_in_order", "max_in_flight", "retry_policy"]}),
        ("Delivery log", {"fields": ["recent_deliveries"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_health(timezone.now())

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if warning := destination_warning(obj.url):
            self.message_user(request, warning, messages.WARNING)

    def response_post_save_add(self, request, obj):
        # To the new trigger's page: Send Test and the secret are what the operator needs next.
        self.message_user(request, f"Added {obj}. Press Send Test to try the endpoint.", messages.SUCCESS)
        return redirect("admin:outbound_outboundwebhook_change", obj.pk)

    def response_post_save_change(self, request, obj):
        # Back to Settings ▸ Webhooks, where the operator came from, not the model list.
        return redirect(reverse("admin:webhooks_settings") + "?kind=send")

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # nothing to sign or log before the webhook exists
            fieldsets = self.fieldsets[:3]
            main, delivery = fieldsets[0], fieldsets[2]
            return [main, fieldsets[1], (delivery[0], {"fields": ["deliver_in_order", "max_in_flight"]})]
        return self.fieldsets

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["endpoint_panel"] = self.endpoint_panel(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def endpoint_panel(self, obj):
        """State, actions, secret, health and the latest deliveries with their attempts."""
        now = timezone.now()
        latest = obj.deliveries.prefetch_related("attempts")[:LATEST_DELIVERIES]
        health = selectors.endpoint_health(obj, now=now)
        return render_to_string(
            "admin/outbound/outboundwebhook/endpoint_panel.html",
            {
                "webhook": obj,
                "state": self.endpoint_state(obj, now),
                "send_test_url": reverse("admin:outbound_outboundwebhook_send_test", args=[obj.pk]),
                "rotate_url": reverse("admin:outbound_outboundwebhook_rotate_secret", args=[obj.pk]),
                "secret_url": reverse("admin:outbound_outboundwebhook_secret", args=[obj.pk]),
                "previous_secret_until": obj.previous_secret_expires_at
                if len(obj.signing_secrets(now)) > 1
                else None,
                "health": health,
                "chart": attempts_chart(health["attempts"]),
                "last_attempt_pill": attempt_pill(health["last_attempt"]) if health["last_attempt"] else "",
                "latest": [
                    {
                        "url": reverse("admin:outbound_delivery_change", args=[delivery.pk]),
                        "delivery": delivery,
                        "event": "test" if delivery.is_test else status_change_text(delivery),
                        "badge": status_badge_html(delivery),
                        "attempts": [attempt_pill(attempt) for attempt in delivery.attempts.all()],
                        "next_attempt": next_attempt_text(delivery),
                    }
                    for delivery in latest
                ],
                "log_url": reverse("admin:outbound_delivery_changelist") + f"?webhook__id__exact={obj.pk}",
            },
        )

    @staticmethod
    def endpoint_state(obj, now):
        """(colour, word, explanation) of the endpoint, from the same rules the sender follows."""
        if not obj.is_active:
            return ("red", "Disabled", obj.disabled_reason or "Paused by an operator.")
        if obj.breaker_open:
            return ("amber", "Endpoint failing", obj.breaker_status(now))
        return ("green", "Active", "Every matching status change is sent.")

    @admin.display(description="Health", ordering="last_attempt_at")
    def health(self, obj):
        if not obj.is_active:
            return format_html('<span class="le-badge le-red">Disabled</span>')
        if obj.last_delivery_at is None:
            return "No deliveries yet"
        if obj.last_attempt_at:
            last = f"Last attempt {timesince(obj.last_attempt_at)} ago"
        else:
            last = "No attempt in 7 days" if obj.last_delivery_attempt_count else "Not tried yet"
        return format_html(
            "{} · attempts: {} of {} failed · deliveries: {} failed in 24 h",
            last,
            obj.failed_attempts_24h,
            obj.attempts_24h,
            obj.failed_24h,
        )

    @admin.display(description="Retries")
    def retry_policy(self, obj):
        return (
            f"First attempt {schedule_description()}. 2xx = success. Retried: 5xx, 408, 429, timeouts "
            "and connection errors. 3xx and other 4xx fail at once; 410 also disables the webhook."
        )

    @admin.display(description="Recent deliveries")
    def recent_deliveries(self, obj):
        deliveries = obj.deliveries.all()[:RECENT_DELIVERIES]
        return render_to_string(
            "admin/outbound/outboundwebhook/recent_deliveries.html",
            {
                "table": delivery_table(deliveries, table_id="le-recent-deliveries") if deliveries else "",
                "log_url": reverse("admin:outbound_delivery_changelist") + f"?webhook__id__exact={obj.pk}",
            },
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/send-test/", view(self.send_test_view), name="outbound_outboundwebhook_send_test"),
            path(
                "<int:pk>/send-test/<int:delivery_pk>/",
                view(self.send_test_result_view),
                name="outbound_outboundwebhook_send_test_result",
            ),
            path("<int:pk>/secret/", view(self.secret_view), name="outbound_outboundwebhook_secret"),
            path(
                "<int:pk>/rotate-secret/",
                view(self.rotate_secret_view),
                name="outbound_outboundwebhook_rotate_secret",
            ),
            *super().get_urls(),
        ]

    def _webhook(self, request, pk):
        return get_object_or_404(self.get_queryset(request).select_related("workspace"), pk=pk)

    def _page(self, request, webhook, template, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "webhook": webhook,
                "title": f"{webhook.name}",
                **context,
            },
        )

    def send_test_view(self, request, pk):
        """Post/redirect/get: the POST sends once; reloading the result page sends nothing."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        webhook = self._webhook(request, pk)
        delivery, _result = services.webhook_send_test(webhook=webhook)
        return redirect("admin:outbound_outboundwebhook_send_test_result", webhook.pk, delivery.pk)

    def send_test_result_view(self, request, pk, delivery_pk):
        webhook = self._webhook(request, pk)
        delivery = get_object_or_404(webhook.deliveries.filter(is_test=True), pk=delivery_pk)
        attempt = delivery.attempts.last()
        return self._page(
            request, webhook, "admin/outbound/send_test_result.html", delivery=delivery, attempt=attempt
        )

    def secret_view(self, request, pk):
        webhook = self._webhook(request, pk)
        if request.GET.get("format") == "json":  # the Reveal button on the trigger page
            response = JsonResponse({"secret": webhook.secret})
        else:
            response = self._page(
                request, webhook, "admin/outbound/secret.html", secrets=webhook.signing_secrets()
            )
        response["Cache-Control"] = "no-store"
        return response

    def rotate_secret_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        webhook = services.webhook_rotate_secret(webhook=self._webhook(request, pk))
        self.message_user(
            request,
            "New signing secret created. The previous one keeps signing alongside it for 24 hours.",
            messages.SUCCESS,
        )
        return redirect("admin:outbound_outboundwebhook_change", webhook.pk)


class FailedRecentlyFilter(admin.SimpleListFilter):
    """The failures the webhook's health counts (real deliveries), so the list and the
    "failed in 24 h" figure always agree."""

    title = "failed recently"
    parameter_name = "failed_within"

    def lookups(self, request, model_admin):
        return [("24h", "Failed in the last 24 h")]

    def queryset(self, request, queryset):
        if self.value() == "24h":
            return deliveries_failed_recently(queryset, timezone.now())
        return queryset


class RedeliverSinceForm(forms.Form):
    since = forms.DateTimeField(
        label="Failed since (UTC)",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


@admin.register(Delivery)
class DeliveryAdmin(WorkspaceScopedAdmin):
    workspace_path = "webhook__workspace"
    list_display = [
        "created_at",
        "webhook",
        "status_column",
        "attempts",
        "http_code",
        "next_attempt",
    ]
    list_filter = ["status", "webhook", FailedRecentlyFilter, "is_test"]
    list_select_related = ["webhook", "webhook__workspace"]
    search_fields = ["event_id", "webhook__name"]
    # A log of millions of rows: no full count (twice) per page view, no date drill-down that
    # sorts every row for its year/month links (docs/benchmarks.md, P11).
    show_full_result_count = False
    paginator = CappedCountPaginator
    actions = ["redeliver", "redeliver_failed_since"]
    fields = [
        "webhook",
        "event_type",
        "event_id",
        "lead",
        "status_column",
        "is_test",
        "attempt_count",
        "next_attempt",
        "in_order",
        "last_error",
        "created_at",
        "completed_at",
        "pretty_payload",
        "attempt_log",
    ]
    readonly_fields = fields
    change_form_template = "admin/outbound/delivery/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the log is read-only; redelivery is an action

    def changelist_view(self, request, extra_context=None):
        extra_context = {"subtitle": delivery_log_retention_text(), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:pk>/redeliver/",
                self.admin_site.admin_view(self.redeliver_view),
                name="outbound_delivery_redeliver",
            ),
            *super().get_urls(),
        ]

    def redeliver_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        delivery = get_object_or_404(self.get_queryset(request), pk=pk)
        outcome = services.delivery_redeliver(delivery=delivery)
        if outcome == "queued":
            self.message_user(request, "Queued again: same payload, same webhook-id.", messages.SUCCESS)
        elif outcome == "due_now":
            self.message_user(
                request, "Retrying now instead of waiting for the next attempt.", messages.SUCCESS
            )
        else:
            self.message_user(request, "This delivery can't be redelivered right now.", messages.WARNING)
        return redirect("admin:outbound_delivery_change", delivery.pk)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["redeliver_button"] = redeliver_button(obj, "Redeliver now") if obj else ""
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Status", ordering="status")
    def status_column(self, obj):
        return status_badge_html(obj)

    @admin.display(description="Attempts", ordering="attempt_count")
    def attempts(self, obj):
        return obj.attempt_count

    @admin.display(description="HTTP", ordering="last_status_code")
    def http_code(self, obj):
        return obj.last_status_code or "—"

    @admin.display(description="Next attempt", ordering="next_attempt_at")
    def next_attempt(self, obj):
        return next_attempt_text(obj)

    @admin.display(description="In order")
    def in_order(self, obj):
        """With "deliver in order", what this delivery waits for (the lead's earlier event)."""
        earlier = obj.waiting_for()
        if earlier is None:
            return (
                "Not waiting."
                if obj.webhook.deliver_in_order
                else "Not ordered (the webhook sends as soon as due)."
            )
        return format_html(
            'Waiting for delivery <a href="{}">#{}</a> of the same lead ({}).',
            reverse("admin:outbound_delivery_change", args=[earlier.pk]),
            earlier.pk,
            earlier.get_status_display().lower(),
        )

    @admin.display(description="Payload (exact bytes sent, pretty-printed)")
    def pretty_payload(self, obj):
        return format_html('<pre style="max-height:40em;overflow:auto">{}</pre>', obj.payload_pretty())

    @admin.display(description="Attempts")
    def attempt_log(self, obj):
        attempts = obj.attempts.all()
        if not attempts:
            return "No attempt yet."
        return render_to_string("admin/outbound/delivery/attempt_log.html", {"attempts": attempts})

    @admin.action(description="Redeliver selected deliveries")
    def redeliver(self, request, queryset):
        count = services.deliveries_redeliver(deliveries=list(queryset.filter(is_test=False)))
        self.message_user(
            request, f"{count} deliveries queued again (same payload, same webhook-id).", messages.SUCCESS
        )

    @admin.action(description="Redeliver all failed since…")
    def redeliver_failed_since(self, request, queryset):
        webhook_ids = set(queryset.values_list("webhook_id", flat=True))
        form = RedeliverSinceForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            scope = self.get_queryset(request).filter(webhook_id__in=webhook_ids)
            count = services.deliveries_redeliver_failed_since(
                queryset=scope, since=form.cleaned_data["since"]
            )
            self.message_user(request, f"{count} failed deliveries queued again.", messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/outbound/redeliver_since.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Redeliver failed deliveries",
                "form": form,
                "deliveries": queryset,
                "webhooks": OutboundWebhook.objects.filter(pk__in=webhook_ids),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )
