"""The doorbell drains a backlog in batches, never early, with constant queries per batch (P5)."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import LeadStatus
from leads.services import lead_set_status
from tests.factories import LeadFactory, MessageFactory, WorkspaceFactory
from webhooks.outbound import sender
from webhooks.outbound.models import Delivery
from webhooks.outbound.receiver import Answer
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


def test_a_doorbell_for_sent_deliveries_right_after_an_empty_claim_ends_without_claiming_again(
    workspace, receiver, monkeypatch, settings
):
    """Under a backlog every committed change rings a doorbell, and most find their rows sent
    by the run that is draining: such a doorbell ends after one claim when this process has
    just found nothing else to send, instead of claiming again for nothing (the second
    worker process used to spin on empty claims). Its own deliveries are never skipped.
    (Doorbells one per commit: a shared doorbell always looks further, test_doorbells.py.)"""
    settings.WEBHOOK_DOORBELL_COALESCE = False
    make_webhook(workspace, receiver.url)
    [sent] = change_statuses(LeadFactory.create_batch(1, workspace=workspace))
    assert deliver_webhooks([sent]) == 1
    assert deliver_webhooks([]) == 0  # this process finds nothing to send
    [_, due] = change_statuses(LeadFactory.create_batch(1, workspace=workspace))

    with CaptureQueriesContext(connection) as queries:
        assert deliver_webhooks([sent]) == 0
    claims = [query for query in queries if "claim_token" in query["sql"] and "UPDATE" in query["sql"]]
    assert len(claims) == 1
    assert Delivery.objects.get(pk=due).status == Delivery.Status.PENDING
    assert deliver_webhooks([due]) == 1  # its own doorbell sends it

    [_, _, later] = change_statuses(LeadFactory.create_batch(1, workspace=workspace))
    monkeypatch.setattr(sender, "EMPTY_DOORBELL_QUIET", 0)  # found nothing long ago
    assert deliver_webhooks([sent]) == 1  # looks for other work, and sends it
    assert Delivery.objects.get(pk=later).status == Delivery.Status.SUCCEEDED


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


def test_a_task_stops_claiming_when_its_send_window_closes_and_leaves_the_rest_due(
    workspace, receiver, settings
):
    """A task hands over to the next one after its window, so the hard time limit never kills
    it mid-send; what it did not claim stays due and unclaimed, with no attempt used."""
    settings.WEBHOOK_SEND_WINDOW_SECONDS = 1
    receiver.default = Answer(delay=0.3)
    make_webhook(workspace, receiver.url, max_in_flight=1)  # one request at a time
    ids = change_statuses(LeadFactory.create_batch(8, workspace=workspace))

    sent = deliver_webhooks(ids)

    assert 0 < sent < 8
    assert len(receiver.requests) == sent
    rest = Delivery.objects.exclude(status=Delivery.Status.SUCCEEDED)
    assert rest.count() == 8 - sent
    assert set(rest.values_list("status", "attempt_count", "claim_token")) == {
        (Delivery.Status.PENDING, 0, None)
    }


def test_a_status_change_in_a_workspace_without_webhooks_never_loads_the_thread(workspace):
    lead = LeadFactory(workspace=workspace)
    MessageFactory.create_batch(3, lead=lead)
    make_webhook(WorkspaceFactory(), "https://hooks.example.com/elsewhere")  # another workspace's

    with CaptureQueriesContext(connection) as queries:
        lead_set_status(lead=lead, status=LeadStatus.OPPORTUNITY)

    assert not any("leads_message" in query["sql"] for query in queries.captured_queries)
    assert not Delivery.objects.exists()
