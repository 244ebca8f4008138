"""A caller of workspace A (a member's session, or an API key of A) can neither see, change,
delete, act on nor reference workspace B's objects."""

from dataclasses import dataclass

import pytest

from leadengine.models import ApiKey
from leads.models import Campaign, CustomField, Lead, List
from tests.factories import (
    ApiKeyFactory,
    CampaignFactory,
    CustomFieldFactory,
    DeliveryFactory,
    InboundRequestFactory,
    InboundWebhookFactory,
    LeadFactory,
    ListFactory,
    OutboundWebhookFactory,
)
from webhooks.inbound.models import InboundRequest, InboundWebhook
from webhooks.outbound.models import Delivery, OutboundWebhook

from .conftest import signed_in

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Resource:
    endpoint: str
    model: type
    factory: type
    change: dict  # a valid body for PATCH/PUT/POST
    watched: str  # the field that must stay as it was
    writable: bool = True  # read-only logs answer 405 to writes, before any lookup


RESOURCES = [
    Resource("leads", Lead, LeadFactory, {"name": "Hijacked"}, "name"),
    Resource("campaigns", Campaign, CampaignFactory, {"name": "Hijacked"}, "name"),
    Resource("lists", List, ListFactory, {"name": "Hijacked"}, "name"),
    Resource(
        "custom-fields",
        CustomField,
        CustomFieldFactory,
        {"label": "Hijacked", "key": "x", "type": "text"},
        "label",
    ),
    Resource(
        "webhooks/outbound",
        OutboundWebhook,
        OutboundWebhookFactory,
        {"name": "Hijacked", "url": "http://127.0.0.1:9/hijacked"},
        "url",
    ),
    Resource("webhooks/inbound", InboundWebhook, InboundWebhookFactory, {"name": "Hijacked"}, "name"),
    Resource("deliveries", Delivery, DeliveryFactory, {"status": "pending"}, "status", writable=False),
    Resource(
        "inbound-requests",
        InboundRequest,
        InboundRequestFactory,
        {"status_code": 200},
        "status_code",
        writable=False,
    ),
    # DELETE of a key revokes it: the watched field is revoked_at.
    Resource("api-keys", ApiKey, ApiKeyFactory, {"name": "Hijacked"}, "revoked_at"),
]


@pytest.fixture(params=["session", "api_key"])
def api(request, workspace):
    """Every check runs twice: as a signed-in member of A, and with an API key of A."""
    if request.param == "session":
        return signed_in(request.getfixturevalue("member"))
    return request.getfixturevalue("key_api")


@pytest.fixture(params=RESOURCES, ids=[resource.endpoint for resource in RESOURCES])
def foreign(request, other_workspace, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True  # a URL in the body is valid: only scoping refuses
    resource = request.param
    obj = resource.factory(workspace=other_workspace)
    return {
        "list_url": f"/api/v1/{resource.endpoint}/",
        "url": f"/api/v1/{resource.endpoint}/{obj.pk}/",
        "object": obj,
        "model": resource.model,
        "change": resource.change,
        "watched": resource.watched,
        "refused": 404 if resource.writable else 405,
        "writable": resource.writable,
    }


def test_foreign_objects_are_not_listed(api, foreign):
    response = api.get(foreign["list_url"])

    assert response.status_code == 200
    assert foreign["object"].pk not in [item["id"] for item in response.json()["results"]]


def test_foreign_objects_are_not_found(api, foreign):
    response = api.get(foreign["url"])

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method", ["patch", "put"])
def test_foreign_objects_cannot_be_changed(api, foreign, method):
    before = getattr(foreign["object"], foreign["watched"])

    response = getattr(api, method)(foreign["url"], foreign["change"], format="json")

    assert response.status_code == foreign["refused"]
    foreign["object"].refresh_from_db()
    assert getattr(foreign["object"], foreign["watched"]) == before


def test_foreign_objects_cannot_be_deleted(api, foreign):
    before = getattr(foreign["object"], foreign["watched"])

    response = api.delete(foreign["url"])

    assert response.status_code == foreign["refused"]
    assert foreign["model"].objects.filter(pk=foreign["object"].pk).exists()
    foreign["object"].refresh_from_db()
    assert getattr(foreign["object"], foreign["watched"]) == before


def test_nothing_can_be_created_in_a_foreign_workspace(api, foreign):
    body = {**foreign["change"], "workspace": "globex"}
    count = foreign["model"].objects.count()

    response = api.post(foreign["list_url"], body, format="json")

    assert foreign["model"].objects.count() == count
    if not foreign["writable"]:
        assert response.status_code == 405
        return
    assert response.status_code == 400
    assert "does not exist" in response.json()["error"]["fields"]["workspace"][0]


def test_a_foreign_workspace_cannot_filter_a_list(api, foreign):
    response = api.get(foreign["list_url"], {"workspace": "globex"})

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["workspace"]


@pytest.mark.parametrize("relation, factory", [("campaigns", CampaignFactory), ("lists", ListFactory)])
@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_lead_cannot_reference_a_foreign_campaign_or_list(
    api, workspace, other_workspace, relation, factory, method
):
    foreign = factory(workspace=other_workspace)
    lead = LeadFactory(workspace=workspace)
    url = "/api/v1/leads/" if method == "post" else f"/api/v1/leads/{lead.pk}/"

    response = getattr(api, method)(url, {"name": "Linked", relation: [foreign.pk]}, format="json")

    assert response.status_code == 400
    assert "does not exist" in response.json()["error"]["fields"][relation][0]
    assert not foreign.leads.exists()
    assert Lead.objects.filter(name="Linked").count() == 0


@pytest.mark.parametrize("parameter, factory", [("campaign", CampaignFactory), ("list", ListFactory)])
def test_filtering_leads_by_a_foreign_campaign_or_list_finds_nothing(
    api, other_workspace, parameter, factory
):
    foreign = factory(workspace=other_workspace)
    lead = LeadFactory(workspace=other_workspace)
    getattr(lead, f"{parameter}s").add(foreign)

    response = api.get("/api/v1/leads/", {parameter: foreign.pk})

    assert response.json()["count"] == 0


def test_the_fields_catalogue_leaves_out_foreign_custom_fields(api, other_workspace):
    CustomFieldFactory(workspace=other_workspace, key="their_secret")

    response = api.get("/api/v1/fields/", {"page_size": 200})

    assert "their_secret" not in [entry["key"] for entry in response.json()["results"]]


# --- Actions and references of the webhook and API key resources ---------------------


def test_a_foreign_webhook_cannot_be_tested_and_nothing_is_sent(api, other_workspace, receiver):
    webhook = OutboundWebhookFactory(workspace=other_workspace, url=receiver.url)

    response = api.post(f"/api/v1/webhooks/outbound/{webhook.pk}/test/")

    assert response.status_code == 404
    assert receiver.requests == []
    assert not Delivery.objects.exists()


def test_a_foreign_webhooks_secret_cannot_be_rotated(api, other_workspace):
    webhook = OutboundWebhookFactory(workspace=other_workspace)
    secret = webhook.secret

    response = api.post(f"/api/v1/webhooks/outbound/{webhook.pk}/rotate-secret/")

    assert response.status_code == 404
    assert secret not in response.content.decode()
    webhook.refresh_from_db()
    assert (webhook.secret, webhook.previous_secret) == (secret, "")


def test_a_foreign_delivery_cannot_be_redelivered(api, other_workspace):
    delivery = DeliveryFactory(workspace=other_workspace, status="failed")

    response = api.post(f"/api/v1/deliveries/{delivery.pk}/redeliver/")

    assert response.status_code == 404
    delivery.refresh_from_db()
    assert delivery.status == "failed"


def test_a_foreign_api_key_cannot_be_revoked(api, other_workspace):
    api_key = ApiKeyFactory(workspace=other_workspace)

    response = api.post(f"/api/v1/api-keys/{api_key.pk}/revoke/")

    assert response.status_code == 404
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


@pytest.mark.parametrize("relation, factory", [("lists", ListFactory), ("campaigns", CampaignFactory)])
@pytest.mark.parametrize("method", ["post", "patch"])
def test_an_outbound_webhook_cannot_filter_on_a_foreign_list_or_campaign(
    api, workspace, other_workspace, settings, relation, factory, method
):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    foreign = factory(workspace=other_workspace)
    ours = OutboundWebhookFactory(workspace=workspace)
    url = "/api/v1/webhooks/outbound/" if method == "post" else f"/api/v1/webhooks/outbound/{ours.pk}/"

    body = {"name": "Linked", "url": "http://127.0.0.1:9/", relation: [foreign.pk]}
    response = getattr(api, method)(url, body, format="json")

    assert response.status_code == 400
    assert "does not exist" in response.json()["error"]["fields"][relation][0]
    assert not getattr(ours, relation).exists()
    assert not OutboundWebhook.objects.filter(name="Linked").exists()


@pytest.mark.parametrize("method", ["post", "patch"])
def test_an_inbound_webhook_cannot_target_a_foreign_list(api, workspace, other_workspace, method):
    foreign = ListFactory(workspace=other_workspace)
    ours = InboundWebhookFactory(workspace=workspace)
    url = "/api/v1/webhooks/inbound/" if method == "post" else f"/api/v1/webhooks/inbound/{ours.pk}/"

    response = getattr(api, method)(url, {"name": "Linked", "target_list": foreign.pk}, format="json")

    assert response.status_code == 400
    assert "does not exist" in response.json()["error"]["fields"]["target_list"][0]
    assert not InboundWebhook.objects.filter(target_list=foreign).exists()


def test_an_inbound_mapping_cannot_name_a_foreign_custom_field(api, other_workspace):
    CustomFieldFactory(workspace=other_workspace, key="their_field")

    response = api.post(
        "/api/v1/webhooks/inbound/",
        {
            "name": "Linked",
            "mappings": [{"field": "their_field", "source_path": "x"}],
            "dedupe_field": "their_field",
        },
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"mappings", "dedupe_field"}


@pytest.mark.parametrize(
    "endpoint, factory", [("deliveries", DeliveryFactory), ("inbound-requests", InboundRequestFactory)]
)
def test_filtering_a_log_by_a_foreign_webhook_finds_nothing(api, other_workspace, endpoint, factory):
    entry = factory(workspace=other_workspace)

    response = api.get(f"/api/v1/{endpoint}/", {"webhook": entry.webhook_id})

    assert response.json()["count"] == 0


def test_a_foreign_inbound_request_body_is_never_shown(api, other_workspace):
    entry = InboundRequestFactory(workspace=other_workspace)

    listed = api.get("/api/v1/inbound-requests/")
    detail = api.get(f"/api/v1/inbound-requests/{entry.pk}/")

    assert "secret@example.com" not in listed.content.decode() + detail.content.decode()
    assert detail.status_code == 404


def test_a_workspace_reference_holding_nul_is_a_400_not_a_database_error(api):
    response = api.post("/api/v1/campaigns/", {"name": "N", "workspace": "\x00/"}, format="json")

    assert response.status_code == 400
    assert "workspace" in response.json()["error"]["fields"]
