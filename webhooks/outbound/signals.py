"""Subscriptions to the lead app's events (connected in OutboundConfig.ready())."""

from . import outbox


def on_lead_statuses_changed(sender, events, **kwargs):
    # Runs inside the status change's transaction: the deliveries commit or roll back with it.
    # One call per status service call, whatever the number of leads it changed.
    outbox.deliveries_create_for_events(events=events)
