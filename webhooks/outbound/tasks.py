"""Thin Celery adapters: they take ids, and the services do the work."""

from celery import shared_task
from django.conf import settings

from . import services

# A task stops sending at one deadline, half the claim timeout (services.delivery_deadline);
# this hard limit only catches a send that hangs (slow-drip responses). The killed batch's
# claims expire and the sweeper retries them.
HARD_LIMIT = settings.WEBHOOK_CLAIM_TIMEOUT_SECONDS


@shared_task(name="outbound.deliver_webhooks", time_limit=HARD_LIMIT)
def deliver_webhooks(delivery_ids):
    """Deliver the deliveries one committed transaction created (the fast path), topping
    the last batch up with other due deliveries (a backlog drains in full batches)."""
    batch = settings.WEBHOOK_DELIVERY_BATCH_SIZE
    deadline = services.delivery_deadline()
    sent = 0
    for start in range(0, len(delivery_ids), batch):
        chunk = delivery_ids[start : start + batch]
        last = start + batch >= len(delivery_ids)
        sent += services.deliveries_deliver(ids=chunk, limit=batch, fill=last, deadline=deadline)
    return sent


@shared_task(name="outbound.deliver_due_webhooks", time_limit=HARD_LIMIT)
def deliver_due_webhooks():
    """The sweeper (beat, every few seconds): retries that are due and claims a dead worker
    left behind. One batch here; more due rows are fanned out to other workers."""
    batch = settings.WEBHOOK_DELIVERY_BATCH_SIZE
    due = services.deliveries_due_ids(limit=batch * 10)
    for start in range(batch, len(due), batch):
        services.deliveries_ring_doorbell(ids=due[start : start + batch])
    return services.deliveries_deliver(ids=due[:batch], limit=batch) if due else 0


@shared_task(name="outbound.disable_failing_webhooks")
def disable_failing_webhooks():
    return len(services.webhooks_disable_failing())
