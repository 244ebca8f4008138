"""Subscriptions to the lead app's events (connected in OutboundConfig.ready())."""

from . import outbox


def on_lead_status_changed(sender, event, **kwargs):
    # Runs inside the status change's transaction: the deliveries commit or roll back with it.
    outbox.deliveries_create_for_event(event=event)
