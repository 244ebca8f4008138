"""With a real worker and broker: nothing is lost when the worker is killed or the broker
forgets its queue; the sweeper finishes every delivery, duplicates carry the same id."""

import json
import random
import time
from collections import Counter, defaultdict

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from leads.models import LeadStatus
from leads.services import lead_set_status
from tests.conftest import wait_until
from tests.factories import LeadFactory
from webhooks.outbound.models import Delivery, DeliveryAttempt
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


def sweep_until_all_finished(timeout=60, make_retries_due=False):
    """Stand in for beat: ring the sweeper every half second until nothing is left
    (and, with `make_retries_due`, skip the retry schedule's wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if make_retries_due:
            Delivery.objects.filter(status=Delivery.Status.PENDING).update(next_attempt_at=timezone.now())
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
    assert_every_post_has_its_attempt(receiver)
    return len(receiver.requests) - expected_count  # duplicates (allowed)


def assert_every_post_has_its_attempt(receiver):
    """Each attempt is counted once, and every request that reached the receiver is logged
    (a worker killed mid-send leaves its attempt row, closed as WorkerLost)."""
    posts = Counter(request.header("webhook-id") for request in receiver.requests)
    for delivery in Delivery.objects.annotate(rows=Count("attempts")):
        assert delivery.rows == delivery.attempt_count, delivery
        assert delivery.rows >= posts[delivery.event_id], (delivery, posts[delivery.event_id])
    assert not DeliveryAttempt.objects.filter(in_progress=True).exists()


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


@pytest.mark.django_db(transaction=True)
def test_a_sigterm_to_the_whole_worker_lets_requests_in_flight_finish_and_be_recorded(
    start_worker, receiver, workspace
):
    """A deploy stops the worker with SIGTERM to every process of it (systemd, Heroku, this
    fixture). The prefork children finish the requests they have in flight and record them;
    what they had not sent stays pending for the next worker: no attempt is left open as
    "WorkerLost", nothing waits out a lease, and nothing is sent twice."""
    receiver.default = Answer(delay=1.0)
    make_webhook(workspace, receiver.url)
    worker = start_worker(**WORKER_ENV)
    emit_changes(workspace, 30)
    wait_until(lambda: len(receiver.requests) >= 5, message="requests in flight")

    worker.stop()

    assert worker.process.returncode is not None
    sent = {request.header("webhook-id") for request in receiver.requests}
    assert (
        set(Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).values_list("event_id", flat=True))
        == sent
    )
    assert not Delivery.objects.filter(status=Delivery.Status.IN_FLIGHT).exists()
    assert not DeliveryAttempt.objects.filter(in_progress=True).exists()
    assert not DeliveryAttempt.objects.filter(error_class="WorkerLost").exists()
    receiver.default = Answer()
    start_worker(**WORKER_ENV)
    sweep_until_all_finished()
    assert assert_nothing_lost(receiver, 30) == 0


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


@pytest.mark.production_services
@pytest.mark.django_db(transaction=True)
def test_ordered_delivery_keeps_each_leads_order_through_retries_and_a_worker_kill(
    start_worker, receiver, workspace
):
    """A receiver that fails some first attempts and answers slowly; the worker is killed
    mid-run and replaced: each lead's events still arrive in the order of its changes."""
    rng = random.Random(11)

    def answer(request):
        return Answer(status=503 if rng.random() < 0.15 else 200, delay=rng.uniform(0.01, 0.08))

    receiver.respond = answer
    make_webhook(workspace, receiver.url, deliver_in_order=True)
    worker = start_worker(**WORKER_ENV)
    leads = LeadFactory.create_batch(12, workspace=workspace)
    sequence = [LeadStatus.OPPORTUNITY, LeadStatus.CONVERSATION, LeadStatus.MEETING_BOOKED]
    for status in sequence:
        for lead in leads:
            with transaction.atomic():
                lead_set_status(lead=lead, status=status)
    wait_until(lambda: len(receiver.requests) >= 12, message="deliveries to start")

    worker.kill()
    start_worker(**WORKER_ENV)
    Delivery.objects.filter(status=Delivery.Status.PENDING).update(next_attempt_at=timezone.now())
    sweep_until_all_finished(make_retries_due=True)

    received = defaultdict(list)
    for request in receiver.requests:
        body = json.loads(request.body)
        statuses = received[body["lead_id"]]
        if not statuses or statuses[-1] != body["new_lead_status"]:  # a resend repeats in place
            statuses.append(body["new_lead_status"])
    assert dict(received) == {lead.pk: list(sequence) for lead in leads}
    assert_every_post_has_its_attempt(receiver)
