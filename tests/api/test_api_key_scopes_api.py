"""What each API key scope lets a key do on the REST API, and the 403 that names a missing one."""

import pytest

from config.api_urls import router
from leadengine.models import ApiKey, all_scopes
from leadengine.services import api_key_create
from leads.models import Lead
from tests.factories import (
    ApiKeyFactory,
    DeliveryFactory,
    InboundWebhookFactory,
    LeadFactory,
    OutboundWebhookFactory,
)

from .conftest import bearer, signed_in

pytestmark = pytest.mark.django_db

LIST_URLS = ["/api/v1/", *(f"/api/v1/{prefix}/" for prefix, _viewset, _basename in router.registry)]


def key_client(workspace, *scopes):
    """A client holding a key of `workspace` with exactly `scopes`."""
    return bearer(api_key_create(workspace=workspace, name="Scoped", scopes=list(scopes))[1])


@pytest.fixture
def objects(workspace):
    """One object of each kind the unsafe requests below act on."""
    return {
        "lead": LeadFactory(workspace=workspace),
        "outbound": OutboundWebhookFactory(workspace=workspace, url="http://127.0.0.1:9/hook"),
        "inbound": InboundWebhookFactory(workspace=workspace),
        "delivery": DeliveryFactory(workspace=workspace),
        "api_key": ApiKeyFactory(workspace=workspace),
    }


def unsafe_requests(objects):
    """(method, url, body, scope it needs) for writes and actions on every kind of resource."""
    lead, outbound, inbound = objects["lead"], objects["outbound"], objects["inbound"]
    delivery, api_key = objects["delivery"], objects["api_key"]
    return [
        ("post", "/api/v1/leads/", {"name": "New"}, "api:write"),
        ("patch", f"/api/v1/leads/{lead.pk}/", {"name": "Changed"}, "api:write"),
        ("delete", f"/api/v1/leads/{lead.pk}/", None, "api:write"),
        ("post", "/api/v1/leads/set-status/", {"ids": [lead.pk], "lead_status": "Follow Up"}, "api:write"),
        ("post", "/api/v1/campaigns/", {"name": "New"}, "api:write"),
        ("post", f"/api/v1/deliveries/{delivery.pk}/redeliver/", None, "api:write"),
        ("post", "/api/v1/webhooks/outbound/", {"name": "x", "url": "http://127.0.0.1:9/"}, "api:manage"),
        ("post", f"/api/v1/webhooks/outbound/{outbound.pk}/test/", None, "api:manage"),
        ("post", f"/api/v1/webhooks/outbound/{outbound.pk}/rotate-secret/", None, "api:manage"),
        ("patch", f"/api/v1/webhooks/inbound/{inbound.pk}/", {"name": "Changed"}, "api:manage"),
        ("post", "/api/v1/api-keys/", {"name": "More"}, "api:manage"),
        ("post", f"/api/v1/api-keys/{api_key.pk}/revoke/", None, "api:manage"),
        ("delete", f"/api/v1/api-keys/{api_key.pk}/", None, "api:manage"),
    ]


def assert_refused_for_lacking(response, scope):
    assert response.status_code == 403, (response.status_code, response.content)
    assert response.json() == {
        "error": {
            "code": "permission_denied",
            "message": f"This API key lacks the scope {scope}.",
            "fields": {},
        }
    }


@pytest.mark.parametrize("url", LIST_URLS)
def test_a_receive_only_key_gets_403_naming_the_scope_on_every_list(workspace, url):
    receive_only = key_client(workspace, "webhooks:receive")

    response = receive_only.get(url)

    needed = "api:manage" if url.startswith(("/api/v1/webhooks/", "/api/v1/api-keys/")) else "api:read"
    assert_refused_for_lacking(response, needed)


def test_a_receive_only_key_gets_403_naming_the_scope_on_every_write_and_changes_nothing(workspace, objects):
    receive_only = key_client(workspace, "webhooks:receive")
    keys_before = ApiKey.objects.count()

    for method, url, body, scope in unsafe_requests(objects):
        response = getattr(receive_only, method)(url, body, format="json")
        assert_refused_for_lacking(response, scope)

    assert Lead.objects.filter(pk=objects["lead"].pk).exists()
    assert ApiKey.objects.count() == keys_before
    assert ApiKey.objects.filter(revoked_at__isnull=False).count() == 0


def test_a_read_key_reads_leads_but_cannot_create_one(workspace):
    LeadFactory(workspace=workspace, name="Ada")
    reader = key_client(workspace, "api:read")

    listed = reader.get("/api/v1/leads/")
    created = reader.post("/api/v1/leads/", {"name": "New"}, format="json")

    assert [lead["name"] for lead in listed.json()["results"]] == ["Ada"]
    assert_refused_for_lacking(created, "api:write")
    assert not Lead.objects.filter(name="New").exists()


def test_a_read_and_write_key_changes_leads(workspace):
    writer = key_client(workspace, "api:read", "api:write")

    created = writer.post("/api/v1/leads/", {"name": "New"}, format="json")

    assert created.status_code == 201


def test_a_write_key_can_neither_read_nor_change_webhooks_and_keys(workspace, objects):
    writer = key_client(workspace, "api:read", "api:write")

    refused = [writer.get("/api/v1/webhooks/outbound/"), writer.get("/api/v1/api-keys/")] + [
        getattr(writer, method)(url, body, format="json")
        for method, url, body, scope in unsafe_requests(objects)
        if scope == "api:manage"
    ]

    for response in refused:
        assert_refused_for_lacking(response, "api:manage")


def test_a_manage_key_creates_a_key_with_at_most_its_own_scopes(workspace):
    manager = key_client(workspace, "webhooks:receive", "api:manage")

    narrower = manager.post(
        "/api/v1/api-keys/", {"name": "Form", "scopes": ["webhooks:receive"]}, format="json"
    )
    wider = manager.post(
        "/api/v1/api-keys/", {"name": "Reader", "scopes": ["webhooks:receive", "api:read"]}, format="json"
    )

    assert (narrower.status_code, narrower.json()["scopes"]) == (201, ["webhooks:receive"])
    assert wider.status_code == 403
    assert wider.json()["error"]["message"] == "This API key lacks the scope api:read, so it cannot grant it."
    assert not ApiKey.objects.filter(name="Reader").exists()


def test_a_manage_key_cannot_widen_an_existing_key(workspace):
    manager = key_client(workspace, "api:manage")
    form_key = ApiKeyFactory(workspace=workspace, scopes=["webhooks:receive", "api:manage"])

    widened = manager.patch(
        f"/api/v1/api-keys/{form_key.pk}/", {"scopes": ["webhooks:receive", "api:write"]}, format="json"
    )

    assert widened.status_code == 403
    form_key.refresh_from_db()
    assert form_key.scopes == ["webhooks:receive", "api:manage"]


def test_a_key_created_through_the_api_without_scopes_is_receive_only(key_api):
    created = key_api.post("/api/v1/api-keys/", {"name": "Zapier"}, format="json")

    assert (created.status_code, created.json()["scopes"]) == (201, ["webhooks:receive"])
    assert ApiKey.objects.get(pk=created.json()["id"]).scopes == ["webhooks:receive"]


def test_unknown_or_no_scopes_are_a_400_naming_the_field(key_api):
    unknown = key_api.post("/api/v1/api-keys/", {"name": "X", "scopes": ["api:everything"]}, format="json")
    empty = key_api.post("/api/v1/api-keys/", {"name": "X", "scopes": []}, format="json")

    for response in (unknown, empty):
        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == ["scopes"]


def test_a_signed_in_member_is_not_scoped_and_grants_any_scope(member):
    session = signed_in(member)

    created = session.post("/api/v1/api-keys/", {"name": "Script", "scopes": all_scopes()}, format="json")

    assert session.get("/api/v1/webhooks/outbound/").status_code == 200
    assert (created.status_code, created.json()["scopes"]) == (201, all_scopes())


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_bearer_scheme_name_is_accepted_in_any_case(key_api, api_key, scheme):
    client = bearer(api_key[1])
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {api_key[1]}")

    assert client.get("/api/v1/leads/").status_code == 200


@pytest.mark.parametrize("header", ["Bearer  {key}", "Bearer\t{key}", "Bearer {key} x", "Bearer"])
def test_a_bearer_header_without_exactly_one_space_and_one_key_is_a_401(api_key, header):
    client = bearer("")
    client.credentials(HTTP_AUTHORIZATION=header.format(key=api_key[1]))

    response = client.get("/api/v1/leads/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["message"].startswith("Malformed Authorization header")


def test_the_schema_describes_the_scopes_and_names_each_operations_scope(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    description = schema["components"]["securitySchemes"]["apiKey"]["description"]
    operations = schema["paths"]
    assert all(scope in description for scope in all_scopes())
    assert operations["/api/v1/leads/"]["get"]["x-required-scope"] == "api:read"
    assert operations["/api/v1/leads/"]["post"]["x-required-scope"] == "api:write"
    assert operations["/api/v1/webhooks/outbound/"]["get"]["x-required-scope"] == "api:manage"
    assert operations["/api/v1/api-keys/"]["post"]["x-required-scope"] == "api:manage"
    assert "API key scope: `api:write`." in operations["/api/v1/leads/"]["post"]["description"]
