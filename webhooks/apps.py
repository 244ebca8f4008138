from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from leads.admin_extensions import lead_inline_register
        from leads.events import demo_workspace_seeded

        from .admin import LeadDeliveryInline
        from .demo import demo_activity_ensure

        demo_workspace_seeded.connect(demo_activity_ensure, dispatch_uid="webhooks.demo_activity")
        lead_inline_register(LeadDeliveryInline)
