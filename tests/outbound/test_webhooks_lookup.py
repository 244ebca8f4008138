"""A status change reads its workspace's webhooks and, when the workspace had some at its last
change, the lead's snapshot in the same round trip. That guess never decides what is sent."""

import pytest

from leads.models import LeadStatus
from leads.services import lead_set_status
from tests.factories import LeadFactory
from webhooks.outbound.models import Delivery, OutboundWebhook
from webhooks.outbound.payload import lead_for_payload, lead_status_payload_build, payload_serialize

from .conftest import make_webhook

pytestmark = pytest.mark.django_db


def payload_of_a_single_change(event):
    return payload_serialize(lead_status_payload_build(event=event, lead=lead_for_payload(event.lead.pk)))


def test_a_workspace_that_loses_its_webhooks_gets_no_delivery_from_its_next_changes(workspace):
    webhook = make_webhook(workspace, "https://example.com/hook")
    lead = LeadFactory(workspace=workspace)
    lead_set_status(lead=lead, status=LeadStatus.OPPORTUNITY)  # the workspace is seen with a webhook
    OutboundWebhook.objects.filter(pk=webhook.pk).update(is_active=False)

    lead_set_status(lead=lead, status=LeadStatus.FOLLOW_UP)
    lead_set_status(lead=lead, status=LeadStatus.MEETING_BOOKED)

    assert Delivery.objects.count() == 1


def test_a_workspace_that_gains_a_webhook_gets_a_delivery_from_its_next_change(workspace):
    lead = LeadFactory(workspace=workspace)
    lead_set_status(lead=lead, status=LeadStatus.OPPORTUNITY)  # seen without webhooks
    webhook = make_webhook(workspace, "https://example.com/hook")

    event = lead_set_status(lead=lead, status=LeadStatus.FOLLOW_UP)

    delivery = Delivery.objects.get()
    assert delivery.webhook_id == webhook.pk
    assert bytes(delivery.payload) == payload_of_a_single_change(event)


def test_each_change_of_a_workspace_with_webhooks_stores_its_own_snapshot(workspace):
    make_webhook(workspace, "https://example.com/hook")
    lead = LeadFactory(workspace=workspace)

    for status in [LeadStatus.OPPORTUNITY, LeadStatus.FOLLOW_UP, LeadStatus.MEETING_BOOKED]:
        event = lead_set_status(lead=lead, status=status)
        stored = Delivery.objects.filter(event_id=event.event_id).values_list("payload", flat=True).get()
        assert bytes(stored) == payload_of_a_single_change(event)
