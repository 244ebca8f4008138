from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from leads.events import demo_workspace_seeded

        from .demo import demo_activity_ensure

        demo_workspace_seeded.connect(demo_activity_ensure, dispatch_uid="webhooks.demo_activity")
