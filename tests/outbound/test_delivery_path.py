"""A committed status change reaches a receiver, signed, with the article's payload."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks
import svix.webhooks
import time_machine
from django.db import transaction

from leads.models import CustomField, LeadStatus, Message
from leads.services import lead_set_status
from tests.factories import CampaignFactory, CustomFieldFactory, LeadFactory, ListFactory, MessageFactory
from webhooks.outbound import sender, services
from webhooks.outbound.models import Delivery
from webhooks.outbound.services import webhook_rotate_secret

from .conftest import make_webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private")]

ARTICLE_KEYS = {
    "new_lead_status",
    "previous_lead_status",
    "lead_name",
    "lead_email_address",
    "workspace_name",
    "campaign_name",
    "customFields",
    "messages",
}
DOCUMENTED_EXTRAS = {"event_id", "event_type", "occurred_at", "lead_id"}


def change_status(lead, status, **kwargs):
    with transaction.atomic():
        return lead_set_status(lead=lead, status=status, **kwargs)


@pytest.fixture
def seeded_lead(workspace):
    campaign = CampaignFactory(workspace=workspace, name="My Super Performing Campaign")
    CustomFieldFactory(workspace=workspace, key="my_custom_number_field", type=CustomField.Type.NUMBER)
    CustomFieldFactory(workspace=workspace, key="unused_field")
    lead = LeadFactory(
        workspace=workspace,
        name="Elon Musk",
        first_name="Elon",
        last_name="Musk",
        business_email="elon@x.com",
        personal_email="elon@gmail.com",
        tags=["Prospect", "Cars"],
        custom_fields={"my_custom_number_field": 1},
    )
    lead.campaigns.add(campaign)
    MessageFactory(lead=lead, campaign=campaign, subject="Second", date=datetime(2025, 5, 6, 9, tzinfo=UTC))
    MessageFactory(
        lead=lead,
        type=Message.Type.INBOUND,
        subject="First",
        angle="Autogrow",
        campaign_step=1,
        date=datetime(2025, 5, 6, 8, tzinfo=UTC),
    )
    return lead


def test_payload_has_exactly_the_article_keys_and_types(
    seeded_lead, receiver, django_capture_on_commit_callbacks
):
    make_webhook(seeded_lead.workspace, receiver.url)
    with django_capture_on_commit_callbacks():
        change_status(seeded_lead, LeadStatus.CONVERSATION)
    delivery = Delivery.objects.get()
    payload = json.loads(bytes(delivery.payload))

    assert set(payload) - DOCUMENTED_EXTRAS == ARTICLE_KEYS
    assert payload["new_lead_status"] == "Conversation"
    assert payload["previous_lead_status"] is None
    assert payload["lead_name"] == "Elon Musk"
    assert payload["lead_email_address"] == "elon@x.com"
    assert payload["workspace_name"] == "Acme Outreach"
    assert payload["campaign_name"] == "My Super Performing Campaign"
    fields = {entry["key"]: entry["value"] for entry in payload["customFields"]}
    assert all(set(entry) == {"value", "key"} for entry in payload["customFields"])
    assert fields["first_name"] == "Elon"
    assert fields["tags"] == ["Prospect", "Cars"]
    assert fields["campaigns"] == ["My Super Performing Campaign"]
    assert fields["my_custom_number_field"] == 1
    assert fields["email"] == "elon@gmail.com" and "personal_email" not in fields
    assert "unused_field" not in fields and "about" not in fields
    # Default fields first, then custom ones.
    assert payload["customFields"][-1]["key"] == "my_custom_number_field"
    assert [message["subject"] for message in payload["messages"]] == ["First", "Second"]
    assert payload["messages"][0]["angle"] == "Autogrow"
    assert "angle" not in payload["messages"][1]
    assert payload["event_id"] == delivery.event_id


def test_committed_change_is_delivered_signed_and_verifiable_by_both_libraries(seeded_lead, receiver):
    webhook = make_webhook(seeded_lead.workspace, receiver.url)
    change_status(seeded_lead, LeadStatus.OPPORTUNITY)
    sender.deliveries_deliver()

    [request] = receiver.requests
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert request.body == bytes(delivery.payload)
    assert request.header("webhook-id") == delivery.event_id
    assert request.header("user-agent").startswith("LeadEngine-Webhooks/")
    assert request.header("content-type") == "application/json"
    standardwebhooks.Webhook(webhook.secret).verify(request.body, request.headers)
    svix.webhooks.Webhook(webhook.secret).verify(request.body, request.headers)
    tampered = request.body.replace(b"Opportunity", b"Opportunitx")
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(webhook.secret).verify(tampered, request.headers)
    [attempt] = delivery.attempts.all()
    assert attempt.number == 1 and attempt.status_code == 200 and attempt.response_body == "ok"


def test_during_rotation_old_and_new_secret_verify_then_only_the_new(lead, receiver):
    webhook = make_webhook(lead.workspace, receiver.url)
    old_secret = webhook.secret
    webhook_rotate_secret(webhook=webhook)
    change_status(lead, LeadStatus.FOLLOW_UP)
    sender.deliveries_deliver()
    request = receiver.requests[-1]
    for secret in (old_secret, webhook.secret):
        standardwebhooks.Webhook(secret).verify(request.body, request.headers)
        svix.webhooks.Webhook(secret).verify(request.body, request.headers)

    with time_machine.travel(datetime.now(UTC) + timedelta(hours=24, minutes=1)):
        change_status(lead, LeadStatus.NEEDS_INFO)
        sender.deliveries_deliver()
        request = receiver.requests[-1]
        svix.webhooks.Webhook(webhook.secret).verify(request.body, request.headers)
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(old_secret).verify(request.body, request.headers)
    assert len(request.header("webhook-signature").split()) == 1


def test_rolled_back_change_creates_and_sends_nothing(lead, receiver, django_capture_on_commit_callbacks):
    make_webhook(lead.workspace, receiver.url)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        lead_set_status(lead=lead, status=LeadStatus.OPPORTUNITY)
        raise RuntimeError("boom")
    assert callbacks == []
    assert not Delivery.objects.exists()
    sender.deliveries_deliver()
    assert receiver.requests == []


def test_one_delivery_per_matching_webhook_and_one_task_per_transaction(
    lead, workspace, receiver, django_capture_on_commit_callbacks
):
    in_list, other_list = ListFactory(workspace=workspace), ListFactory(workspace=workspace)
    in_campaign, other_campaign = CampaignFactory(workspace=workspace), CampaignFactory(workspace=workspace)
    lead.lists.add(in_list)
    lead.campaigns.add(in_campaign)
    expected = {
        make_webhook(workspace, receiver.url, name="all"),
        make_webhook(workspace, receiver.url, name="list", lists=[in_list, other_list]),
        make_webhook(workspace, receiver.url, name="campaign", campaigns=[in_campaign]),
        make_webhook(workspace, receiver.url, name="status", statuses=["Opportunity"]),
    }
    make_webhook(workspace, receiver.url, name="other list", lists=[other_list])
    make_webhook(workspace, receiver.url, name="other campaign", campaigns=[other_campaign])
    make_webhook(workspace, receiver.url, name="other status", statuses=["Unknown"])
    make_webhook(workspace, receiver.url, name="inactive", is_active=False)
    make_webhook(LeadFactory().workspace, receiver.url, name="other workspace")

    with django_capture_on_commit_callbacks() as callbacks:
        change_status(lead, LeadStatus.OPPORTUNITY)
        change_status(lead, LeadStatus.OPPORTUNITY)  # the same status again is not a change

    assert {delivery.webhook for delivery in Delivery.objects.all()} == expected
    assert Delivery.objects.count() == 4
    assert len(callbacks) == 1


def test_campaign_of_the_change_counts_for_the_campaign_filter(lead, workspace, receiver):
    campaign = CampaignFactory(workspace=workspace, name="Spring")
    make_webhook(workspace, receiver.url, campaigns=[campaign])
    change_status(lead, LeadStatus.CONVERSATION, campaign=campaign)
    payload = json.loads(bytes(Delivery.objects.get().payload))
    assert payload["campaign_name"] == "Spring"


def test_redelivery_sends_the_same_bytes_and_webhook_id(lead, receiver, django_capture_on_commit_callbacks):
    make_webhook(lead.workspace, receiver.url)
    change_status(lead, LeadStatus.CONVERSATION)
    sender.deliveries_deliver()
    lead.first_name = "Changed"
    lead.save()
    services.deliveries_redeliver(deliveries=list(Delivery.objects.all()))
    sender.deliveries_deliver()
    first, second = receiver.requests
    assert first.body == second.body
    assert first.header("webhook-id") == second.header("webhook-id")
    assert Delivery.objects.get().attempts.count() == 2
