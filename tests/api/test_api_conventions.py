"""What every endpoint shares: authentication, pagination, error bodies, throttling, schema, docs."""

import pytest
import yaml
from django.core.management import call_command
from django.db import IntegrityError, OperationalError
from rest_framework.test import APIClient

from leadengine.api.errors import api_exception_handler
from tests.factories import CampaignFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_an_anonymous_caller_gets_a_json_error(workspace):
    response = APIClient().get("/api/v1/leads/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
            "fields": {},
        }
    }


def test_a_validation_error_names_every_bad_field(api):
    response = api.post("/api/v1/leads/", {"business_email": "nope", "lead_status": "Hot"}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"business_email", "lead_status"}
    assert "business_email" in error["message"] and "lead_status" in error["message"]


def test_a_body_that_is_not_an_object_is_a_json_400(api):
    response = api.post("/api/v1/campaigns/", "[1, 2]", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_malformed_json_is_a_parse_error(api):
    response = api.post("/api/v1/campaigns/", "{nope", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_a_lost_uniqueness_race_is_a_409_the_caller_can_retry():
    response = api_exception_handler(IntegrityError("duplicate key value"), {})

    assert response.status_code == 409
    assert response.data["error"]["code"] == "conflict"


def test_a_deadlock_or_lost_database_is_a_503_with_retry_after():
    response = api_exception_handler(OperationalError("deadlock detected"), {})

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.data["error"]["code"] == "unavailable"


def test_lists_are_paginated_with_a_page_size_capped_at_200(api, workspace):
    CampaignFactory.create_batch(3, workspace=workspace)

    first = api.get("/api/v1/campaigns/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    capped = api.get("/api/v1/campaigns/", {"page_size": 100000}).json()

    assert (first["count"], len(first["results"]), first["previous"]) == (3, 2, None)
    assert (len(second["results"]), second["next"]) == (1, None)
    assert len(capped["results"]) == 3
    assert capped["next"] is None


def test_a_page_past_the_end_is_a_json_404(api):
    response = api.get("/api/v1/campaigns/", {"page": 9})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_caller_over_the_rate_is_throttled_with_retry_after(api, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "2/minute", "anon": "2/minute"},
    }

    statuses = [api.get("/api/v1/campaigns/").status_code for _ in range(3)]
    throttled = api.get("/api/v1/campaigns/")

    assert statuses == [200, 200, 429]
    assert throttled.json()["error"]["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0


def test_the_schema_validates_without_warnings(tmp_path):
    schema_file = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema_file))

    schema = yaml.safe_load(schema_file.read_text())
    operation_ids = [
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert {
        "/api/v1/leads/",
        "/api/v1/fields/",
        "/api/v1/custom-fields/{id}/",
        "/api/v1/webhooks/outbound/{id}/test/",
        "/api/v1/webhooks/outbound/{id}/rotate-secret/",
        "/api/v1/webhooks/inbound/{id}/",
        "/api/v1/deliveries/{id}/redeliver/",
        "/api/v1/inbound-requests/{id}/",
        "/api/v1/api-keys/{id}/revoke/",
        "/webhooks/{public_id}/",
    } <= set(schema["paths"])


def test_the_schema_and_docs_are_served_without_a_cdn(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = api.get("/api/docs/")

    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()


def test_the_browsable_api_renders_for_a_signed_in_member(api, workspace):
    CampaignFactory(workspace=workspace, name="Visible in HTML")

    response = api.get("/api/v1/campaigns/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert "Visible in HTML" in response.content.decode()


def test_the_browsable_lead_form_offers_only_the_members_campaigns(api, workspace, other_workspace):
    lead = LeadFactory(workspace=workspace)
    CampaignFactory(workspace=workspace, name="Our campaign")
    CampaignFactory(workspace=other_workspace, name="Their campaign")

    response = api.get(f"/api/v1/leads/{lead.pk}/", HTTP_ACCEPT="text/html")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Our campaign" in html
    assert "Their campaign" not in html


def test_the_api_root_links_every_resource(api):
    response = api.get("/api/v1/")

    assert response.status_code == 200
    assert {
        "leads",
        "campaigns",
        "lists",
        "custom-fields",
        "fields",
        "webhooks/outbound",
        "webhooks/inbound",
        "deliveries",
        "inbound-requests",
        "api-keys",
    } <= set(response.json())


@pytest.mark.parametrize(
    "url, parameter, value, message",
    [
        (
            "/api/v1/deliveries/",
            "failed_since",
            "yesterday",
            "Expected an ISO 8601 date-time, got 'yesterday'.",
        ),
        ("/api/v1/deliveries/", "is_test", "maybe", "Expected true or false."),
        ("/api/v1/leads/", "list", "abc", "Expected an id (a positive integer), got 'abc'."),
        (
            "/api/v1/inbound-requests/",
            "status_code",
            "4xx",
            "Expected an id (a positive integer), got '4xx'.",
        ),
        ("/api/v1/campaigns/", "workspace", "nope", "No workspace 'nope' among yours."),
    ],
)
def test_a_bad_filter_value_is_a_400_in_the_error_shape_naming_the_parameter(
    key_api, url, parameter, value, message
):
    response = key_api.get(url, {parameter: value})

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid",
            "message": f"Invalid value for {parameter}.",
            "fields": {parameter: [message]},
        }
    }


def test_a_filter_on_a_detail_url_is_ignored(key_api, workspace):
    lead = LeadFactory(workspace=workspace)

    response = key_api.get(f"/api/v1/leads/{lead.pk}/", {"status": "Hot", "list": "abc"})

    assert response.status_code == 200


@pytest.mark.parametrize(
    "path, parameters",
    [
        ("/api/v1/leads/", {"workspace", "status", "list", "campaign", "search"}),
        ("/api/v1/deliveries/", {"workspace", "status", "webhook", "is_test", "failed_since"}),
        ("/api/v1/inbound-requests/", {"workspace", "webhook", "status_code"}),
        ("/api/v1/campaigns/", {"workspace"}),
    ],
)
def test_the_schema_lists_the_filter_parameters_of_each_list(api, path, parameters):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    listed = {
        parameter["name"]: parameter
        for parameter in schema["paths"][path]["get"]["parameters"]
        if parameter["in"] == "query"
    }

    assert parameters <= set(listed)
    assert all(listed[name].get("description") for name in parameters)
