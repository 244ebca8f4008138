"""Operator actions on outbound webhooks: rotate a secret, Send Test, redeliver, disable.

Writing the outbox is `outbox.py`; the rules of sending are `dispatch.py`; the concurrent
sender is `sender.py`.
"""

import enum
import uuid
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .dispatch import attempt_row, webhook_deactivate
from .http_client import webhook_post
from .models import TEST_EVENT_TYPE, Delivery, DeliveryAttempt, OutboundWebhook, WebhookNotice
from .notifications import webhook_stopped_notify
from .outbox import deliveries_enqueue_after_commit
from .payload import payload_serialize, sample_payload_build
from .signing import secret_generate

AUTO_DISABLE_AFTER = timedelta(days=5)
NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # "no success yet": before any delivery


class Redelivery(enum.StrEnum):
    """What a one-click redeliver did."""

    QUEUED = "queued"  # a finished delivery, queued again with a fresh retry budget
    DUE_NOW = "due_now"  # a delivery waiting for its next retry, made due now


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
            event_type=TEST_EVENT_TYPE,
            payload=body,
            is_test=True,
            status=Delivery.Status.SUCCEEDED if result.ok else Delivery.Status.FAILED,
            attempt_count=1,
            created_at=result.started_at,
            completed_at=timezone.now(),
            last_status_code=result.status_code,
            last_error=result.error_message[:1000],
        )
        DeliveryAttempt.objects.bulk_create([attempt_row(delivery, result)])
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

    A finished delivery is queued again with a fresh budget (QUEUED); one waiting for its
    next retry is made due now with the same budget (DUE_NOW), so an operator who fixed the
    receiver doesn't wait out the backoff. None for a test delivery or one in flight.
    """
    if delivery.is_test:
        return None
    if delivery.status in (Delivery.Status.SUCCEEDED, Delivery.Status.FAILED):
        return Redelivery.QUEUED if deliveries_redeliver(deliveries=[delivery]) else None
    if delivery.status != Delivery.Status.PENDING:
        return None  # in flight: a worker is sending it right now
    with transaction.atomic():
        moved = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
            next_attempt_at=timezone.now()
        )
        if moved:
            deliveries_enqueue_after_commit(ids=[delivery.pk])
    return Redelivery.DUE_NOW if moved else None


def deliveries_redeliver_failed_since(*, queryset, since):
    failed = list(queryset.filter(status=Delivery.Status.FAILED, is_test=False, created_at__gte=since))
    return deliveries_redeliver(deliveries=failed)


def webhooks_disable_failing(*, now=None):
    """Disable webhooks whose real deliveries have all failed for AUTO_DISABLE_AFTER.

    Per active webhook, two index lookups instead of an aggregate over every delivery: its
    latest success (`delivery_webhook_status_done`, read backwards) and its first failure
    created after that success (`delivery_webhook_status_created`, read forwards)."""
    now = now or timezone.now()
    cutoff = now - AUTO_DISABLE_AFTER
    real = Delivery.objects.filter(webhook=OuterRef("pk"), is_test=False)
    last_success = real.filter(status=Delivery.Status.SUCCEEDED, completed_at__isnull=False).order_by(
        "-completed_at"
    )
    first_failure = real.filter(
        status=Delivery.Status.FAILED, created_at__gt=Coalesce(OuterRef("last_success"), Value(NEVER))
    ).order_by("created_at")
    failing = (
        OutboundWebhook.objects.filter(is_active=True)
        .annotate(last_success=Subquery(last_success.values("completed_at")[:1]))
        .annotate(first_failure=Subquery(first_failure.values("created_at")[:1]))
        .filter(first_failure__lte=cutoff)
    )
    disabled = []
    for webhook in failing:
        reason = (
            f"Disabled automatically on {now:%Y-%m-%d %H:%M} UTC: every delivery since "
            f"{webhook.first_failure:%Y-%m-%d %H:%M} UTC failed (5 days)."
        )
        webhook_deactivate(webhook=webhook, reason=reason)
        webhook_stopped_notify(webhook_id=webhook.pk, kind=WebhookNotice.Kind.DISABLED, reason=reason)
        disabled.append(webhook.pk)
    return disabled
