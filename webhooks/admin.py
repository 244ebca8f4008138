"""What the webhooks app adds to admin pages it does not own, through their hooks:
Settings ▸ Webhooks (both kinds on one screen, a page of the admin site) and, on the lead
page, the deliveries the lead's status changes caused (registered with `leads` from
`WebhooksConfig.ready()`, so `leads` never imports `webhooks`).
"""

from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from leadengine.admin_scoping import WorkspaceScopedInline

from .admin_views import webhook_notice_acknowledge_view, webhooks_settings_view
from .outbound.models import Delivery
from .outbound.presentation import delivery_table

admin.site.add_view(route="settings/webhooks/", view=webhooks_settings_view, name="webhooks_settings")
admin.site.add_view(
    route="settings/webhooks/notices/<int:notice_id>/acknowledge/",
    view=webhook_notice_acknowledge_view,
    name="webhooks_notice_acknowledge",
)
admin.site.add_settings_page(name="Webhooks", url_name="admin:webhooks_settings", order=10)


class LeadDeliveryFormSet(BaseInlineFormSet):
    @classmethod
    def get_default_prefix(cls):
        return "webhook_deliveries"  # the FK has no reverse accessor ("+") to derive one from

    def delivery_table(self):
        return delivery_table(self.get_queryset(), for_lead=True)


class LeadDeliveryInline(WorkspaceScopedInline, admin.TabularInline):
    """Read-only: each outbound delivery a status change of this lead caused, newest first,
    in the delivery table the webhook page shows."""

    model = Delivery
    formset = LeadDeliveryFormSet
    fk_name = "lead"
    template = "admin/outbound/lead_deliveries_inline.html"
    extra = 0
    can_delete = False
    classes = ["le-deliveries"]
    verbose_name = "webhook delivery"
    verbose_name_plural = "Webhook deliveries caused by status changes"
    # The table shows the rows; the formset only carries the lead form's management data.
    fields = ["created_at"]
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
