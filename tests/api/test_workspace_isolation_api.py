"""A member of workspace A can neither see, change, delete nor reference workspace B's objects."""

import pytest

from leads.models import Campaign, CustomField, Lead, List
from tests.factories import CampaignFactory, CustomFieldFactory, LeadFactory, ListFactory

pytestmark = pytest.mark.django_db

# (endpoint, factory, a valid change for PATCH/PUT, the field that must stay unchanged)
RESOURCES = [
    ("leads", LeadFactory, {"name": "Hijacked"}, "name"),
    ("campaigns", CampaignFactory, {"name": "Hijacked"}, "name"),
    ("lists", ListFactory, {"name": "Hijacked"}, "name"),
    ("custom-fields", CustomFieldFactory, {"label": "Hijacked", "key": "x", "type": "text"}, "label"),
]
MODELS = {"leads": Lead, "campaigns": Campaign, "lists": List, "custom-fields": CustomField}


@pytest.fixture(params=RESOURCES, ids=[resource[0] for resource in RESOURCES])
def foreign(request, other_workspace):
    endpoint, factory, change, watched = request.param
    obj = factory(workspace=other_workspace)
    return {
        "list_url": f"/api/v1/{endpoint}/",
        "url": f"/api/v1/{endpoint}/{obj.pk}/",
        "object": obj,
        "model": MODELS[endpoint],
        "change": change,
        "watched": watched,
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

    assert response.status_code == 404
    foreign["object"].refresh_from_db()
    assert getattr(foreign["object"], foreign["watched"]) == before


def test_foreign_objects_cannot_be_deleted(api, foreign):
    response = api.delete(foreign["url"])

    assert response.status_code == 404
    assert foreign["model"].objects.filter(pk=foreign["object"].pk).exists()


def test_nothing_can_be_created_in_a_foreign_workspace(api, foreign):
    body = {**foreign["change"], "workspace": "globex"}

    response = api.post(foreign["list_url"], body, format="json")

    assert response.status_code == 400
    assert "does not exist" in response.json()["error"]["fields"]["workspace"][0]
    assert foreign["model"].objects.count() == 1


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
