"""Outbound webhook writes: the outbox, claiming, sending, recording, operator actions.

Delivery state lives in the database; Celery is only the doorbell. A committed status
change writes its Delivery rows in the same transaction, rings the doorbell after commit,
and the sweeper finds anything the broker lost or a dead worker left claimed.
"""

import logging
import threading
import time
import uuid
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from .http_client import DeliveryResult, webhook_post
from .models import Delivery, DeliveryAttempt, OutboundWebhook
from .payload import lead_for_payload, lead_status_payload_build, payload_serialize, sample_payload_build
from .retry import retry_delay
from .signing import secret_generate

logger = logging.getLogger(__name__)
AUTO_DISABLE_AFTER = timedelta(days=5)
# Outcomes are written in groups this size, so a crash resends at most this many.
RECORD_EVERY = 25


# --- Writing the outbox ----------------------------------------------------------------


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


_local = threading.local()


def deliveries_enqueue_after_commit(*, ids):
    """Ring the doorbell once per committed transaction, with every delivery id it created.

    The pending batch is tied to the on_commit callback; if that callback was discarded (a
    rollback), a new batch starts.
    """
    batch = getattr(_local, "batch", None)
    registered = batch is not None and any(
        callback is batch["flush"] for _, callback, _ in connection.run_on_commit
    )
    if not registered or not connection.in_atomic_block:
        batch = {"ids": []}

        def flush(batch=batch):
            if _local.__dict__.get("batch") is batch:
                _local.batch = None
            deliveries_ring_doorbell(ids=batch["ids"])

        batch["flush"] = flush
        _local.batch = batch
        batch["ids"].extend(ids)
        transaction.on_commit(flush)
        return
    batch["ids"].extend(ids)


def deliveries_ring_doorbell(*, ids):
    """Hand ids to a worker. A broker failure is logged, not raised: the rows are committed
    and the sweeper sends them within one interval, so the caller's request still succeeds."""
    from .tasks import deliver_webhooks

    try:
        deliver_webhooks.delay(ids)
    except Exception:
        logger.warning("Broker unavailable: %d deliveries left to the sweeper", len(ids), exc_info=True)


# --- Claiming, sending, recording --------------------------------------------------------


def _claim_timeout():
    return timedelta(seconds=settings.WEBHOOK_CLAIM_TIMEOUT_SECONDS)


@transaction.atomic
def deliveries_claim(*, ids=None, limit):
    """Claim up to `limit` claimable deliveries (of `ids`, or any due) for this worker.

    One UPDATE whose subquery picks the rows: PostgreSQL skips rows another worker holds
    (`FOR UPDATE SKIP LOCKED`); SQLite runs the statement as one write transaction, and the
    outer filter re-checks the claim condition, so two workers never claim one row. Then one
    SELECT reads the batch; the claim commits before any network I/O.
    """
    now = timezone.now()
    candidates = Delivery.objects.claimable(now)
    if ids is not None:
        candidates = candidates.filter(pk__in=ids)
    if ids is None or len(ids) > limit:
        # Oldest first. Not for a doorbell's own ids: ORDER BY + LIMIT there made PostgreSQL
        # walk the due index past the whole backlog to find them (py-spy, docs/benchmarks.md).
        candidates = candidates.order_by("next_attempt_at", "pk")[:limit]
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True)
    token = uuid.uuid4()
    claimed = (
        Delivery.objects.claimable(now)
        .filter(pk__in=candidates.values("pk"))
        .update(
            status=Delivery.Status.IN_FLIGHT,
            claim_token=token,
            claimed_until=now + _claim_timeout(),
            attempt_count=F("attempt_count") + 1,
        )
    )
    if not claimed:
        return []
    return list(Delivery.objects.filter(claim_token=token).select_related("webhook"))


def _release(token, deliveries):
    """Give unsent claims back (the batch ran out of lease time)."""
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries], claim_token=token).update(
        status=Delivery.Status.PENDING,
        claim_token=None,
        claimed_until=None,
        attempt_count=F("attempt_count") - 1,
    )


def _apply_result(delivery, result, now):
    """Move one delivery on after an attempt; returns a reason to disable its webhook, if any."""
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error_message[:1000]
    if result.ok:
        delivery.status, delivery.next_attempt_at, delivery.completed_at = (
            Delivery.Status.SUCCEEDED,
            None,
            now,
        )
        return None
    delay = None
    if result.retryable:
        retry_number = delivery.attempt_count - delivery.budget_start
        delay = retry_delay(
            retry_number=retry_number, retry_after=result.retry_after, status_code=result.status_code
        )
    if delay is None:
        delivery.status, delivery.next_attempt_at, delivery.completed_at = Delivery.Status.FAILED, None, now
    else:
        delivery.status, delivery.next_attempt_at = Delivery.Status.PENDING, now + delay
    if result.gone:
        return f"The destination answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC: it asked us to stop sending."
    return None


OUTCOME_FIELDS = ("status", "next_attempt_at", "completed_at", "last_status_code", "last_error")


def _record(token, claimed_results):
    """Write attempts and outcomes of a group of sends in a few queries.

    Deliveries with the same outcome (typically "succeeded, 200") share one UPDATE; each
    UPDATE is limited to rows still held by this claim, so if our lease expired and another
    worker took a row, its outcome is theirs to write. The attempt is recorded either way:
    it happened.
    """
    if not claimed_results:
        return
    now = timezone.now()
    disable = {}
    groups = defaultdict(list)
    for delivery, result in claimed_results:
        reason = _apply_result(delivery, result, now)
        if reason:
            disable[delivery.webhook_id] = reason
        groups[tuple(getattr(delivery, name) for name in OUTCOME_FIELDS)].append(delivery.pk)
    with transaction.atomic():
        for values, ids in groups.items():
            Delivery.objects.filter(pk__in=ids, claim_token=token).update(
                claim_token=None, claimed_until=None, **dict(zip(OUTCOME_FIELDS, values, strict=True))
            )
        DeliveryAttempt.objects.bulk_create(
            _attempt_row(delivery, result) for delivery, result in claimed_results
        )
        for webhook_id, reason in disable.items():
            webhook_deactivate(webhook=OutboundWebhook(pk=webhook_id), reason=reason)


def _attempt_row(delivery, result):
    return DeliveryAttempt(
        delivery_id=delivery.pk,
        number=delivery.attempt_count,
        started_at=result.started_at,
        duration_ms=result.duration_ms,
        request_url=result.request_url[:2000],
        status_code=result.status_code,
        response_headers=result.response_headers,
        response_body=result.response_body,
        error_class=result.error_class,
        error_message=result.error_message[:1000],
    )


def _unsent_result(webhook, message, error_class):
    return DeliveryResult(
        ok=False,
        retryable=False,
        started_at=timezone.now(),
        duration_ms=0,
        request_url=webhook.url,
        error_class=error_class,
        error_message=message,
    )


def _reason_not_to_send(delivery, disabled_webhooks):
    webhook = delivery.webhook
    if not webhook.is_active or webhook.pk in disabled_webhooks:
        message = f"Not sent: the webhook is disabled. {webhook.disabled_reason}".strip()
        return _unsent_result(webhook, message, "WebhookDisabled")
    if delivery.attempts_left < 0:
        # Claimed again and again by workers that died before recording (a poison delivery).
        message = f"Not sent: {delivery.attempt_count} attempts were claimed without an outcome."
        return _unsent_result(webhook, message, "AttemptsExhausted")
    return None


def delivery_deadline():
    """When a task must stop sending: half the claim lease from now, so its claims never
    expire under it (a double send) and the task's hard time limit never kills it mid-batch."""
    return time.monotonic() + settings.WEBHOOK_CLAIM_TIMEOUT_SECONDS / 2


def deliveries_send(*, deliveries, deadline=None):
    """POST each claimed delivery (one claim) and record outcomes in groups; returns the count.

    Past the `deadline` (time.monotonic()), the rest is released unsent for the next claim."""
    token = deliveries[0].claim_token
    deadline = deadline or delivery_deadline()
    pending_records = []
    disabled_webhooks = set()
    for index, delivery in enumerate(deliveries):
        if time.monotonic() > deadline:
            _record(token, pending_records)
            _release(token, deliveries[index:])
            return index
        webhook = delivery.webhook
        result = _reason_not_to_send(delivery, disabled_webhooks)
        if result is None:
            result = webhook_post(
                url=webhook.url,
                body=bytes(delivery.payload),
                msg_id=delivery.event_id,
                secrets=webhook.signing_secrets(),
            )
            if result.gone:
                disabled_webhooks.add(webhook.pk)
        pending_records.append((delivery, result))
        if len(pending_records) >= RECORD_EVERY:
            _record(token, pending_records)
            pending_records = []
    _record(token, pending_records)
    return len(deliveries)


def deliveries_deliver(*, ids=None, limit=None, fill=False, deadline=None):
    """Claim and send deliveries (the given ids, or any due); returns how many were sent.

    `fill`: after sending the ids, use the room left in the batch for any other due
    deliveries, so a backlog of one-delivery doorbells (one per committed status change)
    drains in full batches, and the later doorbells, finding their rows already sent, go on
    draining. The ids go first: the fill never delays the delivery the doorbell was rung for.
    """
    limit = limit or settings.WEBHOOK_DELIVERY_BATCH_SIZE
    deadline = deadline or delivery_deadline()
    if time.monotonic() > deadline:
        return 0  # the rows stay due; the sweeper or another doorbell sends them
    claimed = deliveries_claim(ids=ids, limit=limit)
    sent = deliveries_send(deliveries=claimed, deadline=deadline) if claimed else 0
    if fill and ids is not None and len(claimed) < limit and time.monotonic() < deadline:
        more = deliveries_claim(limit=limit - len(claimed))
        sent += deliveries_send(deliveries=more, deadline=deadline) if more else 0
    return sent


def deliveries_due_ids(*, limit):
    return list(
        Delivery.objects.claimable(timezone.now())
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- Operator actions --------------------------------------------------------------------


def webhook_deactivate(*, webhook, reason):
    OutboundWebhook.objects.filter(pk=webhook.pk, is_active=True).update(
        is_active=False, disabled_reason=reason[:500], disabled_at=timezone.now()
    )


@transaction.atomic
def webhook_rotate_secret(*, webhook):
    """New secret now; the old one keeps signing alongside it for 24 hours.

    The row is locked and re-read so two concurrent rotations cannot both demote the same
    secret (admin and API call this alike). Returns the rotated webhook."""
    from .models import SECRET_ROTATION_OVERLAP

    current = type(webhook).objects.select_for_update().only("secret").get(pk=webhook.pk)
    webhook.previous_secret = current.secret
    webhook.previous_secret_expires_at = timezone.now() + SECRET_ROTATION_OVERLAP
    webhook.secret = secret_generate()
    webhook.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return webhook


def webhook_send_test(*, webhook):
    """Send the article's sample now, without retries; log it as a test delivery.

    Returns (delivery, result). The row is written after the send, so a crash mid-send
    leaves nothing in flight for the sweeper to resend.
    """
    event_id = str(uuid.uuid4())
    body = payload_serialize(sample_payload_build(workspace=webhook.workspace, event_id=event_id))
    result = webhook_post(url=webhook.url, body=body, msg_id=event_id, secrets=webhook.signing_secrets())
    with transaction.atomic():
        delivery = Delivery.objects.create(
            webhook=webhook,
            event_id=event_id,
            event_type="lead.status_updated.test",
            payload=body,
            is_test=True,
            status=Delivery.Status.SUCCEEDED if result.ok else Delivery.Status.FAILED,
            attempt_count=1,
            created_at=result.started_at,
            completed_at=timezone.now(),
            last_status_code=result.status_code,
            last_error=result.error_message[:1000],
        )
        DeliveryAttempt.objects.bulk_create([_attempt_row(delivery, result)])
    return delivery, result


def deliveries_redeliver(*, deliveries):
    """Queue finished deliveries again (same bytes, same webhook-id) with a fresh retry budget."""
    ids = [
        delivery.pk
        for delivery in deliveries
        if delivery.status in (Delivery.Status.SUCCEEDED, Delivery.Status.FAILED)
    ]
    if not ids:
        return 0
    with transaction.atomic():
        count = Delivery.objects.filter(
            pk__in=ids, status__in=[Delivery.Status.SUCCEEDED, Delivery.Status.FAILED], is_test=False
        ).update(
            status=Delivery.Status.PENDING,
            next_attempt_at=timezone.now(),
            completed_at=None,
            budget_start=F("attempt_count"),
        )
        deliveries_enqueue_after_commit(ids=ids)
    return count


def delivery_redeliver(*, delivery):
    """One-click redeliver (admin and API alike).

    A finished delivery is queued again with a fresh budget ("queued"); one waiting for its
    next retry is made due now with the same budget ("due_now"), so an operator who fixed the
    receiver doesn't wait out the backoff. None for a test delivery or one in flight.
    """
    if delivery.is_test:
        return None
    if delivery.status in (Delivery.Status.SUCCEEDED, Delivery.Status.FAILED):
        return "queued" if deliveries_redeliver(deliveries=[delivery]) else None
    if delivery.status != Delivery.Status.PENDING:
        return None  # in flight: a worker is sending it right now
    with transaction.atomic():
        moved = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
            next_attempt_at=timezone.now()
        )
        if moved:
            deliveries_enqueue_after_commit(ids=[delivery.pk])
    return "due_now" if moved else None


def deliveries_redeliver_failed_since(*, queryset, since):
    failed = list(queryset.filter(status=Delivery.Status.FAILED, is_test=False, created_at__gte=since))
    return deliveries_redeliver(deliveries=failed)


def webhooks_disable_failing(*, now=None):
    """Disable webhooks whose real deliveries have all failed for AUTO_DISABLE_AFTER."""
    now = now or timezone.now()
    cutoff = now - AUTO_DISABLE_AFTER
    real = Q(deliveries__is_test=False)
    candidates = OutboundWebhook.objects.filter(is_active=True).annotate(
        last_success=Max(
            "deliveries__completed_at", filter=real & Q(deliveries__status=Delivery.Status.SUCCEEDED)
        ),
        first_failure=Min(
            "deliveries__created_at", filter=real & Q(deliveries__status=Delivery.Status.FAILED)
        ),
    )
    disabled = []
    for webhook in candidates.filter(first_failure__lte=cutoff):
        failures_since_success = webhook.deliveries.filter(is_test=False, status=Delivery.Status.FAILED)
        if webhook.last_success:
            failures_since_success = failures_since_success.filter(created_at__gt=webhook.last_success)
        first = failures_since_success.aggregate(first=Min("created_at"))["first"]
        if first and first <= cutoff and (not webhook.last_success or webhook.last_success < first):
            reason = (
                f"Disabled automatically on {now:%Y-%m-%d %H:%M} UTC: every delivery since "
                f"{first:%Y-%m-%d %H:%M} UTC failed (5 days)."
            )
            webhook_deactivate(webhook=webhook, reason=reason)
            disabled.append(webhook.pk)
    return disabled


def demo_webhook_ensure(*, workspace):
    """The demo workspace's webhook, pointed at the local receiver (`webhook_receiver`)."""
    webhook, _ = OutboundWebhook.objects.get_or_create(
        workspace=workspace,
        name="Local receiver (demo)",
        defaults={
            "url": "http://127.0.0.1:8001/",
            "description": "Run `python manage.py webhook_receiver --port 8001` to watch deliveries arrive.",
        },
    )
    return webhook
