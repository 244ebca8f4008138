"""Claims: concurrent workers never take the same delivery; a late worker cannot overwrite."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from webhooks.outbound import dispatch, sender
from webhooks.outbound.http_client import DeliveryResult
from webhooks.outbound.models import Delivery, DeliveryAttempt

from .conftest import make_webhook


def pending_deliveries(webhook, count):
    return Delivery.objects.bulk_create(
        Delivery(
            webhook=webhook, event_id=str(i), payload=b"{}", next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC)
        )
        for i in range(count)
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_share_a_delivery(workspace, settings):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 1000  # no per-endpoint cap in the way
    webhook = make_webhook(workspace, "https://example.com/hook")
    pending_deliveries(webhook, 200)
    claims, errors = [], []

    def worker():
        try:
            while claim := dispatch.deliveries_claim(limit=7):
                claims.append([delivery.pk for delivery in claim.to_send])
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    claimed = [pk for batch in claims for pk in batch]
    assert len(claimed) == len(set(claimed)) == 200
    assert set(Delivery.objects.values_list("attempt_count", flat=True)) == {1}


@pytest.mark.django_db
def test_a_worker_whose_claim_expired_does_not_overwrite_the_new_owner(workspace, settings):
    settings.WEBHOOK_LEASE_SECONDS = 60
    webhook = make_webhook(workspace, "https://example.com/hook")
    [delivery] = pending_deliveries(webhook, 1)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        slow_claim = dispatch.deliveries_claim(limit=1)
        [slow] = slow_claim.to_send
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        fast_claim = dispatch.deliveries_claim(limit=1)
        [fast] = fast_claim.to_send
        failure = DeliveryResult(
            ok=False,
            retryable=False,
            started_at=start,
            duration_ms=1,
            request_url=webhook.url,
            status_code=400,
        )
        dispatch.deliveries_record(slow_claim.token, [(slow, failure)])

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.IN_FLIGHT and delivery.claim_token == fast_claim.token
    # the slow attempt happened and is logged; the fast one has started
    assert list(delivery.attempts.values_list("number", "status_code", "in_progress")) == [
        (1, 400, False),
        (2, None, True),
    ]


@pytest.mark.django_db
def test_reactivating_a_webhook_clears_the_disabled_reason(workspace):
    webhook = make_webhook(workspace, "https://example.com/hook", is_active=False, disabled_reason="410 Gone")
    webhook.is_active = True
    webhook.save()
    webhook.refresh_from_db()
    assert webhook.disabled_reason == "" and webhook.disabled_at is None


@pytest.mark.django_db
def test_a_delivery_claimed_six_times_without_outcome_fails_instead_of_looping(workspace, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    webhook = make_webhook(workspace, receiver.url)
    [delivery] = pending_deliveries(webhook, 1)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.IN_FLIGHT, attempt_count=6, claimed_until=datetime(2000, 1, 1, tzinfo=UTC)
    )

    sender.deliveries_deliver()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts.get().error_class == "AttemptsExhausted"
    assert receiver.requests == []


@pytest.mark.django_db
def test_a_claim_counts_and_starts_an_attempt_only_for_what_it_will_send(workspace):
    """A disabled webhook's delivery is written off unsent with no attempt counted; the other
    gets its attempt counted and its row started, and the attempt a dead worker left open on
    it is closed as lost (the new one is not)."""
    stale = datetime(2000, 1, 1, tzinfo=UTC)
    [sendable] = pending_deliveries(make_webhook(workspace, "https://example.com/on"), 1)
    off = make_webhook(workspace, "https://example.com/off", is_active=False, disabled_reason="410 Gone")
    [unsendable] = pending_deliveries(off, 1)
    Delivery.objects.filter(pk=sendable.pk).update(
        status=Delivery.Status.IN_FLIGHT, attempt_count=1, claimed_until=stale
    )
    DeliveryAttempt.objects.create(
        delivery=sendable, number=1, started_at=stale, request_url="https://example.com/on", in_progress=True
    )

    claim = dispatch.deliveries_claim(limit=10)

    [to_send] = claim.to_send
    assert (to_send.pk, to_send.attempt_count) == (sendable.pk, 2)
    assert list(sendable.attempts.values_list("number", "in_progress", "error_class")) == [
        (1, False, "WorkerLost"),
        (2, True, ""),
    ]
    assert to_send.started_attempt_id == sendable.attempts.get(number=2).pk
    unsendable.refresh_from_db()
    assert (unsendable.status, unsendable.attempt_count) == (Delivery.Status.FAILED, 0)
    assert unsendable.attempts.get().error_class == "WebhookDisabled"
