"""The rules of sending: which deliveries go next (claims), what an attempt counts as, and
what an outcome changes (the retry schedule, the circuit breaker). `sender.py` runs the
requests; this module only reads and writes the database.

A claim is a lease: `claimed_until` is renewed by the live sender (`leases_renew`), so a
killed worker's deliveries are claimable again one lease later. Claiming does not use up an
attempt: `deliveries_start` counts it, and writes its attempt row, just before the request
leaves. A worker that dies after that leaves the row behind; the next claim closes it as
"WorkerLost" (the request may have reached the receiver).
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value, When, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from . import metrics
from .http_client import DeliveryResult
from .models import (
    BREAKER_THRESHOLD,
    Delivery,
    DeliveryAttempt,
    OutboundWebhook,
    WebhookNotice,
    breaker_pause,
)
from .notifications import webhook_stopped_notify, webhooks_failing_enqueue

OUTCOME_FIELDS = ("status", "next_attempt_at", "completed_at", "last_status_code", "last_error")
WORKER_LOST = "The worker stopped during this attempt; whether the receiver got it is unknown."


def lease_length():
    return timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


@dataclass
class Claim:
    """Deliveries one claim took: `to_send` (attempt started, send them now) and `unsent`
    (finished without a request: webhook disabled, budget spent) with their results."""

    token: str
    to_send: list = field(default_factory=list)
    unsent: list = field(default_factory=list)

    def __len__(self):
        return len(self.to_send) + len(self.unsent)


def _blocked_by_earlier(now):
    """With "deliver in order": an earlier delivery of the same lead is not finished."""
    earlier = Delivery.objects.filter(
        webhook_id=OuterRef("webhook_id"),
        lead_id=OuterRef("lead_id"),
        pk__lt=OuterRef("pk"),
        status__in=[Delivery.Status.PENDING, Delivery.Status.IN_FLIGHT],
    )
    return Q(webhook__deliver_in_order=True, lead__isnull=False) & Q(Exists(earlier))


def _room_per_webhook(candidates, now):
    """How many more requests each endpoint with due work may have in flight right now.

    Its cap (the webhook's own, else the default) less its live claims; an endpoint held
    back by the breaker gets none until its pause ends, then one (the probe).
    """
    live = (
        Delivery.objects.filter(
            webhook_id=OuterRef("pk"), status=Delivery.Status.IN_FLIGHT, claimed_until__gte=now
        )
        .order_by()
        .values("webhook_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    webhooks = (
        OutboundWebhook.objects.filter(pk__in=candidates.values("webhook_id"))
        .annotate(live=Coalesce(Subquery(live, output_field=IntegerField()), 0))
        .only("max_in_flight", "consecutive_failures", "paused_until")
    )
    room = {}
    for webhook in webhooks:  # one query: the endpoints with due work and their live claims
        if webhook.breaker_open and webhook.paused_until and webhook.paused_until > now:
            continue
        cap = 1 if webhook.breaker_open else webhook.concurrency_limit
        if cap - webhook.live > 0:
            room[webhook.pk] = cap - webhook.live
    return room


def _fair_selection(candidates, room, limit):
    """Up to `limit` ids, at most room[w] per endpoint, interleaved: each endpoint's oldest
    first, then each one's second oldest, and so on (no endpoint waits behind another's
    backlog)."""
    rank = Window(RowNumber(), partition_by=[F("webhook_id")], order_by=[F("next_attempt_at"), F("pk")])
    allowed = Case(
        *[When(webhook_id=webhook_id, then=Value(n)) for webhook_id, n in room.items()],
        default=Value(0),
        output_field=IntegerField(),
    )
    ranked = (
        candidates.filter(webhook_id__in=room)
        .annotate(rank=rank, allowed=allowed)
        .filter(rank__lte=F("allowed"))
        .order_by("rank", "next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    return list(ranked)


@transaction.atomic
def deliveries_claim(*, limit, ids=None):
    """Claim up to `limit` deliveries (of `ids`, or any due), fairly between endpoints.

    The selection is read first, then one UPDATE takes the rows that are still claimable;
    on PostgreSQL the rows another worker is claiming are skipped (`SKIP LOCKED`), on SQLite
    the statement is one write transaction and re-checks the condition. Two workers never
    claim one row; per-endpoint caps are counted from live claims, so two workers claiming
    at the same instant may exceed a cap briefly, never by more than one claim's share.
    """
    now = timezone.now()
    candidates = Delivery.objects.claimable(now).exclude(_blocked_by_earlier(now))
    if ids is not None:
        candidates = candidates.filter(pk__in=ids)
    room = _room_per_webhook(candidates, now)
    if not room:
        return Claim(token=None)
    selected = _fair_selection(candidates, room, limit)
    if not selected:
        return Claim(token=None)
    # Locked first, in id order (two claims lock in the same order), then updated by id: as a
    # subquery of the UPDATE, PostgreSQL re-ran the locking scan once per due row.
    rows = Delivery.objects.filter(pk__in=selected).order_by("pk")
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True)
    locked = list(rows.values_list("pk", flat=True))
    token = uuid.uuid4()
    # The claim counts the attempt (given back in _plan for a delivery that is not sent).
    claimed = (
        Delivery.objects.claimable(now)
        .filter(pk__in=locked)
        .update(
            status=Delivery.Status.IN_FLIGHT,
            claim_token=token,
            claimed_until=now + lease_length(),
            attempt_count=F("attempt_count") + 1,
        )
    )
    if not claimed:
        return Claim(token=None)
    left_open = DeliveryAttempt.objects.filter(delivery_id=OuterRef("pk"), in_progress=True)
    deliveries = list(
        Delivery.objects.filter(claim_token=token)
        .select_related("webhook")
        .annotate(left_open=Exists(left_open))
    )
    _close_lost_attempts([delivery for delivery in deliveries if delivery.left_open])
    return _plan(token, deliveries, now)


def _close_lost_attempts(deliveries):
    """Attempts a dead worker left open: the request may have gone out; the outcome is unknown."""
    if deliveries:
        DeliveryAttempt.objects.filter(delivery__in=deliveries, in_progress=True).update(
            in_progress=False, error_class="WorkerLost", error_message=WORKER_LOST
        )


def _plan(token, deliveries, now):
    claim = Claim(token=token)
    for delivery in deliveries:
        reason = _reason_not_to_send(delivery)
        if reason:
            claim.unsent.append((delivery, _unsent_result(delivery.webhook, *reason, now)))
        else:
            claim.to_send.append(delivery)
    deliveries_start(claim.to_send, now)
    if claim.unsent:
        unsent = [delivery for delivery, _ in claim.unsent]
        Delivery.objects.filter(pk__in=[d.pk for d in unsent]).update(attempt_count=F("attempt_count") - 1)
        for delivery in unsent:
            delivery.attempt_count -= 1
        deliveries_record(token, claim.unsent)
    return claim


def _reason_not_to_send(delivery):
    webhook = delivery.webhook
    if not webhook.is_active:
        return f"Not sent: the webhook is disabled. {webhook.disabled_reason}".strip(), "WebhookDisabled"
    if delivery.attempts_left < 0:  # the claim has already counted this attempt
        # Its attempts all started and none recorded an outcome (workers died mid-send).
        return (
            f"Not sent: {delivery.attempt_count - 1} attempts were started without an outcome.",
            "AttemptsExhausted",
        )
    return None


def _unsent_result(webhook, message, error_class, now):
    return DeliveryResult(
        ok=False,
        retryable=False,
        started_at=now,
        duration_ms=0,
        request_url=webhook.url,
        error_class=error_class,
        error_message=message,
    )


def deliveries_start(deliveries, now):
    """Write each attempt's row before the request leaves, in the claim's transaction (which
    counted the attempts): one INSERT for the whole group."""
    if not deliveries:
        return
    attempts = DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery_id=delivery.pk,
            number=delivery.attempt_count,
            started_at=now,
            request_url=delivery.webhook.url[:2000],
            in_progress=True,
        )
        for delivery in deliveries
    )
    for delivery, attempt in zip(deliveries, attempts, strict=True):
        delivery.started_attempt_id = attempt.pk


def deliveries_record(token, results):
    """Write a group of outcomes in a few queries: deliveries with the same outcome share one
    UPDATE, limited to rows this claim still holds (if the lease was lost and another worker
    took a row, its outcome is theirs); the attempt rows are written either way: they
    happened. Also feeds the circuit breaker, honours 410 Gone, and queues the operators'
    notification when a delivery failed for good (one task after commit, off this path)."""
    if not results:
        return
    now = timezone.now()
    disable = {}
    failed_for_good = set()
    groups = defaultdict(list)
    for delivery, result in results:
        reason = delivery.apply_result(result, now)
        if reason:
            disable[delivery.webhook_id] = reason
        elif _failed_for_good(delivery, result):
            failed_for_good.add(delivery.webhook_id)
        groups[tuple(getattr(delivery, name) for name in OUTCOME_FIELDS)].append(delivery.pk)
    started = [d.started_attempt_id for d, _ in results if getattr(d, "started_attempt_id", None)]
    with transaction.atomic():
        for values, ids in groups.items():
            Delivery.objects.filter(pk__in=ids, claim_token=token).update(
                claim_token=None, claimed_until=None, **dict(zip(OUTCOME_FIELDS, values, strict=True))
            )
        DeliveryAttempt.objects.filter(pk__in=started).delete()
        DeliveryAttempt.objects.bulk_create(attempt_row(delivery, result) for delivery, result in results)
        breakers_record(results, now)
        for webhook_id, reason in disable.items():
            if webhook_deactivate(webhook=OutboundWebhook(pk=webhook_id), reason=reason):
                webhook_stopped_notify(webhook_id=webhook_id, kind=WebhookNotice.Kind.GONE, reason=reason)
        webhooks_failing_enqueue(webhook_ids=failed_for_good - disable.keys())
    metrics.deliveries_observe(results)  # in memory only: counters for /metrics


def _failed_for_good(delivery, result):
    """A real delivery with no attempt left (retries spent, or an answer not worth retrying);
    one not sent because its webhook is disabled says nothing new about the endpoint."""
    return (
        delivery.status == Delivery.Status.FAILED
        and not delivery.is_test
        and result.error_class != "WebhookDisabled"
    )


def attempt_row(delivery, result):
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


def breakers_record(results, now):
    """Network failures in a row hold an endpoint back; any answer from it closes the breaker.

    An HTTP error is an answer (the endpoint is up and quick to say no), so only timeouts and
    connection failures count: they are what ties up senders."""
    answered, failed = set(), defaultdict(int)
    for delivery, result in results:
        if result.status_code is not None:
            answered.add(delivery.webhook_id)
        elif result.network_failure:
            failed[delivery.webhook_id] += 1
    if answered:
        OutboundWebhook.objects.filter(pk__in=answered, consecutive_failures__gt=0).update(
            consecutive_failures=0, paused_until=None
        )
    for webhook_id, count in failed.items():
        if webhook_id in answered:
            continue
        webhook = OutboundWebhook.objects.filter(pk=webhook_id).only("consecutive_failures").first()
        if webhook is None:
            continue
        # Requests in flight together fail together: they open the breaker once (the first
        # pause); only failed probes, one at a time, double it.
        failures = webhook.consecutive_failures + count
        if not webhook.breaker_open:
            failures = min(failures, BREAKER_THRESHOLD)
        changes = {"consecutive_failures": failures}
        if failures >= BREAKER_THRESHOLD:
            changes["paused_until"] = now + breaker_pause(failures)
        OutboundWebhook.objects.filter(pk=webhook_id).update(**changes)


@transaction.atomic
def deliveries_release(token, deliveries):
    """Give claimed but unsent deliveries back at once: the claim counted their attempts and
    wrote their rows, so both are undone (no request left, no attempt was used)."""
    held = Delivery.objects.filter(pk__in=[d.pk for d in deliveries], claim_token=token)
    DeliveryAttempt.objects.filter(delivery__in=held, in_progress=True).delete()
    held.update(
        status=Delivery.Status.PENDING,
        claim_token=None,
        claimed_until=None,
        attempt_count=F("attempt_count") - 1,
    )


def leases_renew(tokens):
    """The sender's heartbeat: its claims stay its own while it is alive."""
    if tokens:
        Delivery.objects.filter(claim_token__in=list(tokens), status=Delivery.Status.IN_FLIGHT).update(
            claimed_until=timezone.now() + lease_length()
        )


def webhook_deactivate(*, webhook, reason):
    """Returns whether this call deactivated it (False: it already was)."""
    return bool(
        OutboundWebhook.objects.filter(pk=webhook.pk, is_active=True).update(
            is_active=False, disabled_reason=reason[:500], disabled_at=timezone.now()
        )
    )
