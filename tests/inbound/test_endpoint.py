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


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "*/*", ""])
def test_every_sender_gets_json_whatever_it_accepts(sender, accept):
    response = sender.post(payload("article_sample.json"), headers={"HTTP_ACCEPT": accept})
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"


def test_get_is_method_not_allowed_in_json(sender):
    response = sender.client.get(sender.url(), HTTP_AUTHORIZATION=f"Bearer {sender.secret}")
    assert response.status_code == 405
    assert response.json()["detail"]


def test_unknown_ids_are_logged_without_a_body_or_workspace(sender):
    sender.post(payload("article_sample.json"), public_id="unknown-id")
    logged = InboundRequest.objects.get()
    assert (logged.status_code, logged.webhook, logged.workspace, logged.body) == (404, None, None, "")
    assert logged.public_id == "unknown-id"


def test_a_log_write_failure_does_not_lose_the_response(sender, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(InboundRequest.objects, "create", broken)
    response = sender.post(payload("article_sample.json"))
    assert response.status_code == 201
    assert Lead.objects.count() == 1


def test_the_log_survives_a_rolled_back_record(sender, monkeypatch):
    from django.db import DataError

    from leads import services

    def failing_add(*args, **kwargs):
        raise services.LeadUpsertError("lists", "boom")

    def refused_by_database(*args, **kwargs):
        raise DataError("value too long")  # the set-based write then goes record by record

    monkeypatch.setattr(services, "_relations_add", refused_by_database)
    monkeypatch.setattr(services, "_add_related", failing_add)
    response = sender.post(payload("article_sample.json"))

    assert response.status_code == 422
    assert Lead.objects.count() == 0  # the record's lead insert was rolled back
    assert InboundRequest.objects.get().status_code == 422


def test_seed_demo_adds_one_inbound_webhook_with_the_suggested_mapping():
    from django.core.management import call_command

    from webhooks.inbound.models import SUGGESTED_MAPPINGS, InboundWebhook

    call_command("seed_demo")
    call_command("seed_demo")

    webhook = InboundWebhook.objects.get()
    assert sorted(webhook.mappings.values_list("field", "source_path")) == sorted(SUGGESTED_MAPPINGS)


def test_a_rejected_key_is_logged_by_its_prefix_never_its_secret(sender, api_key):
    from leadengine.services import api_key_revoke

    api_key_revoke(api_key=api_key)
    response = sender.post(payload("article_sample.json"))

    logged = InboundRequest.objects.get()
    assert response.status_code == 401
    assert logged.api_key_prefix == api_key.prefix
    assert sender.secret not in str(InboundRequest.objects.values().get())


def chunked_request(sender, body):
    """A request as gunicorn hands over a chunked body: no Content-Length, terminated input."""
    import io

    from django.test import RequestFactory

    request = RequestFactory().generic(
        "POST",
        sender.url(),
        b"",
        HTTP_AUTHORIZATION=f"Bearer {sender.secret}",
        CONTENT_TYPE="application/json",
    )
    request.META.pop("CONTENT_LENGTH", None)
    request.META["wsgi.input_terminated"] = True
    request.META["wsgi.input"] = io.BytesIO(body)
    return request


def test_chunked_body_without_content_length_is_read_and_capped(sender):
    from webhooks.inbound.views import InboundWebhookView

    view = InboundWebhookView.as_view()
    small = view(
        chunked_request(sender, payload("article_sample.json").encode()), public_id=sender.webhook.public_id
    )
    huge = view(
        chunked_request(sender, b'{"about": "' + b"x" * (1024 * 1024 + 10) + b'"}'),
        public_id=sender.webhook.public_id,
    )

    assert small.status_code == 201
    assert huge.status_code == 413
    assert Lead.objects.count() == 1


def test_a_mapping_row_with_source_path_slash_saved_earlier_is_skipped_with_a_warning_at_run_time(sender):
    # Rows saved before the rule reached the admin: `/` would resolve to the whole document.
    from webhooks.inbound.models import FieldMapping

    FieldMapping.objects.create(webhook=sender.webhook, field="about", source_path="/")

    response = sender.post(payload("article_sample.json"))

    assert response.status_code == 201
    warning = response.json()["warnings"][0]
    assert (warning["field"], warning["path"]) == ("about", "/")
    assert "at least one key" in warning["message"]
    assert Lead.objects.get().about == ""


def test_a_mapping_row_whose_custom_field_was_deleted_is_skipped_with_a_warning_at_run_time(sender):
    from tests.factories import CustomFieldFactory
    from webhooks.inbound.models import FieldMapping

    custom = CustomFieldFactory(workspace=sender.webhook.workspace, key="seats", type="number")
    FieldMapping.objects.create(webhook=sender.webhook, field="seats", source_path="seats")
    custom.delete()

    response = sender.post({"email": "a@b.example", "seats": 3})

    assert response.status_code == 201
    assert response.json()["warnings"][0]["field"] == "seats"
    assert "seats" not in Lead.objects.get().custom_fields


def test_a_strict_webhook_refuses_a_record_over_a_mapping_row_refused_at_run_time(sender):
    from webhooks.inbound.models import FieldMapping

    sender.webhook.strict = True
    sender.webhook.save()
    FieldMapping.objects.create(webhook=sender.webhook, field="about", source_path="/")

    response = sender.post(payload("article_sample.json"))

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "about"
    assert not Lead.objects.exists()
