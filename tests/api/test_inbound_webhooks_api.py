"""Inbound webhooks (Receive Data) and their request log through the REST API."""

import pytest
from rest_framework.test import APIClient

from leads.models import Lead
from tests.factories import CustomFieldFactory, ListFactory
from webhooks.inbound.models import SUGGESTED_MAPPINGS, FieldMapping, InboundRequest, InboundWebhook

from .conftest import signed_in

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks/inbound/"
REQUESTS = "/api/v1/inbound-requests/"


def rows(webhook):
    return list(FieldMapping.objects.filter(webhook=webhook).values_list("field", "source_path"))


def test_create_with_mappings_then_receive_a_lead_at_its_url(key_api, api_key, workspace, settings):
    settings.WEBHOOKS_BASE_URL = "https://hooks.example.com/webhooks"
    CustomFieldFactory(workspace=workspace, key="seats", type="number")
    target = ListFactory(workspace=workspace)

    response = key_api.post(
        URL,
        {
            "name": "Typeform",
            "target_list": target.pk,
            "mappings": [
                {"field": "business_email", "source_path": "answers/[type=email]/email"},
                {"field": "seats", "source_path": "answers/1/number"},
            ],
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    webhook = InboundWebhook.objects.get(pk=body["id"])
    assert body["public_id"] == webhook.public_id
    assert body["url"] == f"https://hooks.example.com/webhooks/{webhook.public_id}"
    assert (body["dedupe_field"], body["target_list"], body["workspace"]) == (
        "business_email",
        target.pk,
        "acme",
    )
    assert rows(webhook) == [("business_email", "answers/[type=email]/email"), ("seats", "answers/1/number")]
    received = APIClient().post(
        f"/webhooks/{webhook.public_id}",
        {"answers": [{"type": "email", "email": "Ada@Example.com"}, {"type": "number", "number": 12}]},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {api_key[1]}",
    )
    assert received.status_code == 201, received.json()
    lead = target.leads.get()
    assert (lead.business_email, lead.custom_fields) == ("ada@example.com", {"seats": 12})


def test_a_webhook_created_without_mappings_starts_with_the_suggested_rows(key_api):
    response = key_api.post(URL, {"name": "Web form"}, format="json")

    assert response.status_code == 201
    webhook = InboundWebhook.objects.get()
    assert rows(webhook) == list(SUGGESTED_MAPPINGS)
    assert [row["field"] for row in response.json()["mappings"]] == [field for field, _ in SUGGESTED_MAPPINGS]


@pytest.mark.parametrize(
    "mappings, problem",
    [
        ([{"field": "lead_status_history", "source_path": "h"}], "not a writable field"),
        ([{"field": "their_field", "source_path": "x"}], "not a writable field"),
        ([{"field": "city", "source_path": "a"}, {"field": "city", "source_path": "b"}], "mapped twice"),
        ([{"field": "city", "source_path": " / "}], "at least one key"),
    ],
)
def test_a_bad_mapping_row_is_a_400_naming_mappings(key_api, other_workspace, mappings, problem):
    CustomFieldFactory(workspace=other_workspace, key="their_field")

    response = key_api.post(URL, {"name": "Bad", "mappings": mappings}, format="json")

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == ["mappings"]
    assert problem in str(fields["mappings"])
    assert not InboundWebhook.objects.exists()


def test_the_dedupe_field_is_a_dedupe_default_or_a_custom_field_of_the_workspace(
    key_api, workspace, other_workspace
):
    CustomFieldFactory(workspace=workspace, key="crm_id")
    CustomFieldFactory(workspace=other_workspace, key="their_id")

    custom = key_api.post(URL, {"name": "By CRM id", "dedupe_field": "crm_id"}, format="json")
    not_unique = key_api.post(URL, {"name": "By city", "dedupe_field": "city"}, format="json")
    foreign = key_api.post(URL, {"name": "By theirs", "dedupe_field": "their_id"}, format="json")

    assert custom.status_code == 201
    for response in (not_unique, foreign):
        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == ["dedupe_field"]


def test_update_replaces_the_mapping_only_when_sent(key_api, workspace):
    created = key_api.post(URL, {"name": "Form"}, format="json").json()
    url = f"{URL}{created['id']}/"

    renamed = key_api.patch(url, {"name": "Renamed", "is_active": False}, format="json")
    remapped = key_api.patch(
        url, {"mappings": [{"field": "name", "source_path": "Full Name"}]}, format="json"
    )

    assert renamed.status_code == 200
    webhook = InboundWebhook.objects.get()
    assert (webhook.name, webhook.is_active) == ("Renamed", False)
    assert remapped.status_code == 200, remapped.json()
    assert rows(webhook) == [("name", "Full Name")]
    assert remapped.json()["public_id"] == created["public_id"]


def test_public_id_and_url_are_read_only(key_api, workspace):
    created = key_api.post(URL, {"name": "Form"}, format="json").json()

    key_api.patch(f"{URL}{created['id']}/", {"public_id": "guessable", "url": "http://evil/"}, format="json")

    assert InboundWebhook.objects.get().public_id == created["public_id"]


def test_delete_keeps_the_request_log_of_the_workspace(key_api, workspace):
    webhook = InboundWebhook.objects.create(workspace=workspace, name="Form")
    InboundRequest.objects.create(webhook=webhook, workspace=workspace, status_code=201)

    response = key_api.delete(f"{URL}{webhook.pk}/")

    assert response.status_code == 204
    assert not InboundWebhook.objects.exists()
    assert key_api.get(REQUESTS).json()["count"] == 1


def test_a_signed_in_member_manages_inbound_webhooks_with_a_session(member, workspace):
    api = signed_in(member)

    created = api.post(URL, {"name": "Session made"}, format="json")
    listed = api.get(URL)

    assert created.status_code == 201
    assert [item["name"] for item in listed.json()["results"]] == ["Session made"]


# --- Request log ---------------------------------------------------------------------


def log_request(webhook, status_code=201, **kwargs):
    return InboundRequest.objects.create(
        webhook=webhook,
        workspace=webhook.workspace,
        public_id=webhook.public_id,
        status_code=status_code,
        **kwargs,
    )


def test_a_request_received_by_the_endpoint_is_in_the_log_with_its_body(key_api, api_key, workspace):
    webhook = InboundWebhook.objects.create(workspace=workspace, name="Form")
    FieldMapping.objects.create(webhook=webhook, field="business_email", source_path="email")
    APIClient().post(
        f"/webhooks/{webhook.public_id}",
        '{"email": "bo@example.com", "extra": 1}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key[1]}",
    )

    listed = key_api.get(REQUESTS).json()
    detail = key_api.get(f"{REQUESTS}{listed['results'][0]['id']}/").json()

    assert listed["count"] == 1
    assert "body" not in listed["results"][0]
    assert (detail["webhook"], detail["status_code"], detail["api_key_prefix"]) == (
        webhook.pk,
        201,
        api_key[0].prefix,
    )
    assert detail["body"] == '{"email": "bo@example.com", "extra": 1}'
    assert (detail["body_truncated"], detail["unmapped_keys"]) == (False, ["extra"])
    assert detail["response"]["lead_id"] == Lead.objects.get().pk


def test_the_request_log_filters_by_webhook_and_status_code(key_api, workspace):
    form = InboundWebhook.objects.create(workspace=workspace, name="Form")
    crm = InboundWebhook.objects.create(workspace=workspace, name="CRM")
    created, rejected, other = log_request(form), log_request(form, 422), log_request(crm)

    by_webhook = key_api.get(REQUESTS, {"webhook": form.pk}).json()
    by_status = key_api.get(REQUESTS, {"status_code": 422}).json()
    bad = key_api.get(REQUESTS, {"status_code": "4xx"})

    assert {item["id"] for item in by_webhook["results"]} == {created.pk, rejected.pk}
    assert [item["id"] for item in by_status["results"]] == [rejected.pk]
    assert other.pk not in {item["id"] for item in by_webhook["results"]}
    assert (bad.status_code, list(bad.json()["error"]["fields"])) == (400, ["status_code"])


def test_a_truncated_body_is_flagged(key_api, workspace):
    entry = log_request(
        InboundWebhook.objects.create(workspace=workspace, name="Form"), body="x" * 10, body_truncated=True
    )

    detail = key_api.get(f"{REQUESTS}{entry.pk}/").json()

    assert (detail["body"], detail["body_truncated"]) == ("x" * 10, True)


def test_requests_to_unknown_ids_are_not_shown_to_workspace_callers(key_api, workspace):
    InboundRequest.objects.create(public_id="nope", status_code=404)

    assert key_api.get(REQUESTS).json()["count"] == 0


@pytest.mark.parametrize("method", ["post", "patch", "delete"])
def test_the_request_log_is_read_only(key_api, workspace, method):
    entry = log_request(InboundWebhook.objects.create(workspace=workspace, name="Form"))
    url = REQUESTS if method == "post" else f"{REQUESTS}{entry.pk}/"

    response = getattr(key_api, method)(url, {"status_code": 200}, format="json")

    assert response.status_code == 405
    assert InboundRequest.objects.get().status_code == 201


def test_a_signed_in_member_reads_the_request_log_with_a_session(member, workspace):
    log_request(InboundWebhook.objects.create(workspace=workspace, name="Form"))

    assert signed_in(member).get(REQUESTS).json()["count"] == 1


def test_strict_is_off_by_default_and_can_be_switched_on(key_api):
    created = key_api.post(URL, {"name": "Form"}, format="json").json()

    updated = key_api.patch(f"{URL}{created['id']}/", {"strict": True}, format="json")

    assert created["strict"] is False
    assert updated.status_code == 200
    assert InboundWebhook.objects.get().strict is True


def test_the_request_log_detail_holds_the_warnings_of_a_saved_lead(key_api, api_key, workspace):
    webhook = InboundWebhook.objects.create(workspace=workspace, name="Form")
    FieldMapping.objects.create(webhook=webhook, field="business_email", source_path="email")
    FieldMapping.objects.create(webhook=webhook, field="number_of_employees", source_path="employees")
    APIClient().post(
        f"/webhooks/{webhook.public_id}",
        '{"email": "bo@example.com", "employees": "n/a"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key[1]}",
    )

    request_id = key_api.get(REQUESTS).json()["results"][0]["id"]
    detail = key_api.get(f"{REQUESTS}{request_id}/").json()

    assert detail["status_code"] == 201
    assert [(w["field"], w["path"]) for w in detail["warnings"]] == [("number_of_employees", "employees")]
    assert detail["response"]["warnings"] == detail["warnings"]


def test_mapping_rows_with_transforms_round_trip(key_api, workspace):
    mappings = [
        {"field": "business_email", "source_path": "email | contact/email"},
        {
            "field": "tags",
            "source_path": "interests",
            "combine": "first",
            "transforms": [{"op": "split", "arg": ";"}, {"op": "trim"}],
            "clear_when_empty": True,
        },
        {
            "field": "name",
            "source_path": "first | last",
            "combine": "all",
            "transforms": [{"op": "join", "arg": " "}],
        },
        {"field": "lead_source", "transforms": [{"op": "constant", "arg": "HubSpot"}]},
    ]

    created = key_api.post(
        URL, {"name": "HubSpot", "default_phone_region": "US", "mappings": mappings}, format="json"
    )
    fetched = key_api.get(f"{URL}{created.json()['id']}/")

    assert created.status_code == 201, created.json()
    assert fetched.json()["default_phone_region"] == "US"
    assert fetched.json()["mappings"] == [
        {"combine": "first", "transforms": [], "clear_when_empty": False, **mappings[0]},
        mappings[1],
        {"clear_when_empty": False, **mappings[2]},
        {"source_path": "", "combine": "first", "clear_when_empty": False, **mappings[3]},
    ]


def test_a_bad_transform_is_a_400_naming_the_row_and_the_step(key_api, workspace):
    mappings = [
        {"field": "business_email", "source_path": "email"},
        {"field": "tags", "source_path": "interests", "transforms": [{"op": "split"}, {"op": "explode"}]},
    ]

    response = key_api.post(URL, {"name": "Bad", "mappings": mappings}, format="json")

    assert response.status_code == 400
    [first_row, second_row] = response.json()["error"]["fields"]["mappings"]
    assert first_row == {}
    assert second_row["transforms"][0].startswith("Transform step 2 (explode): unknown operation")
    assert not InboundWebhook.objects.filter(name="Bad").exists()


def test_an_unknown_phone_region_is_a_400(key_api, workspace):
    response = key_api.post(URL, {"name": "Phones", "default_phone_region": "XX"}, format="json")

    assert response.status_code == 400
    assert "default_phone_region" in str(response.json())
