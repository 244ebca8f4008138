"""A bulk status change: one transaction, one event, one delivery per (lead, matching webhook),
the bytes a single change would store, and a constant number of queries."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from leads.events import lead_statuses_changed
from leads.models import LeadStatus
from leads.services import lead_set_status, leads_set_status
from tests.factories import CampaignFactory, CustomFieldFactory, LeadFactory, ListFactory, MessageFactory
from webhooks.outbound.models import Delivery
from webhooks.outbound.payload import lead_for_payload, lead_status_payload_build, payload_serialize

from .conftest import make_webhook

pytestmark = pytest.mark.django_db


def leads_with_threads(workspace, count, a_list):
    campaign = CampaignFactory(workspace=workspace)
    leads = []
    for index in range(count):
        lead = LeadFactory(workspace=workspace, custom_fields={"score": index})
        lead.campaigns.add(campaign)
        if index % 2 == 0:
            lead.lists.add(a_list)  # only these match the list-filtered webhook
        MessageFactory.create_batch(2, lead=lead, campaign=campaign)
        leads.append(lead)
    return leads


def test_bulk_change_writes_one_delivery_per_lead_and_matching_webhook_with_single_change_bytes(workspace):
    CustomFieldFactory(workspace=workspace, key="score", type="number")
    a_list = ListFactory(workspace=workspace)
    every_lead = make_webhook(workspace, "https://example.com/all", name="all")
    listed_only = make_webhook(workspace, "https://example.com/list", name="list", lists=[a_list])
    make_webhook(workspace, "https://example.com/other", name="other", statuses=[LeadStatus.FOLLOW_UP])
    leads = leads_with_threads(workspace, 6, a_list)

    with transaction.atomic():
        events = leads_set_status(leads=leads, status=LeadStatus.OPPORTUNITY)

    deliveries = list(Delivery.objects.order_by("lead_id", "webhook_id"))
    assert sorted((d.lead_id, d.webhook_id) for d in deliveries) == sorted(
        [(lead.pk, every_lead.pk) for lead in leads] + [(lead.pk, listed_only.pk) for lead in leads[::2]]
    )
    for event in events:
        single = payload_serialize(
            lead_status_payload_build(event=event, lead=lead_for_payload(event.lead.pk))
        )
        stored = {bytes(d.payload) for d in deliveries if d.lead_id == event.lead.pk}
        assert stored == {single}


def test_bulk_change_publishes_one_batch_event_and_skips_leads_that_have_the_status(workspace):
    leads = LeadFactory.create_batch(3, workspace=workspace)
    lead_set_status(lead=leads[0], status=LeadStatus.OPPORTUNITY)
    batches = []

    def receiver(sender, events, **kwargs):
        batches.append(events)

    lead_statuses_changed.connect(receiver)
    try:
        events = leads_set_status(leads=leads, status=LeadStatus.OPPORTUNITY)
    finally:
        lead_statuses_changed.disconnect(receiver)

    assert [[event.lead.pk for event in batch] for batch in batches] == [[leads[1].pk, leads[2].pk]]
    assert [event.previous_status for event in events] == [None, None]
    for lead in leads:
        lead.refresh_from_db()
        assert [entry["value"] for entry in lead.lead_status_history] == ["Opportunity"]


def queries_for_bulk_change(workspace, count):
    a_list = ListFactory(workspace=workspace)
    leads = leads_with_threads(workspace, count, a_list)
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        leads_set_status(leads=leads, status=LeadStatus.MEETING_BOOKED)
    assert Delivery.objects.filter(lead__in=leads).count() == count
    return len(captured)


def test_bulk_change_uses_the_same_number_of_queries_for_2_and_40_leads(workspace):
    CustomFieldFactory(workspace=workspace, key="score", type="number")
    make_webhook(workspace, "https://example.com/all")
    small = queries_for_bulk_change(workspace, 2)
    large = queries_for_bulk_change(workspace, 40)
    assert small == large, (small, large)


@pytest.mark.production_services
def test_a_bulk_change_of_150_leads_stores_each_payload_as_a_single_change_would(workspace):
    # 150 deliveries in one PostgreSQL unnest() insert (every insert there takes it)
    CustomFieldFactory(workspace=workspace, key="score", type="number")
    webhook = make_webhook(workspace, "https://example.com/all")
    leads = leads_with_threads(workspace, 150, ListFactory(workspace=workspace))

    with transaction.atomic():
        events = leads_set_status(leads=leads, status=LeadStatus.WRONG_CONTACT)

    stored = {d.lead_id: bytes(d.payload) for d in Delivery.objects.filter(webhook=webhook)}
    assert len(stored) == len(events) == 150
    for event in events:
        single = lead_status_payload_build(event=event, lead=lead_for_payload(event.lead.pk))
        assert stored[event.lead.pk] == payload_serialize(single)
