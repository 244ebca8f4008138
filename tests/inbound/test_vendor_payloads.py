"""Realistic payloads of the tools that send leads, each mapped with the path syntax it needs."""

import datetime

import pytest

from leads.models import Lead, LeadStatus
from tests.factories import CustomFieldFactory, ListFactory
from webhooks.inbound.models import InboundWebhook

from .conftest import Sender, make_webhook, payload

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


def post(workspace, secret, mappings, body, content_type="application/json", **webhook_kwargs):
    webhook = make_webhook(workspace, mappings, **webhook_kwargs)
    response = Sender(webhook, secret).post(body, content_type=content_type)
    assert response.status_code == 201, response.json()
    return Lead.objects.get(pk=response.json()["lead_id"]), response.json()


def test_typeform_answers_by_type_selector_and_index(workspace, secret):
    CustomFieldFactory(workspace=workspace, key="consent", type="boolean")
    CustomFieldFactory(workspace=workspace, key="interests", type="list")
    mappings = [
        ("business_email", "form_response/answers/[type=email]/email"),
        ("first_name", "form_response/answers/0/text"),
        ("last_name", "form_response/answers/1/text"),
        ("number_of_employees", "form_response/answers/[type=number]/number"),
        ("interests", "form_response/answers/[type=choices]/choices/labels"),
        ("consent", "form_response/answers/[type=boolean]/boolean"),
        ("lead_source", "form_response/hidden/utm_source"),
        ("created_date", "form_response/submitted_at"),
    ]
    lead, _ = post(workspace, secret, mappings, payload("typeform_form_response.json"))

    assert lead.business_email == "grace.hopper@navy.example"
    assert (lead.first_name, lead.last_name, lead.number_of_employees) == ("Grace", "Hopper", 250)
    assert lead.custom_fields == {"interests": ["Webinars", "Newsletter"], "consent": True}
    assert lead.lead_source == "newsletter"


def test_meta_lead_ads_field_data_by_name_whatever_the_order(workspace, secret):
    mappings = [
        ("business_email", "field_data/[name=email]/values/0"),
        ("name", "field_data/[name=full_name]/values"),  # array into a scalar: first element
        ("mobile_phone", "field_data/[name=phone_number]/values/0"),
        ("city", "field_data/[name=city]/values/0"),
        ("tags", "field_data/[name=which_products_are_you_interested_in?]/values"),
        ("created_date", "created_time"),
    ]
    lead, _ = post(workspace, secret, mappings, payload("meta_lead_ads.json"))

    assert (lead.business_email, lead.name, lead.mobile_phone) == (
        "katherine@nasa.example",
        "Katherine Johnson",
        "+15555550123",
    )
    assert lead.tags == ["Analytics", "CRM"]
    assert lead.created_date == datetime.datetime(2024, 10, 2, 15, 28, 20, tzinfo=datetime.UTC)


def test_hubspot_nested_property_values_and_status_through_the_service(workspace, secret):
    mappings = [
        ("business_email", "properties/email/value"),
        ("first_name", "properties/firstname/value"),
        ("last_name", "properties/lastname/value"),
        ("company_name", "properties/company/value"),
        ("website", "properties/website/value"),
        ("number_of_employees", "properties/numemployees/value"),
        ("lead_status", "properties/hs_lead_status/value"),
    ]
    lead, _ = post(workspace, secret, mappings, payload("hubspot_contact.json"))

    assert (lead.first_name, lead.company_name, lead.number_of_employees) == ("Alan", "Bletchley Park", 42)
    assert lead.website == "https://bletchley.example"
    assert lead.lead_status == LeadStatus.NEEDS_INFO
    assert [entry["value"] for entry in lead.lead_status_history] == ["Needs Info"]


def test_calendly_questions_and_answers_by_question(workspace, secret):
    mappings = [
        ("business_email", "payload/email"),
        ("name", "payload/name"),
        ("time_zone", "payload/timezone"),
        ("company_name", "payload/questions_and_answers/[question=Company name]/answer"),
        ("office_phone", "payload/questions_and_answers/[question=Phone Number]/answer"),
        ("campaigns", "payload/tracking/utm_campaign"),
    ]
    lead, _ = post(workspace, secret, mappings, payload("calendly_invitee_created.json"))

    assert (lead.company_name, lead.office_phone, lead.time_zone) == (
        "Apollo Guidance",
        "+15555550199",  # phones are stored in E.164
        "America/New_York",
    )
    assert [campaign.name for campaign in lead.campaigns.all()] == ["fall-launch"]


def test_webflow_keys_with_spaces_and_a_numeric_phone(workspace, secret):
    target = ListFactory(workspace=workspace, name="Website")
    mappings = [
        ("business_email", "payload/data/Work Email"),
        ("first_name", "payload/data/First Name"),
        ("last_name", "payload/data/Last Name"),
        ("mobile_phone", "payload/data/Phone"),
    ]
    lead, _ = post(workspace, secret, mappings, payload("webflow_form_submission.json"), target_list=target)

    assert (lead.first_name, lead.mobile_phone) == ("Hedy", "15555550142")
    assert list(lead.lists.all()) == [target]


def test_mailchimp_form_encoded_brackets_as_literal_keys_and_as_paths(workspace, secret):
    mappings = [
        ("business_email", "data[merges][EMAIL]"),  # the literal key
        ("first_name", "data/merges/FNAME"),  # the same family as a path
        ("last_name", "data[merges][LNAME]"),
        ("about", "data/merges/INTERESTS"),
    ]
    lead, body = post(workspace, secret, mappings, payload("mailchimp_subscribe.form"), content_type=FORM)

    assert (lead.business_email, lead.first_name, lead.last_name) == ("ada@engine.example", "Ada", "Lovelace")
    assert lead.about == "Engines, Poetry"
    assert "type" in body["unmapped_keys"] and "data[merges][EMAIL]" not in body["unmapped_keys"]


def test_unbounce_json_document_inside_a_form_field(workspace, secret):
    mappings = [
        ("business_email", "data.json/email"),
        ("first_name", "data.json/first_name"),
        ("last_name", "data.json/last_name/0"),
        ("company_name", "data.json/company"),
        ("website", "page_url"),
    ]
    lead, _ = post(workspace, secret, mappings, payload("unbounce_submission.form"), content_type=FORM)

    assert (lead.business_email, lead.first_name, lead.last_name) == (
        "mary@langley.example",
        "Mary",
        "Jackson",
    )
    assert (lead.company_name, lead.website) == ("Langley", "https://example.com/landing")


def test_zapier_flat_keys_with_spaces_and_a_status(workspace, secret):
    mappings = [
        ("business_email", "Email Address"),
        ("first_name", "First Name"),
        ("company_name", "Company"),
        ("lead_status", "Lead Status"),
    ]
    lead, body = post(workspace, secret, mappings, payload("zapier_flat.json"))

    assert (lead.first_name, lead.company_name, lead.lead_status) == ("Dorothy", "NACA", "Conversation")
    assert sorted(body["unmapped_keys"]) == ["Last Name", "Tags"]


def test_form_repeated_keys_become_arrays(workspace, secret):
    mappings = [("business_email", "email"), ("tags", "tag"), ("first_name", "name")]
    lead, _ = post(
        workspace, secret, mappings, "email=a%40b.example&tag=x&tag=y&name=A&name=B", content_type=FORM
    )
    assert lead.tags == ["x", "y"]
    assert lead.first_name == "A"


def test_multipart_form_without_files(workspace, secret):
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="email"\r\n\r\nmp@example.com\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="first_name"\r\n\r\nMulti\r\n--XyZ--\r\n'
    )
    lead, _ = post(
        workspace,
        secret,
        [("business_email", "email"), ("first_name", "first_name")],
        body,
        content_type="multipart/form-data; boundary=XyZ",
    )
    assert (lead.business_email, lead.first_name) == ("mp@example.com", "Multi")


def test_batch_gives_one_result_per_record_each_atomic(workspace, secret):
    mappings = [("business_email", "email"), ("first_name", "first_name"), ("tags", "tags/*/name")]
    webhook = make_webhook(workspace, mappings)

    response = Sender(webhook, secret).post(payload("batch_instantly_style.json"))

    assert response.status_code == 200
    body = response.json()
    assert [result["status"] for result in body["results"]] == [201, 201, 422, 200]
    assert (body["created"], body["updated"], body["failed"]) == (2, 1, 1)
    assert body["results"][2]["errors"][0]["field"] == "business_email"
    assert body["results"][3]["lead_id"] == body["results"][0]["lead_id"]
    one = Lead.objects.get(business_email="one@batch.example")
    assert (one.first_name, one.tags) == ("Uno", ["vip", "beta"])
    assert Lead.objects.count() == 2
    assert InboundWebhook.objects.get().requests.get().status_code == 200


def test_a_mapped_status_goes_through_the_status_service_and_publishes_the_event(workspace, secret):
    from leads.events import lead_status_changed

    events = []

    def receiver(sender, event, **kwargs):
        events.append(event)

    lead_status_changed.connect(receiver)
    try:
        webhook = make_webhook(workspace, [("business_email", "email"), ("lead_status", "status")])
        sender = Sender(webhook, secret)
        sender.post({"email": "s@example.com", "status": "follow up"})
        sender.post({"email": "s@example.com", "status": "Meeting Booked"})
        sender.post({"email": "s@example.com", "status": "Meeting Booked"})  # same again: no change
    finally:
        lead_status_changed.disconnect(receiver)

    lead = Lead.objects.get()
    assert [entry["value"] for entry in lead.lead_status_history] == ["Follow Up", "Meeting Booked"]
    assert [(event.previous_status, event.new_status) for event in events] == [
        (None, "Follow Up"),
        ("Follow Up", "Meeting Booked"),
    ]
    assert events[0].lead.pk == lead.pk


def test_custom_field_as_dedupe_field(workspace, secret):
    CustomFieldFactory(workspace=workspace, key="crm_id", type="text")
    webhook = make_webhook(workspace, [("crm_id", "id"), ("first_name", "name")], dedupe_field="crm_id")
    sender = Sender(webhook, secret)

    first = sender.post({"id": "C-1", "name": "A"})
    second = sender.post({"id": "C-1", "name": "B"})

    assert (first.status_code, second.status_code) == (201, 200)
    assert Lead.objects.get().first_name == "B"
