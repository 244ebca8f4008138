"""What the webhooks app adds to the admin beyond its models' pages: Settings ▸ Webhooks
(both kinds on one screen) and, on the lead page, the deliveries the lead's status changes
caused. Done from this side so `leads` never imports `webhooks`.
"""

import json

from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html

from leadengine.admin_scoping import WorkspaceScopedInline
from leads.models import Lead

# Importing registers the sub-apps' admins now, whatever the autodiscovery order.
from .admin_views import webhooks_settings_view
from .outbound.admin import OutboundWebhookAdmin, next_attempt_text, status_badge
from .outbound.models import Delivery, OutboundWebhook


class OutboundWebhookWithSettingsAdmin(OutboundWebhookAdmin):
    """The Send Data admin, plus the Settings ▸ Webhooks page (an admin URL needs a ModelAdmin)."""

    change_form_template = "admin/outbound/outboundwebhook/change_form.html"

    def response_post_save_add(self, request, obj):
        return redirect(reverse("admin:webhooks_settings") + "?kind=send")

    response_post_save_change = response_post_save_add

    def get_urls(self):
        settings_view = self.admin_site.admin_view(lambda request: webhooks_settings_view(self, request))
        return [path("settings/", settings_view, name="webhooks_settings"), *super().get_urls()]


admin.site.unregister(OutboundWebhook)
admin.site.register(OutboundWebhook, OutboundWebhookWithSettingsAdmin)
admin.site.add_settings_page(name="Webhooks", url_name="admin:webhooks_settings", order=10)


class LeadDeliveryFormSet(BaseInlineFormSet):
    @classmethod
    def get_default_prefix(cls):
        return "webhook_deliveries"  # the FK has no reverse accessor ("+") to derive one from


class LeadDeliveryInline(WorkspaceScopedInline, admin.TabularInline):
    """Read-only: each outbound delivery a status change of this lead caused, newest first."""

    model = Delivery
    formset = LeadDeliveryFormSet
    fk_name = "lead"
    extra = 0
    can_delete = False
    classes = ["le-deliveries"]
    verbose_name = "webhook delivery"
    verbose_name_plural = "Webhook deliveries caused by status changes"
    fields = ["delivery_link", "webhook", "event", "status_column", "http", "attempt_count", "next_attempt"]
    readonly_fields = fields

    def get_queryset(self, request):
        # The formset narrows this to the lead shown, which the Lead admin already scoped to the
        # user's workspaces. (The inherited version would also empty it: view permission is
        # refused without an object, to keep the section off the add page.)
        return Delivery.objects.select_related("webhook").order_by("-created_at", "-id")

    def has_view_permission(self, request, obj=None):
        # Not on the add page: a new lead has caused nothing yet.
        return obj is not None and super().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Created (UTC)")
    def delivery_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:outbound_delivery_change", args=[obj.pk]),
            f"{obj.created_at:%Y-%m-%d %H:%M:%S}",
        )

    @admin.display(description="Change")
    def event(self, obj):
        try:
            payload = json.loads(bytes(obj.payload))
            previous = payload.get("previous_lead_status") or "no status"
            return f"{previous} → {payload.get('new_lead_status')}"
        except (ValueError, AttributeError):
            return obj.event_type

    @admin.display(description="Status")
    def status_column(self, obj):
        return status_badge(obj)

    @admin.display(description="HTTP")
    def http(self, obj):
        return obj.last_status_code or "—"

    @admin.display(description="Next attempt")
    def next_attempt(self, obj):
        return next_attempt_text(obj)


lead_admin = admin.site.get_model_admin(Lead)
lead_admin.inlines = [*lead_admin.inlines, LeadDeliveryInline]
