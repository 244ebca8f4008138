import datetime

import pytest

from leads.models import Lead
from webhooks.inbound.models import InboundRequest

from .conftest import payload

pytestmark = pytest.mark.django_db


def test_article_sample_creates_a_lead_with_the_suggested_mapping(sender, workspace):
    response = sender.post(payload("article_sample.json"))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] is True
    lead = Lead.objects.get(pk=body["lead_id"])
    assert lead.workspace == workspace
    assert lead.business_email == "test@leadmagnets.io"
    assert (lead.first_name, lead.last_name, lead.name) == ("Lead", "Engine", "Lead Engine")
    assert lead.mobile_phone == "15555555555"
    assert (lead.city, lead.state, lead.country) == ("Minneapolis", "Minnesota", "United States")
    assert lead.created_date == datetime.datetime(2024, 10, 2, 15, 28, 20, tzinfo=datetime.UTC)


def test_posting_the_article_sample_again_updates_the_same_lead(sender):
    first = sender.post(payload("article_sample.json")).json()

    again = sender.post(payload("article_sample.json").replace("Minneapolis", "St Paul"))

    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["lead_id"] == first["lead_id"]
    assert Lead.objects.count() == 1
    assert Lead.objects.get().city == "St Paul"


def test_trailing_slash_is_optional(sender):
    assert sender.post(payload("article_sample.json"), slash=True).status_code == 201


def test_email_case_and_unicode_variants_dedupe_to_one_lead(sender):
    sender.post({"email": "Test@LeadMagnets.io"})
    response = sender.post({"email": "  TEST@leadmagnets.IO "})
    assert response.status_code == 200
    assert Lead.objects.get().business_email == "test@leadmagnets.io"


def test_absent_mapped_paths_leave_fields_untouched_on_update(sender):
    sender.post(payload("article_sample.json"))

    response = sender.post({"email": "test@leadmagnets.io", "city": "Duluth", "utm_source": "ads"})

    lead = Lead.objects.get()
    assert response.status_code == 200
    assert (lead.first_name, lead.city) == ("Lead", "Duluth")
    assert response.json()["unmapped_keys"] == ["utm_source"]
    assert "first_name" in response.json()["missing_paths"]


def test_every_request_is_logged_with_key_prefix_status_and_body(sender, api_key):
    sender.post({"email": "a@b.example", "extra": 1})
    sender.post({"email": "not-an-email"})

    ok, bad = InboundRequest.objects.order_by("id")
    assert (ok.status_code, bad.status_code) == (201, 422)
    assert ok.api_key_prefix == api_key.prefix
    assert ok.webhook == sender.webhook
    assert '"extra": 1' in ok.body
    assert ok.unmapped_keys == ["extra"]
    assert bad.response["errors"][0]["field"] == "business_email"
