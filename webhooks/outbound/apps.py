from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "webhooks.outbound"
    label = "outbound"
    verbose_name = "Send Data (outbound webhooks)"

    def ready(self):
        from leadengine.metrics import scrape_collector_register
        from leads.events import lead_statuses_changed

        from . import metrics, signals

        scrape_collector_register(metrics.DeliveryStateCollector())

        lead_statuses_changed.connect(
            signals.on_lead_statuses_changed, dispatch_uid="outbound.lead_statuses_changed"
        )
