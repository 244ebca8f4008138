"""With a real worker and broker: nothing is lost when the worker is killed or the broker
forgets its queue; the sweeper finishes every delivery, duplicates carry the same id."""

import time
from collections import defaultdict

import pytest
import redis
from django.conf import settings
from django.db import transaction

from leads.models import LeadStatus
from leads.services import lead_set_status
from tests.conftest import wait_until
from tests.factories import LeadFactory
from webhooks.outbound.models import Delivery
from webhooks.outbound.receiver import Answer
from webhooks.outbound.tasks import deliver_due_webhooks

from .conftest import make_webhook

WORKER_ENV = {
    "WEBHOOK_ALLOW_PRIVATE_DESTINATIONS": "1",
    "WEBHOOK_LEASE_SECONDS": "3",
    "WEBHOOK_DELIVERY_BATCH_SIZE": "10",
}


def emit_changes(workspace, count):
    leads = LeadFactory.create_batch(count, workspace=workspace)
    for lead in leads:
        with transaction.atomic():
            lead_set_status(lead=lead, status=LeadStatus.OPPORTUNITY)
    return leads


def sweep_until_all_finished(timeout=60):
    """Stand in for beat: ring the sweeper every half second until nothing is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        unfinished = Delivery.objects.exclude(status__in=[Delivery.Status.SUCCEEDED, Delivery.Status.FAILED])
        if not unfinished.exists():
            return
        deliver_due_webhooks.delay()
        time.sleep(0.5)
    raise AssertionError(f"unfinished deliveries: {list(unfinished.values('id', 'status', 'attempt_count'))}")


def assert_nothing_lost(receiver, expected_count):
    deliveries = list(Delivery.objects.all())
    assert len(deliveries) == expected_count
    assert {delivery.status for delivery in deliveries} == {Delivery.Status.SUCCEEDED}
    seen = defaultdict(set)
    for request in receiver.requests:
        seen[request.header("webhook-id")].add(request.body)
    assert set(seen) == {delivery.event_id for delivery in deliveries}  # none lost, no phantom
    assert all(len(bodies) == 1 for bodies in seen.values())  # a duplicate is byte-identical
    assert all(delivery.attempt_count <= 6 for delivery in deliveries)
    return len(receiver.requests) - expected_count  # duplicates (allowed)


@pytest.mark.django_db(transaction=True)
def test_a_status_change_reaches_a_receiver_through_a_real_worker(start_worker, receiver, workspace):
    start_worker(**WORKER_ENV)
    make_webhook(workspace, receiver.url)
    emit_changes(workspace, 1)

    wait_until(lambda: Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).exists(), message="delivery")
    [request] = receiver.requests
    assert request.header("webhook-id") == Delivery.objects.get().event_id
    assert b'"new_lead_status":"Opportunity"' in request.body


@pytest.mark.production_services
@pytest.mark.django_db(transaction=True)
def test_sigkill_of_the_worker_mid_run_loses_no_delivery(start_worker, receiver, workspace):
    receiver.default = Answer(delay=0.02)
    make_webhook(workspace, receiver.url)
    worker = start_worker(**WORKER_ENV)
    emit_changes(workspace, 120)
    wait_until(lambda: len(receiver.requests) >= 20, message="deliveries to start")

    worker.kill()
    assert Delivery.objects.exclude(status=Delivery.Status.SUCCEEDED).exists()
    start_worker(**WORKER_ENV)
    sweep_until_all_finished()

    assert_nothing_lost(receiver, 120)


@pytest.mark.production_services
@pytest.mark.django_db(transaction=True)
def test_flushing_the_broker_mid_run_loses_no_delivery(start_worker, receiver, workspace):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)  # our own db number only
    receiver.default = Answer(delay=0.02)
    make_webhook(workspace, receiver.url)
    start_worker(**WORKER_ENV)
    emit_changes(workspace, 120)
    wait_until(lambda: len(receiver.requests) >= 10, message="deliveries to start")

    broker.flushdb()
    assert Delivery.objects.exclude(status=Delivery.Status.SUCCEEDED).exists()
    sweep_until_all_finished()

    assert_nothing_lost(receiver, 120)
