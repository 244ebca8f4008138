from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "webhooks.inbound"
    label = "inbound"
    verbose_name = "Receive Data (inbound webhooks)"

    def ready(self):
        from leads.events import demo_workspace_seeded

        from .services import demo_webhook_ensure

        demo_workspace_seeded.connect(demo_webhook_ensure, dispatch_uid="inbound-demo-webhook")
