"""Telling a workspace's operators that a webhook stopped (auto-disabled, 410 Gone) or started
failing: a notice on Settings ▸ Webhooks until acknowledged, and an email at most once a day
per webhook.

The sender's hot path only queues: a disable writes its notice in the disabling transaction
(one row, a rare event) and the email goes out from a task after commit; a final failure
queues one task per recorded group, which decides off the hot path whether the webhook has
just started failing.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Max, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .models import ATTEMPT_SUCCEEDED, Delivery, DeliveryAttempt, OutboundWebhook, WebhookNotice

logger = logging.getLogger(__name__)

EMAIL_INTERVAL = timedelta(days=1)
LAST_ERRORS_SHOWN = 5


def webhook_stopped_notify(*, webhook_id, kind, reason):
    """Called in the transaction that disabled the webhook (auto-disable, 410): its notice
    goes up with the disable, and the email goes out from a task after commit."""
    notice = webhook_notice_raise(webhook_id=webhook_id, kind=kind, reason=reason)
    transaction.on_commit(lambda: _queue(notice_id=notice.pk))
    return notice


def webhook_notice_raise(*, webhook_id, kind, reason, now=None):
    """Put up the webhook's notice; a new one replaces an older one, acknowledged or not."""
    notice, _ = WebhookNotice.objects.update_or_create(
        webhook_id=webhook_id,
        defaults={
            "kind": kind,
            "reason": reason[:1000],
            "raised_at": now or timezone.now(),
            "acknowledged_at": None,
            "acknowledged_by": None,
        },
    )
    return notice


def webhooks_failing_enqueue(*, webhook_ids):
    """After commit, check whether these webhooks (each had a delivery fail for good) have
    just started failing (`webhooks_failing_notify`, in a task)."""
    if webhook_ids:
        ids = sorted(webhook_ids)
        transaction.on_commit(lambda: _queue(failing_webhook_ids=ids))


def _queue(*, notice_id=None, failing_webhook_ids=None):
    from .tasks import notify_webhook_operators

    try:
        notify_webhook_operators.delay(notice_id=notice_id, failing_webhook_ids=failing_webhook_ids)
    except Exception:
        # The notice (if any) is on the settings page; only its email is lost.
        logger.warning("Broker unavailable: operator notification not queued", exc_info=True)


def webhooks_failing_notify(*, webhook_ids, now=None):
    """A webhook starts failing when a delivery fails for good and nothing was raised about it
    since its last successful delivery; then its notice goes up and its operators are emailed.
    Returns the notices raised."""
    now = now or timezone.now()
    raised = []
    for webhook in OutboundWebhook.objects.filter(pk__in=webhook_ids, is_active=True).select_related(
        "notice"
    ):
        notice = getattr(webhook, "notice", None)
        if notice is not None:
            last_success = webhook.deliveries.filter(
                is_test=False, status=Delivery.Status.SUCCEEDED
            ).aggregate(at=Max("completed_at"))["at"]
            if last_success is None or notice.raised_at >= last_success:
                continue  # the same failing streak: already told
        reason = (
            f"Deliveries started failing on {now:%Y-%m-%d %H:%M} UTC: a delivery failed after all its "
            "attempts. The receiver's answers are below; the webhook is disabled after 5 days of failures."
        )
        notice = webhook_notice_raise(webhook_id=webhook.pk, kind=WebhookNotice.Kind.FAILING, reason=reason)
        webhook_notice_email(notice=notice, now=now)
        raised.append(notice)
    return raised


def webhook_notice_email(*, notice, now=None):
    """Email the workspace's operators about `notice`, unless they were emailed about this
    webhook in the last day. The claim is one conditional UPDATE, so of two workers racing
    only one sends. Returns the number of recipients emailed."""
    now = now or timezone.now()
    recipients = list(
        get_user_model()
        .objects.filter(memberships__workspace__outbound_webhooks=notice.webhook_id, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if not recipients:
        return 0
    claimed = (
        WebhookNotice.objects.filter(pk=notice.pk)
        .filter(Q(emailed_at__isnull=True) | Q(emailed_at__lte=now - EMAIL_INTERVAL))
        .update(emailed_at=now)
    )
    if not claimed:
        return 0
    webhook = notice.webhook
    context = {
        "notice": notice,
        "webhook": webhook,
        "last_errors": _last_errors(webhook),
        "webhook_url": settings.SITE_URL
        + reverse("admin:outbound_outboundwebhook_change", args=[webhook.pk]),
    }
    subject = f'LeadEngine: webhook "{webhook.name}" – {notice.get_kind_display().lower()}'
    try:
        send_mail(
            subject=subject,
            message=render_to_string("outbound/notice_email.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    except Exception:
        # Not sent: give the day's email back so the next notice (or a retry) can send it.
        WebhookNotice.objects.filter(pk=notice.pk, emailed_at=now).update(emailed_at=notice.emailed_at)
        raise
    return len(recipients)


def _last_errors(webhook):
    """The endpoint's latest failed attempts, newest first, as the operator reads them."""
    attempts = (
        DeliveryAttempt.objects.filter(delivery__webhook=webhook, in_progress=False)
        .exclude(ATTEMPT_SUCCEEDED)
        .order_by("-started_at", "-id")[:LAST_ERRORS_SHOWN]
    )
    return [
        {
            "at": attempt.started_at,
            "status_code": attempt.status_code,
            "error": attempt.error_message,
            "response": attempt.response_body[:200],
        }
        for attempt in attempts
    ]


def webhook_notice_acknowledge(*, notice, user):
    """The operator has read it: the banner goes; the next notice puts it back."""
    WebhookNotice.objects.filter(pk=notice.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=user
    )


def notices_open_for(*, workspaces):
    """The banners of Settings ▸ Webhooks: notices nobody has acknowledged yet."""
    return (
        WebhookNotice.objects.filter(webhook__workspace__in=workspaces, acknowledged_at__isnull=True)
        .select_related("webhook", "webhook__workspace")
        .order_by("-raised_at", "-id")
    )
