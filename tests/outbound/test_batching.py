"""The doorbell drains a backlog in batches, never early, with constant queries per batch (P5)."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import LeadStatus
from leads.services import lead_set_status
from tests.factories import CampaignFactory, CustomFieldFactory, LeadFactory, MessageFactory, WorkspaceFactory
from webhooks.outbound import services
from webhooks.outbound.models import Delivery
from webhooks.outbound.tasks import deliver_webhooks

from .conftest import make_webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private")]


def change_statuses(leads, status=LeadStatus.OPPORTUNITY):
    for lead in leads:
        with transaction.atomic():
            lead_set_status(lead=lead, status=status)
    return list(Delivery.objects.order_by("pk").values_list("pk", flat=True))


def test_one_doorbell_also_sends_the_other_due_deliveries_and_later_doorbells_find_them_sent(
    workspace, receiver
):
    make_webhook(workspace, receiver.url)
    ids = change_statuses(LeadFactory.create_batch(5, workspace=workspace))

    assert deliver_webhooks(ids[:1]) == 5
    assert len(receiver.requests) == 5
    assert deliver_webhooks(ids[1:2]) == 0  # already sent: nothing is sent twice
    assert len(receiver.requests) == 5
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SUCCEEDED}


def test_a_doorbell_never_sends_a_retry_before_it_is_due(workspace, receiver):
    make_webhook(workspace, receiver.url)
    due, waiting = change_statuses(LeadFactory.create_batch(2, workspace=workspace))
    later = timezone.now() + timedelta(minutes=3)
    Delivery.objects.filter(pk=waiting).update(next_attempt_at=later)

    assert deliver_webhooks([due]) == 1
    [request] = receiver.requests
    assert request.header("webhook-id") == Delivery.objects.get(pk=due).event_id
    waiting_row = Delivery.objects.get(pk=waiting)
    assert waiting_row.status == Delivery.Status.PENDING and waiting_row.next_attempt_at == later


def queries_to_deliver(receiver, *, webhooks, leads, messages, custom_fields):
    workspace = WorkspaceFactory()
    campaign = CampaignFactory(workspace=workspace)
    for index in range(custom_fields):
        CustomFieldFactory(workspace=workspace, key=f"field_{index}")
    created = LeadFactory.create_batch(
        leads, workspace=workspace, custom_fields={f"field_{i}": i for i in range(custom_fields)}
    )
    for lead in created:
        MessageFactory.create_batch(messages, lead=lead, campaign=campaign)
    for index in range(webhooks):
        make_webhook(workspace, receiver.url, name=f"hook {index}")
    ids = change_statuses(created)
    with CaptureQueriesContext(connection) as captured:
        sent = deliver_webhooks(ids)
    assert sent == webhooks * leads
    return len(captured)


def test_queries_per_worker_batch_stay_constant_as_deliveries_webhooks_and_payloads_grow(receiver):
    small = queries_to_deliver(receiver, webhooks=1, leads=1, messages=1, custom_fields=1)
    Delivery.objects.update(status=Delivery.Status.SUCCEEDED)  # nothing left for the next fill
    large = queries_to_deliver(receiver, webhooks=5, leads=4, messages=20, custom_fields=15)
    assert small > 3  # the counting works
    assert small == large, (small, large)


def test_a_task_stops_at_one_deadline_across_its_batches_and_leaves_the_rest_due(
    workspace, receiver, settings, monkeypatch
):
    """A task with several batches stops sending once its deadline passes, whatever batch it
    is in, so the hard time limit never kills it mid-send; the rest stays due, unclaimed."""
    settings.WEBHOOK_DELIVERY_BATCH_SIZE = 2
    make_webhook(workspace, receiver.url)
    ids = change_statuses(LeadFactory.create_batch(5, workspace=workspace))
    clock = iter(range(1000))  # each reading of the monotonic clock is one second later
    monkeypatch.setattr(services.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(services, "delivery_deadline", lambda: 3)

    sent = deliver_webhooks(ids)

    assert 0 < sent < 5
    assert len(receiver.requests) == sent
    rest = Delivery.objects.exclude(status=Delivery.Status.SUCCEEDED)
    assert rest.count() == 5 - sent
    assert set(rest.values_list("status", flat=True)) == {Delivery.Status.PENDING}
    assert rest.filter(next_attempt_at__lte=timezone.now(), claim_token__isnull=True).count() == 5 - sent


def test_a_status_change_in_a_workspace_without_webhooks_never_loads_the_thread(workspace):
    lead = LeadFactory(workspace=workspace)
    MessageFactory.create_batch(3, lead=lead)
    make_webhook(WorkspaceFactory(), "https://hooks.example.com/elsewhere")  # another workspace's

    with CaptureQueriesContext(connection) as queries:
        lead_set_status(lead=lead, status=LeadStatus.OPPORTUNITY)

    assert not any("leads_message" in query["sql"] for query in queries.captured_queries)
    assert not Delivery.objects.exists()
