"""Settings ▸ Webhooks (Send Data): webhooks with Send Test, secret and delivery log;
the delivery log with redelivery."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Max, Q
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from leadengine.admin_scoping import WorkspaceScopedAdmin, WorkspaceScopedForm
from leads.models import LeadStatus

from . import services
from .models import Delivery, OutboundWebhook
from .retry import schedule_description

RECENT_DELIVERIES = 20
# A button that submits the surrounding change form to another URL (no nested forms).
BUTTON = (
    '<button type="submit" class="button" formaction="{{}}" formmethod="post" formnovalidate>{label}</button>'
)
BADGE_COLOURS = {
    Delivery.Status.PENDING: "amber",
    Delivery.Status.IN_FLIGHT: "blue",
    Delivery.Status.SUCCEEDED: "green",
    Delivery.Status.FAILED: "red",
}


def status_badge(delivery):
    label = delivery.get_status_display()
    if delivery.status == Delivery.Status.PENDING and delivery.attempt_count:
        label = "Retrying"
    return format_html('<span class="le-badge le-{}">{}</span>', BADGE_COLOURS[delivery.status], label)


def next_attempt_text(delivery):
    if delivery.status == Delivery.Status.PENDING and delivery.next_attempt_at:
        return format_html(
            '<span class="le-next-attempt">next attempt at {} UTC</span> '
            '<span class="help">({} attempts left)</span>',
            f"{delivery.next_attempt_at:%Y-%m-%d %H:%M:%S}",
            delivery.attempts_left,
        )
    if delivery.status == Delivery.Status.IN_FLIGHT:
        return "sending now"
    return "—"


def redeliver_button(delivery, label="Redeliver"):
    """A POST button for one delivery (formaction: it may sit inside another form)."""
    if delivery.is_test or delivery.status == Delivery.Status.IN_FLIGHT:
        return ""
    return format_html(
        '<button type="submit" class="button le-redeliver" formaction="{}" formmethod="post" '
        "formnovalidate>{}</button>",
        reverse("admin:outbound_delivery_redeliver", args=[delivery.pk]),
        label,
    )


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
        ]


@admin.register(OutboundWebhook)
class OutboundWebhookAdmin(WorkspaceScopedAdmin):
    form = OutboundWebhookForm
    preselect_only_workspace = True
    list_display = ["name", "workspace", "url", "is_active", "health"]
    list_filter = ["is_active", "workspace"]
    list_select_related = ["workspace"]
    search_fields = ["name", "url", "description"]
    filter_horizontal = ["lists", "campaigns"]
    readonly_fields = ["disabled_notice", "tools", "signing_secret", "retry_policy", "recent_deliveries"]
    fieldsets = [
        (
            None,
            {
                # The help article's order: name, description, trigger, URL.
                "fields": [
                    "disabled_notice",
                    "name",
                    "description",
                    "trigger",
                    "url",
                    "workspace",
                    "is_active",
                ]
            },
        ),
        ("Filters (optional)", {"fields": ["lists", "campaigns", "statuses"]}),
        ("Signing and testing", {"fields": ["tools", "signing_secret", "retry_policy"]}),
        ("Delivery log", {"fields": ["recent_deliveries"]}),
    ]

    def get_queryset(self, request):
        day_ago = timezone.now() - timedelta(hours=24)
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_delivery_at=Max("deliveries__created_at"),
                failed_24h=Count(
                    "deliveries",
                    filter=Q(deliveries__status=Delivery.Status.FAILED, deliveries__created_at__gte=day_ago),
                ),
            )
        )

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # nothing to test, sign or log before the webhook exists
            return self.fieldsets[:2]
        return self.fieldsets

    @admin.display(description="Health", ordering="last_delivery_at")
    def health(self, obj):
        if not obj.is_active:
            return format_html('<span class="le-badge le-red">Disabled</span>')
        if obj.last_delivery_at is None:
            return "No deliveries yet"
        return format_html(
            "Last delivery {} ago · {} failed in 24 h",
            _ago(obj.last_delivery_at),
            obj.failed_24h,
        )

    @admin.display(description="Status")
    def disabled_notice(self, obj):
        if obj is None or obj.is_active:
            return mark_safe('<span class="le-badge le-green">Active</span>')
        return format_html(
            '<span class="le-badge le-red">Disabled</span> {}', obj.disabled_reason or "by an operator."
        )

    @admin.display(description="Actions")
    def tools(self, obj):
        return format_html(
            f"{BUTTON.format(label='Send Test')} {BUTTON.format(label='Rotate secret')}"
            '<p class="help">Send Test posts the help article\'s sample payload now, without retries. '
            "Rotating keeps the old secret signing alongside the new one for 24 hours.</p>",
            reverse("admin:outbound_outboundwebhook_send_test", args=[obj.pk]),
            reverse("admin:outbound_outboundwebhook_rotate_secret", args=[obj.pk]),
        )

    @admin.display(description="Signing secret")
    def signing_secret(self, obj):
        rotation = ""
        if len(obj.signing_secrets()) > 1:
            rotation = format_html(
                " · previous secret still signs until {} UTC",
                f"{obj.previous_secret_expires_at:%Y-%m-%d %H:%M}",
            )
        return format_html(
            'whsec_•••••••• <a class="button" href="{}">Reveal</a>{}',
            reverse("admin:outbound_outboundwebhook_secret", args=[obj.pk]),
            rotation,
        )

    @admin.display(description="Retries")
    def retry_policy(self, obj):
        return (
            f"First attempt {schedule_description()}; 2xx = success, 3xx and 4xx fail at once, 410 disables."
        )

    @admin.display(description="Recent deliveries")
    def recent_deliveries(self, obj):
        deliveries = obj.deliveries.all()[:RECENT_DELIVERIES]
        if not deliveries:
            return mark_safe(
                '<p class="le-empty">No deliveries yet. Press <strong>Send Test</strong> above, or change a '
                "lead's status: every matching change is logged here.</p>"
            )
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:outbound_delivery_change", args=[delivery.pk]),
                    f"{delivery.created_at:%Y-%m-%d %H:%M:%S}",
                    "test" if delivery.is_test else delivery.event_type,
                    status_badge(delivery),
                    delivery.last_status_code or "—",
                    delivery.attempt_count,
                    next_attempt_text(delivery),
                    delivery.last_error or "",
                    redeliver_button(delivery),
                )
                for delivery in deliveries
            ),
        )
        return format_html(
            '<table class="le-table" id="le-recent-deliveries"><thead><tr><th>Created (UTC)</th>'
            "<th>Event</th><th>Status</th><th>HTTP</th><th>Attempts</th><th>Next attempt</th><th>Error</th>"
            "<th></th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}?webhook__id__exact={}">All deliveries of this webhook</a></p>',
            rows,
            reverse("admin:outbound_delivery_changelist"),
            obj.pk,
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/send-test/", view(self.send_test_view), name="outbound_outboundwebhook_send_test"),
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
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        webhook = self._webhook(request, pk)
        delivery, result = services.webhook_send_test(webhook=webhook)
        lines = result.response_body.splitlines()[:20]
        return self._page(
            request,
            webhook,
            "admin/outbound/send_test_result.html",
            delivery=delivery,
            result=result,
            response_lines="\n".join(lines),
        )

    def secret_view(self, request, pk):
        webhook = self._webhook(request, pk)
        return self._page(request, webhook, "admin/outbound/secret.html", secrets=webhook.signing_secrets())

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


def _ago(moment):
    seconds = int((timezone.now() - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


class FailedRecentlyFilter(admin.SimpleListFilter):
    title = "failed recently"
    parameter_name = "failed_within"

    def lookups(self, request, model_admin):
        return [("24h", "Failed in the last 24 h")]

    def queryset(self, request, queryset):
        if self.value() == "24h":
            return queryset.filter(
                status=Delivery.Status.FAILED, completed_at__gte=timezone.now() - timedelta(hours=24)
            )
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
        "event_type",
        "status_column",
        "attempt_count",
        "last_status_code",
        "next_attempt",
    ]
    list_filter = ["status", "webhook", FailedRecentlyFilter, "is_test"]
    list_select_related = ["webhook", "webhook__workspace"]
    search_fields = ["event_id", "webhook__name"]
    date_hierarchy = "created_at"
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
        return status_badge(obj)

    @admin.display(description="Next attempt", ordering="next_attempt_at")
    def next_attempt(self, obj):
        return next_attempt_text(obj)

    @admin.display(description="Payload (exact bytes sent, pretty-printed)")
    def pretty_payload(self, obj):
        return format_html('<pre style="max-height:40em;overflow:auto">{}</pre>', obj.payload_pretty())

    @admin.display(description="Attempts")
    def attempt_log(self, obj):
        attempts = obj.attempts.all()
        if not attempts:
            return "No attempt yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td><details><summary>response</summary><pre>{}</pre><pre>{}</pre></details></td></tr>",
            (
                (
                    attempt.number,
                    f"{attempt.started_at:%Y-%m-%d %H:%M:%S}",
                    attempt.duration_ms,
                    attempt.request_url,
                    attempt.status_code or "—",
                    f"{attempt.error_class}: {attempt.error_message}" if attempt.error_class else "",
                    "\n".join(f"{key}: {value}" for key, value in attempt.response_headers.items()),
                    attempt.response_body,
                )
                for attempt in attempts
            ),
        )
        return format_html(
            "<table><thead><tr><th>#</th><th>Started (UTC)</th><th>Duration</th><th>URL</th><th>HTTP</th>"
            "<th>Error</th><th></th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

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
