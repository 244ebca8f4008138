"""How long the webhook logs are kept, and the pruning that keeps them that long.

Periods are settings (`RETENTION_*`, config/settings.py). Pruning runs hourly (beat:
`webhooks.prune_old_logs`) in batches of `RETENTION_BATCH_SIZE` rows, each batch its own
short transaction: a backlog of a million rows becomes a few hundred small deletes, none of
which holds a lock long enough to stall the sender or the inbound endpoint.

A delivery is aged by `completed_at` (a redelivered one restarts its clock) and only once
finished: a pending or in-flight delivery is never pruned, however old.
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from webhooks.inbound.models import InboundRequest, InboundWebhook
from webhooks.outbound.models import Delivery


def delivery_log_retention_text():
    """What the delivery log tells the operator about its own length."""
    return (
        f"Succeeded deliveries are kept {settings.RETENTION_SUCCEEDED_DELIVERY_DAYS} days and failed ones "
        f"{settings.RETENTION_FAILED_DELIVERY_DAYS} days after they finish, with their attempts. "
        "Pending and retrying deliveries are always kept."
    )


def request_log_retention_text():
    return (
        f"Request bodies are kept {settings.RETENTION_INBOUND_BODY_DAYS} days; "
        f"the rest of each request (time, result, key) {settings.RETENTION_INBOUND_REQUEST_DAYS} days."
    )


def logs_prune(*, now=None, batch_size=None):
    """Prune every kind past its period; returns {kind: rows pruned}."""
    now = now or timezone.now()
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    days = timedelta(days=1)
    pruned = {
        "succeeded_deliveries": deliveries_prune(
            status=Delivery.Status.SUCCEEDED,
            finished_before=now - settings.RETENTION_SUCCEEDED_DELIVERY_DAYS * days,
            batch_size=batch_size,
        ),
        "failed_deliveries": deliveries_prune(
            status=Delivery.Status.FAILED,
            finished_before=now - settings.RETENTION_FAILED_DELIVERY_DAYS * days,
            batch_size=batch_size,
        ),
        "inbound_requests": inbound_requests_prune(
            received_before=now - settings.RETENTION_INBOUND_REQUEST_DAYS * days, batch_size=batch_size
        ),
        "inbound_bodies": inbound_bodies_prune(
            received_before=now - settings.RETENTION_INBOUND_BODY_DAYS * days, batch_size=batch_size
        ),
        "inbound_samples": 0,
    }
    if settings.RETENTION_INBOUND_SAMPLE_DAYS:
        pruned["inbound_samples"] = inbound_samples_prune(
            captured_before=now - settings.RETENTION_INBOUND_SAMPLE_DAYS * days
        )
    return pruned


def _locked_batch(queryset, batch_size):
    """The next batch's ids, locked on PostgreSQL (rows another transaction holds are left
    for the next run), by an index range scan: no ORDER BY, so nothing is sorted."""
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    return list(queryset.order_by().values_list("pk", flat=True)[:batch_size])


def deliveries_prune(*, status, finished_before, batch_size):
    """Delete finished deliveries of `status` (with their attempts) in batches.

    Each batch re-reads its rows under lock, so a delivery redelivered meanwhile (pending
    again) is left alone. Index: outbound_delivery (status, completed_at)."""
    old = Delivery.objects.filter(status=status, completed_at__lt=finished_before)
    pruned = 0
    while True:
        with transaction.atomic():
            ids = _locked_batch(old, batch_size)
            if not ids:
                return pruned
            # The attempts go with them (CASCADE: one DELETE per batch); only the ids are loaded.
            deleted = Delivery.objects.filter(pk__in=ids).only("pk").delete()[1]
            pruned += deleted.get(Delivery._meta.label, 0)


def inbound_requests_prune(*, received_before, batch_size):
    """Delete request-log rows in batches (index: received_at)."""
    old = InboundRequest.objects.filter(received_at__lt=received_before)
    pruned = 0
    while True:
        with transaction.atomic():
            ids = _locked_batch(old, batch_size)
            if not ids:
                return pruned
            pruned += InboundRequest.objects.filter(pk__in=ids).delete()[0]


def inbound_bodies_prune(*, received_before, batch_size):
    """Empty the bodies of older requests, keeping the rows (partial index on rows that
    still have a body, so the cleared ones are never read again)."""
    old = InboundRequest.objects.filter(received_at__lt=received_before).exclude(body="")
    pruned = 0
    while True:
        with transaction.atomic():
            ids = _locked_batch(old, batch_size)
            if not ids:
                return pruned
            pruned += InboundRequest.objects.filter(pk__in=ids).update(body="")


def inbound_samples_prune(*, captured_before):
    """Forget captured samples past their period (one per webhook: a single small UPDATE)."""
    return InboundWebhook.objects.filter(sample_captured_at__lt=captured_before).update(
        sample_body="", sample_captured_at=None
    )
