"""Thin Celery adapters: they take ids, and the sender does the work.

Their hard time limits are in settings (`CELERY_TASK_ANNOTATIONS`): a task stops claiming
at the send window and waits for its requests (one timeout each), so the limit only catches
a send that hangs; the killed task's leases expire and the sweeper resends.
"""

from celery import shared_task
from celery.signals import worker_process_init, worker_shutting_down
from django.conf import settings

from . import notifications, selectors, sender, services
from .models import WebhookNotice
from .outbox import deliveries_ring_doorbell, doorbell_taken


@shared_task(name="outbound.deliver_webhooks")
def deliver_webhooks(delivery_ids):
    """Deliver what one committed transaction created (the fast path), then any other due
    delivery until the send window closes (a backlog drains at full concurrency)."""
    return sender.deliveries_deliver(ids=delivery_ids, taken=doorbell_taken)


@shared_task(name="outbound.deliver_due_webhooks")
def deliver_due_webhooks():
    """The sweeper (beat, every few seconds): retries that are due and leases a dead worker
    left behind. A large backlog also wakes other workers to share it."""
    due = selectors.deliveries_due_count(limit=settings.WEBHOOK_SENDER_CONCURRENCY * 8)
    for _ in range(1, due // settings.WEBHOOK_SENDER_CONCURRENCY):
        deliveries_ring_doorbell(ids=[])
    return sender.deliveries_deliver() if due else 0


@shared_task(name="outbound.disable_failing_webhooks")
def disable_failing_webhooks():
    return len(services.webhooks_disable_failing())


@shared_task(name="outbound.notify_webhook_operators")
def notify_webhook_operators(notice_id=None, failing_webhook_ids=None):
    """Email about a notice already raised (a disable), or decide whether these webhooks have
    just started failing and tell their operators."""
    if failing_webhook_ids:
        notifications.webhooks_failing_notify(webhook_ids=failing_webhook_ids)
    notice = WebhookNotice.objects.select_related("webhook").filter(pk=notice_id).first()
    if notice is not None:
        notifications.webhook_notice_email(notice=notice)


@worker_shutting_down.connect
def stop_claiming_on_shutdown(**kwargs):
    sender.sender_stop_claiming()


@worker_process_init.connect
def sender_in_prefork_child(**kwargs):
    sender.sender_in_prefork_child()
