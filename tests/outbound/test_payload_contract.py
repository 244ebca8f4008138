"""Send Test and a real event both carry the help article's §2.3 sample, key for key.

`payloads/article_sample.json` is the article's sample as published (its third message is cut
short there with "..."). Differences from it are only the documented ones below
(webhooks/outbound/README.md, "Payload").
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import transaction

from leads.models import CustomField, LeadStatus, Message
from leads.services import lead_set_status
from tests.factories import CampaignFactory, CustomFieldFactory, LeadFactory, MessageFactory
from webhooks.outbound.models import Delivery
from webhooks.outbound.payload import sample_payload_build
from webhooks.outbound.receiver import Answer
from webhooks.outbound.services import webhook_send_test

from .conftest import make_webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private")]

ARTICLE = json.loads((Path(__file__).parent / "payloads" / "article_sample.json").read_text())
DOCUMENTED_TOP_LEVEL_EXTRAS = {"event_id", "event_type", "occurred_at", "lead_id"}
# A message sent in a campaign names it; the article's sample shows only the top-level name.
DOCUMENTED_MESSAGE_EXTRAS = {"campaign"}


def custom_field_keys(payload):
    return [entry["key"] for entry in payload["customFields"]]


def assert_messages_have_the_article_attributes(messages):
    assert len(messages) == len(ARTICLE["messages"])
    *complete, truncated = ARTICLE["messages"]
    for ours, article in zip(messages, complete, strict=False):
        assert set(ours) - DOCUMENTED_MESSAGE_EXTRAS == set(article)
        assert set(ours["from"]) == set(article["from"]) and set(ours["to"]) == set(article["to"])
    assert set(truncated) <= set(messages[-1]) - DOCUMENTED_MESSAGE_EXTRAS


@pytest.fixture
def lead_like_the_sample(workspace):
    """A lead holding the sample's data, as an operator's workspace would."""
    CustomFieldFactory(workspace=workspace, key="my_custom_number_field", type=CustomField.Type.NUMBER)
    campaign = CampaignFactory(workspace=workspace, name="My Super Performing Campaign")
    lead = LeadFactory(
        workspace=workspace,
        name="Elon Musk",
        first_name="Elon",
        last_name="Musk",
        personal_email="elon@gmail.com",
        business_email="elon@x.com",
        company_name="",
        tags=["Prospect", "Cars", "Space"],
        created_date=datetime(2024, 12, 2, 14, 5, 38, tzinfo=UTC),
        email_provider="Gmail",
        custom_fields={"my_custom_number_field": 1},
    )
    lead.campaigns.add(campaign, CampaignFactory(workspace=workspace, name="Newsletter"))
    with transaction.atomic():
        lead_set_status(lead=lead, status=LeadStatus.CONVERSATION)
    for article_message in ARTICLE["messages"]:
        MessageFactory(lead=lead, **message_fields(article_message, campaign))
    return lead


def message_fields(article_message, campaign):
    sender = article_message.get("from", {"name": "Elon Musk", "address": "elon@x.com"})
    fields = {
        "type": article_message.get("type", Message.Type.AUTO_REPLY),
        "subject": article_message.get("subject", "Auto: First message subject"),
        "body": article_message["body"],
        "from_name": sender["name"],
        "from_address": sender["address"],
        "to_name": article_message["to"]["name"],
        "to_address": article_message["to"]["address"],
        "date": datetime.fromisoformat(article_message["date"]),
    }
    for key in ("angle", "framework", "test", "tone", "campaign_step", "word_limit"):
        if key in article_message:
            fields[key] = article_message[key]
    if article_message.get("type") == "outbound":
        fields["campaign"] = campaign
    return fields


def real_event_payload(lead):
    make_webhook(lead.workspace, "http://127.0.0.1:9/")
    with transaction.atomic():
        lead_set_status(lead=lead, status=LeadStatus.NEEDS_INFO)
    return json.loads(bytes(Delivery.objects.get().payload))


def test_a_real_event_for_a_lead_holding_the_sample_data_matches_the_article_key_for_key(
    lead_like_the_sample,
):
    payload = real_event_payload(lead_like_the_sample)

    assert set(payload) - DOCUMENTED_TOP_LEVEL_EXTRAS == set(ARTICLE)
    assert custom_field_keys(payload) == custom_field_keys(ARTICLE)
    assert payload["customFields"] == ARTICLE["customFields"]
    assert_messages_have_the_article_attributes(payload["messages"])
    assert "campaign" in payload["messages"][0]  # the documented extra, only when set
    assert (payload["new_lead_status"], payload["previous_lead_status"]) == ("Needs Info", "Conversation")


def test_send_test_sends_a_real_events_shape_with_the_article_values(workspace, receiver):
    receiver.default = Answer(status=200)
    webhook = make_webhook(workspace, receiver.url)

    webhook_send_test(webhook=webhook)

    payload = json.loads(receiver.requests[0].body)
    assert set(payload) == set(ARTICLE) | DOCUMENTED_TOP_LEVEL_EXTRAS
    assert payload["event_type"] == "lead.status_updated"
    assert payload["event_id"] == receiver.requests[0].header("webhook-id")
    assert payload["occurred_at"].endswith("Z") and payload["lead_id"] == 0
    assert payload["customFields"] == ARTICLE["customFields"]
    assert_messages_have_the_article_attributes(payload["messages"])
    assert payload["workspace_name"] == "Acme Outreach"


def test_send_test_and_a_real_event_have_the_same_keys_everywhere(lead_like_the_sample):
    real = real_event_payload(lead_like_the_sample)
    sample = sample_payload_build(workspace=lead_like_the_sample.workspace, event_id="evt")

    assert set(real) == set(sample)
    assert custom_field_keys(real) == custom_field_keys(sample)
    real_messages = [set(message) - DOCUMENTED_MESSAGE_EXTRAS for message in real["messages"]]
    assert real_messages == [set(message) for message in sample["messages"]]


def test_internal_fields_and_zero_counters_are_not_sent_but_other_set_fields_are(workspace):
    lead = LeadFactory(workspace=workspace, city="Austin", number_of_emails=3, number_of_employees=0)
    lead.custom_fields = {"score": 0}
    lead.save()
    CustomFieldFactory(workspace=workspace, key="score", type=CustomField.Type.NUMBER)

    keys = custom_field_keys(real_event_payload(lead))

    assert {"city", "number_of_emails", "company_name", "score"} <= set(keys)
    internal = {"lead_status", "lead_status_history", "modified_date", "number_of_sms_sent"}
    assert not internal & set(keys)
    assert "number_of_employees" not in keys and "personal_email" not in keys


def test_a_message_omits_empty_attributes(lead):
    message = MessageFactory(lead=lead, subject="", from_name="", from_address="", to_name="")

    entry = message.as_thread_entry()

    assert "subject" not in entry and "from" not in entry
    assert entry["to"] == {"address": lead.business_email}
