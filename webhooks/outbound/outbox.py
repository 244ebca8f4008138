"""Writing the outbox: one Delivery per matching webhook, in the status change's transaction,
and one doorbell task per committed transaction.

Delivery state lives in the database; Celery is only the doorbell. If the broker loses a
doorbell, the sweeper (`tasks.deliver_due_webhooks`) finds the committed rows.
"""

import logging
import threading

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import Delivery, OutboundWebhook
from .payload import lead_for_payload, lead_status_payload_build, payload_serialize

logger = logging.getLogger(__name__)


def matching_webhooks(*, lead, new_status, event_campaign=None):
    """Active status-trigger webhooks of the lead's workspace whose filters accept it.

    `lead` has its lists and campaigns prefetched; the change's own campaign counts too.
    """
    list_ids = [item.pk for item in lead.lists.all()]
    campaign_ids = [campaign.pk for campaign in lead.campaigns.all()]
    if event_campaign is not None:
        campaign_ids.append(event_campaign.pk)
    webhooks = (
        OutboundWebhook.objects.filter(
            workspace_id=lead.workspace_id,
            is_active=True,
            trigger=OutboundWebhook.Trigger.LEAD_STATUS_UPDATED,
        )
        .filter(Q(lists__isnull=True) | Q(lists__in=list_ids))
        .filter(Q(campaigns__isnull=True) | Q(campaigns__in=campaign_ids))
        .distinct()
    )
    return [webhook for webhook in webhooks if webhook.accepts_status(new_status)]


def _workspace_has_status_webhooks(workspace_id):
    return OutboundWebhook.objects.filter(
        workspace_id=workspace_id, is_active=True, trigger=OutboundWebhook.Trigger.LEAD_STATUS_UPDATED
    ).exists()


def deliveries_create_for_event(*, event):
    """One pending Delivery per matching webhook, in the caller's transaction; returns ids."""
    if not _workspace_has_status_webhooks(event.lead.workspace_id):
        return []  # most workspaces, most changes: skip loading the lead and its thread
    lead = lead_for_payload(event.lead.pk)
    webhooks = matching_webhooks(lead=lead, new_status=event.new_status, event_campaign=event.campaign)
    if not webhooks:
        return []
    body = payload_serialize(lead_status_payload_build(event=event, lead=lead))
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        Delivery(
            webhook=webhook,
            event_id=str(event.event_id),
            lead=lead,
            payload=body,
            next_attempt_at=now,
            created_at=now,
        )
        for webhook in webhooks
    )
    ids = [delivery.pk for delivery in deliveries]
    deliveries_enqueue_after_commit(ids=ids)
    return ids


class _Doorbell(threading.local):
    """The ids a thread's current transaction created, rung once after it commits.

    Every call registers its own `on_commit` callback (public API only); the callbacks pour
    their ids into one buffer and the one registered last rings the bell for all of them.
    A rolled-back transaction discards its callbacks, so its ids never reach the buffer. If a
    savepoint rollback discarded the last callback, the buffer waits for the next commit:
    the rows are committed either way, and the sweeper would find them.
    """

    def __init__(self):
        self.buffer = []
        self.last_registered = 0
        self.counter = 0

    def add(self, ids):
        self.counter += 1
        number = self.last_registered = self.counter
        transaction.on_commit(lambda: self._committed(number, ids))

    def _committed(self, number, ids):
        self.buffer.extend(ids)
        if number == self.last_registered:
            ids, self.buffer = self.buffer, []
            deliveries_ring_doorbell(ids=ids)


_doorbell = _Doorbell()


def deliveries_enqueue_after_commit(*, ids):
    """Ring the doorbell once per committed transaction, with every delivery id it created."""
    _doorbell.add(list(ids))


def deliveries_ring_doorbell(*, ids):
    """Hand ids to a worker. A broker failure is logged, not raised: the rows are committed
    and the sweeper sends them within one interval, so the caller's request still succeeds."""
    from .tasks import deliver_webhooks

    try:
        deliver_webhooks.delay(ids)
    except Exception:
        logger.warning("Broker unavailable: %d deliveries left to the sweeper", len(ids), exc_info=True)
