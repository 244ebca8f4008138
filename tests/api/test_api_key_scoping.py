"""What an API key may touch: its own workspace only, on its own request budget."""

import pytest

from leadengine.services import api_key_create
from leads.models import Lead
from tests.factories import CampaignFactory, LeadFactory

from .conftest import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def key_client(key_api, other_workspace):
    """A client holding a real API key of `workspace`, with another workspace beside it."""
    return key_api


def test_an_api_key_sees_only_its_workspace(key_client, workspace, other_workspace):
    LeadFactory(workspace=workspace, name="Ours")
    theirs = LeadFactory(workspace=other_workspace, name="Theirs")

    listed = key_client.get("/api/v1/leads/")
    foreign = key_client.get(f"/api/v1/leads/{theirs.pk}/")

    assert [lead["name"] for lead in listed.json()["results"]] == ["Ours"]
    assert foreign.status_code == 404


def test_an_api_key_creates_in_its_workspace_and_only_there(key_client, workspace, other_workspace):
    implied = key_client.post("/api/v1/leads/", {"name": "Implied"}, format="json")
    foreign = key_client.post("/api/v1/leads/", {"name": "Foreign", "workspace": "globex"}, format="json")

    assert (implied.status_code, implied.json()["workspace"]) == (201, "acme")
    assert foreign.status_code == 400
    assert not Lead.objects.filter(name="Foreign").exists()


def test_an_api_key_cannot_link_another_workspaces_campaign(key_client, other_workspace):
    foreign = CampaignFactory(workspace=other_workspace)

    response = key_client.post("/api/v1/leads/", {"campaigns": [foreign.pk]}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["campaigns"]


def test_an_api_key_is_throttled_on_its_own_budget(key_client, workspace, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "1/minute", "anon": "1/minute"},
    }
    other_key = bearer(api_key_create(workspace=workspace, name="Other", scopes=["api:read"])[1])

    first, second = key_client.get("/api/v1/campaigns/"), key_client.get("/api/v1/campaigns/")

    assert (first.status_code, second.status_code) == (200, 429)
    assert other_key.get("/api/v1/campaigns/").status_code == 200
