"""Retention: old log rows are pruned in small batches; unfinished deliveries never are."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import (
    DeliveryAttemptFactory,
    DeliveryFactory,
    InboundRequestFactory,
    InboundWebhookFactory,
    OutboundWebhookFactory,
)
from webhooks.inbound.models import InboundRequest
from webhooks.outbound.models import Delivery, DeliveryAttempt
from webhooks.retention import logs_prune

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
# One per batch: a batch's attempts go in one statement (Django then deletes the deliveries
# themselves 100 ids per statement, inside the same transaction).
BATCH_DELETE = re.compile(r'^DELETE FROM "outbound_deliveryattempt"', re.IGNORECASE)


def finished(status, age, **extra):
    now = timezone.now()
    delivery = DeliveryFactory(status=status, created_at=now - age, completed_at=now - age, **extra)
    DeliveryAttemptFactory(delivery=delivery, started_at=now - age)
    return delivery


def received(age, **extra):
    request = InboundRequestFactory(body_size=32, **extra)
    InboundRequest.objects.filter(pk=request.pk).update(received_at=timezone.now() - age)
    return request


def test_finished_deliveries_past_their_period_go_with_their_attempts_and_younger_ones_stay():
    old_success = finished(Delivery.Status.SUCCEEDED, 31 * DAY)
    young_success = finished(Delivery.Status.SUCCEEDED, 29 * DAY)
    old_failure = finished(Delivery.Status.FAILED, 91 * DAY)
    young_failure = finished(Delivery.Status.FAILED, 31 * DAY)

    pruned = logs_prune()

    assert pruned["succeeded_deliveries"] == 1 and pruned["failed_deliveries"] == 1
    kept = set(Delivery.objects.values_list("pk", flat=True))
    assert kept == {young_success.pk, young_failure.pk}
    assert not DeliveryAttempt.objects.filter(delivery_id__in=[old_success.pk, old_failure.pk]).exists()
    assert DeliveryAttempt.objects.count() == 2


def test_pending_and_in_flight_deliveries_are_never_pruned_however_old():
    long_ago = timezone.now() - 400 * DAY
    webhook = OutboundWebhookFactory()
    retrying = DeliveryFactory(
        webhook=webhook, status=Delivery.Status.PENDING, created_at=long_ago, attempt_count=3
    )
    in_flight = DeliveryFactory(
        webhook=webhook, status=Delivery.Status.IN_FLIGHT, created_at=long_ago, claimed_until=long_ago
    )
    DeliveryAttemptFactory(delivery=retrying, started_at=long_ago, status_code=500)

    logs_prune()

    assert set(Delivery.objects.values_list("pk", flat=True)) == {retrying.pk, in_flight.pk}
    assert DeliveryAttempt.objects.filter(delivery=retrying).count() == 1


def test_a_redelivered_delivery_is_aged_from_its_new_completion_not_its_creation():
    delivery = finished(Delivery.Status.SUCCEEDED, 200 * DAY)
    Delivery.objects.filter(pk=delivery.pk).update(completed_at=timezone.now() - DAY)

    logs_prune()

    assert Delivery.objects.filter(pk=delivery.pk).exists()


def test_pruning_deletes_in_batches_of_the_configured_size(settings):
    settings.RETENTION_BATCH_SIZE = 10
    webhook = OutboundWebhookFactory()
    for _ in range(25):
        finished(Delivery.Status.SUCCEEDED, 40 * DAY, webhook=webhook)

    with CaptureQueriesContext(connection) as captured:
        pruned = logs_prune()

    assert pruned["succeeded_deliveries"] == 25 and not Delivery.objects.exists()
    deletes = [query["sql"] for query in captured if BATCH_DELETE.match(query["sql"])]
    assert len(deletes) == 3  # 10 + 10 + 5, each in its own short transaction


def test_request_bodies_are_emptied_after_14_days_and_the_rows_deleted_after_90():
    webhook = InboundWebhookFactory()
    fresh = received(13 * DAY, webhook=webhook, workspace=webhook.workspace)
    older = received(15 * DAY, webhook=webhook, workspace=webhook.workspace)
    oldest = received(91 * DAY, webhook=webhook, workspace=webhook.workspace)

    pruned = logs_prune()

    assert pruned["inbound_bodies"] == 1 and pruned["inbound_requests"] == 1
    assert not InboundRequest.objects.filter(pk=oldest.pk).exists()
    older.refresh_from_db()
    fresh.refresh_from_db()
    assert older.body == "" and older.status_code == 201  # the metadata stays
    assert fresh.body == '{"email": "secret@example.com"}'


def test_a_captured_sample_is_forgotten_after_its_period(settings):
    settings.RETENTION_INBOUND_SAMPLE_DAYS = 30
    stale = InboundWebhookFactory(
        sample_body='{"email": "a@example.com"}', sample_captured_at=timezone.now() - 31 * DAY
    )
    recent = InboundWebhookFactory(
        sample_body='{"email": "b@example.com"}', sample_captured_at=timezone.now() - DAY
    )

    logs_prune()

    stale.refresh_from_db()
    recent.refresh_from_db()
    assert stale.sample_body == "" and stale.sample_captured_at is None
    assert recent.sample_body == '{"email": "b@example.com"}'


@pytest.mark.production_services
def test_a_hundred_thousand_old_deliveries_are_deleted_in_batches_of_five_thousand(settings):
    settings.RETENTION_BATCH_SIZE = 5000
    webhook = OutboundWebhookFactory()
    long_ago = timezone.now() - 100 * DAY
    Delivery.objects.bulk_create(
        (
            Delivery(
                webhook=webhook,
                event_id=f"old-{index}",
                payload=b"{}",
                status=Delivery.Status.FAILED if index % 10 == 0 else Delivery.Status.SUCCEEDED,
                created_at=long_ago,
                completed_at=long_ago,
            )
            for index in range(100_000)
        ),
        batch_size=5000,
    )
    unfinished = DeliveryFactory(webhook=webhook, status=Delivery.Status.PENDING, created_at=long_ago)

    with CaptureQueriesContext(connection) as captured:
        pruned = logs_prune()

    assert pruned["succeeded_deliveries"] + pruned["failed_deliveries"] == 100_000
    assert list(Delivery.objects.values_list("pk", flat=True)) == [unfinished.pk]
    deletes = [query for query in captured if BATCH_DELETE.match(query["sql"])]
    assert len(deletes) == 18 + 2  # 90,000 successes and 10,000 failures, 5,000 at a time
