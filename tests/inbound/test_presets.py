"""Vendor presets: each one, applied to a webhook, turns a body written the way that vendor
sends it (authenticated the way that vendor authenticates) into the expected lead."""

import base64
import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from leads.models import Lead
from tests.factories import CustomFieldFactory, InboundWebhookFactory
from webhooks.inbound.models import SenderAuthMode, mapping_errors
from webhooks.inbound.presets import preset_get, preset_list
from webhooks.inbound.services import webhook_preset_apply

from . import test_signature_schemes as signers
from .conftest import PAYLOADS

pytestmark = pytest.mark.django_db

SIGNING_SECRET = "vendor-signing-secret-1234"
SIGNERS = {
    "typeform": signers.typeform,
    "calendly": signers.calendly,
    "meta": signers.hub_sha256,
    "hubspot_v3": signers.hubspot_v3,
    "tally": signers.tally,
    "webflow": signers.webflow,
    "intercom": signers.intercom,
    "stripe": signers.stripe,
    "shopify": signers.shopify,
}

# preset key, sample body, expected lead values
CASES = [
    (
        "typeform",
        "typeform_form_response.json",
        {
            "business_email": "grace.hopper@navy.example",
            "first_name": "Grace",
            "last_name": "Hopper",
            "lead_source": "newsletter",
        },
    ),
    (
        "calendly",
        "calendly_invitee_created.json",
        {
            "business_email": "margaret@apollo.example",
            "first_name": "Margaret",
            "last_name": "Hamilton",
            "company_name": "Apollo Guidance",
            "lead_source": "linkedin",
        },
    ),
    (
        "meta_lead_ads",
        "meta_lead_ads.json",
        {
            "business_email": "katherine@nasa.example",
            "name": "Katherine Johnson",
            "mobile_phone": "+15555550123",
            "city": "Hampton",
        },
    ),
    (
        "google_ads_lead_form",
        "google_ads_lead_form.json",
        {
            "business_email": "annie@lewis.example",
            "name": "Annie Easley",
            "company_name": "Lewis Research",
            "job_title": "Programmer",
            "country": "United States",
        },
    ),
    (
        "hubspot_workflow",
        "hubspot_workflow.json",
        {
            "business_email": "frances@ibm.example",
            "first_name": "Frances",
            "last_name": "Allen",
            "company_name": "IBM Research",
            "job_title": "Fellow",
            "website": "https://ibm.example",
        },
    ),
    (
        "hubspot_form_submission",
        "hubspot_contact.json",
        {
            "business_email": "alan@bletchley.example",
            "first_name": "Alan",
            "last_name": "Turing",
            "company_name": "Bletchley Park",
            "number_of_employees": 42,
        },
    ),
    (
        "tally",
        "tally_form_response.json",
        {
            "business_email": "joan@bletchley.example",
            "first_name": "Joan",
            "last_name": "Clarke",
            "company_name": "Hut 8",
            "website": "https://hut8.example",
        },
    ),
    (
        "webflow_form",
        "webflow_form_default.json",
        {
            "business_email": "radia@spanning.example",
            "name": "Radia Perlman",
            "company_name": "Spanning Tree",
        },
    ),
    (
        "unbounce",
        "unbounce_submission.form",
        {
            "business_email": "mary@langley.example",
            "first_name": "Mary",
            "last_name": "Jackson",
            "company_name": "Langley",
        },
    ),
    (
        "gravity_forms",
        "gravity_forms_entry.json",
        {
            "business_email": "barbara@mit.example",
            "first_name": "Barbara",
            "last_name": "Liskov",
            "company_name": "MIT",
        },
    ),
    (
        "intercom",
        "intercom_contact_created.json",
        {
            "business_email": "adele@xerox.example",
            "name": "Adele Goldberg",
            "city": "Palo Alto",
            "state": "California",
        },
    ),
    (
        "stripe_customer",
        "stripe_customer_created.json",
        {
            "business_email": "shafi@crypto.example",
            "name": "Shafi Goldwasser",
            "city": "Berkeley",
            "postal_code": "94720",
            "street_address": "1 Sather Gate",
        },
    ),
    (
        "stripe_checkout",
        "stripe_checkout_session_completed.json",
        {"business_email": "ada.yonath@weizmann.example", "name": "Ada Yonath", "city": "Haifa"},
    ),
    (
        "shopify_customer",
        "shopify_customer_create.json",
        {
            "business_email": "evelyn@eniac.example",
            "first_name": "Evelyn",
            "last_name": "Berezin",
            "company_name": "Redactron",
            "city": "Hauppauge",
        },
    ),
    (
        "shopify_order",
        "shopify_order_create.json",
        {
            "business_email": "mary@keller.example",
            "first_name": "Mary",
            "last_name": "Keller",
            "company_name": "Clarke College",
            "city": "Dubuque",
        },
    ),
    (
        "mailchimp_subscribe",
        "mailchimp_subscribe.form",
        {"business_email": "ada@engine.example", "first_name": "Ada", "last_name": "Lovelace"},
    ),
    (
        "pipedrive_person",
        "pipedrive_person_added.json",
        {
            "business_email": "hedy@frequency.example",
            "first_name": "Hedy",
            "last_name": "Lamarr",
            "mobile_phone": "+15555550142",
        },
    ),
    (
        "zapier",
        "article_sample.json",
        {"business_email": "test@leadmagnets.io", "first_name": "Lead", "city": "Minneapolis"},
    ),
    (
        "make",
        "article_sample.json",
        {"business_email": "test@leadmagnets.io", "last_name": "Engine", "country": "United States"},
    ),
    (
        "n8n",
        "article_sample.json",
        {"business_email": "test@leadmagnets.io", "name": "Lead Engine", "state": "Minnesota"},
    ),
]


def send_as_vendor(webhook, preset, body, secret):
    """POST `body` authenticated the way the preset's vendor does."""
    path, headers = f"/webhooks/{webhook.public_id}", {}
    mode = webhook.auth_mode
    if mode == SenderAuthMode.BEARER:
        headers["Authorization"] = f"Bearer {secret}"
    elif mode == SenderAuthMode.BASIC:
        headers["Authorization"] = "Basic " + base64.b64encode(f"pipedrive:{secret}".encode()).decode()
    elif mode == SenderAuthMode.API_KEY_HEADER:
        headers[webhook.auth_header or "X-API-Key"] = secret
    elif mode == SenderAuthMode.URL_TOKEN:
        path += f"/{webhook.url_token}"
    elif mode in SIGNERS:
        headers.update(SIGNERS[mode](SIGNING_SECRET, body, int(time.time()), webhook))
    return APIClient().generic("POST", path, body, content_type=preset.content_type, headers=headers)


@pytest.mark.parametrize(("preset_key", "sample", "expected"), CASES, ids=[case[0] for case in CASES])
def test_a_preset_maps_its_vendors_sample_to_the_expected_lead(
    workspace, secret, preset_key, sample, expected
):
    preset = preset_get(preset_key)
    body = (PAYLOADS / sample).read_bytes()
    webhook = InboundWebhookFactory(workspace=workspace)
    webhook_preset_apply(webhook=webhook, preset=preset)
    webhook.signing_secret = "form-key-from-google-ads" if preset.auth_mode == "body_key" else SIGNING_SECRET
    webhook.save()

    response = send_as_vendor(webhook, preset, body, secret)

    assert response.status_code == 201, response.json()
    lead = Lead.objects.get(pk=response.json()["lead_id"])
    assert {name: getattr(lead, name) for name in expected} == expected
    assert webhook.preset == preset_key


def test_every_preset_is_tested_valid_and_documented():
    readme = (Path(__file__).parents[2] / "webhooks/inbound/README.md").read_text()
    tested = {case[0] for case in CASES}

    for preset in preset_list():
        errors = mapping_errors(rows=preset.mapping_pairs(), dedupe_field=preset.dedupe_field)
        assert not any(errors["rows"]) and not errors["dedupe_field"], (preset.key, errors)
        assert preset.auth_mode in SenderAuthMode.values, preset.key
        assert preset.setup and preset.key in tested, preset.key
        assert f"`{preset.key}`" in readme, preset.key


def test_a_preset_row_carries_the_transforms_that_would_help():
    interests = preset_get("hubspot_workflow").suggested_custom_fields[0]

    assert interests.transforms == ({"name": "split", "delimiter": ";"},)


def test_a_suggested_custom_field_row_applies_only_when_the_workspace_has_that_field(workspace):
    preset = preset_get("hubspot_workflow")
    without = dict(preset.mapping_pairs())
    CustomFieldFactory(workspace=workspace, key="interests", type="text")
    webhook = InboundWebhookFactory(workspace=workspace)

    webhook_preset_apply(webhook=webhook, preset=preset)

    assert "interests" not in without
    assert webhook.mappings.filter(field="interests", source_path="interests").exists()
