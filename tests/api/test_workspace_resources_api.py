"""Campaigns, lists, custom fields and the fields catalogue through the API."""

import pytest

from leads.catalogue import DEFAULT_FIELDS
from leads.models import Campaign, CustomField, List
from tests.factories import CampaignFactory, CustomFieldFactory, ListFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url, model, factory",
    [("/api/v1/campaigns/", Campaign, CampaignFactory), ("/api/v1/lists/", List, ListFactory)],
)
class TestNamedCollections:
    def test_create_list_retrieve_rename_delete(self, api, workspace, url, model, factory):
        created = api.post(url, {"name": "Spring push"}, format="json")
        assert created.status_code == 201, created.json()
        object_url = f"{url}{created.json()['id']}/"

        listed = api.get(url).json()
        assert [item["name"] for item in listed["results"]] == ["Spring push"]
        assert api.get(object_url).json()["workspace"] == "acme"

        renamed = api.patch(object_url, {"name": "Autumn push"}, format="json")
        assert renamed.status_code == 200
        assert model.objects.get().name == "Autumn push"

        assert api.delete(object_url).status_code == 204
        assert not model.objects.exists()

    def test_a_name_is_unique_per_workspace(self, api, workspace, other_workspace, url, model, factory):
        factory(workspace=workspace, name="Taken")
        factory(workspace=other_workspace, name="Elsewhere")

        duplicate = api.post(url, {"name": "Taken"}, format="json")
        fine = api.post(url, {"name": "Elsewhere"}, format="json")

        assert duplicate.status_code == 400
        assert list(duplicate.json()["error"]["fields"]) == ["name"]
        assert fine.status_code == 201

    def test_a_blank_name_is_a_400(self, api, url, model, factory):
        response = api.post(url, {"name": ""}, format="json")

        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == ["name"]


class TestCustomFieldDefinitions:
    URL = "/api/v1/custom-fields/"

    def test_create_update_delete(self, api, workspace):
        created = api.post(self.URL, {"key": "seats", "label": "Seats", "type": "number"}, format="json")
        assert created.status_code == 201, created.json()
        url = f"{self.URL}{created.json()['id']}/"

        relabelled = api.patch(url, {"label": "Licensed seats"}, format="json")
        assert relabelled.status_code == 200
        assert CustomField.objects.get().label == "Licensed seats"

        assert api.delete(url).status_code == 204
        assert not CustomField.objects.exists()

    @pytest.mark.parametrize(
        "key, problem",
        [
            ("business_email", "default LeadEngine field"),
            ("lead_status", "default"),
            ("Bad-Key", "lower-case"),
        ],
    )
    def test_a_key_that_clashes_or_is_malformed_is_a_400(self, api, key, problem):
        response = api.post(self.URL, {"key": key, "label": "X", "type": "text"}, format="json")

        assert response.status_code == 400
        assert problem in response.json()["error"]["fields"]["key"][0]

    def test_a_key_is_unique_per_workspace_and_cannot_change(self, api, workspace):
        field = CustomFieldFactory(workspace=workspace, key="seats")

        duplicate = api.post(self.URL, {"key": "seats", "label": "X", "type": "text"}, format="json")
        renamed = api.patch(f"{self.URL}{field.pk}/", {"key": "chairs"}, format="json")

        assert duplicate.status_code == 400
        assert renamed.status_code == 400
        assert "cannot change" in renamed.json()["error"]["fields"]["key"][0]

    def test_an_unknown_type_is_a_400(self, api):
        response = api.post(self.URL, {"key": "seats", "label": "X", "type": "currency"}, format="json")

        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == ["type"]


def test_fields_catalogue_lists_defaults_then_the_workspaces_custom_fields(api, workspace, other_workspace):
    CustomFieldFactory(workspace=workspace, key="seats", label="Seats", type="number")
    CustomFieldFactory(workspace=other_workspace, key="secret", type="text")

    response = api.get("/api/v1/fields/", {"page_size": 200})

    assert response.status_code == 200
    entries = response.json()["results"]
    assert response.json()["count"] == len(DEFAULT_FIELDS) + 1
    by_key = {entry["key"]: entry for entry in entries}
    assert by_key["business_email"] == {
        "key": "business_email",
        "label": "Business email",
        "type": "email",
        "writable": True,
        "dedupe": True,
        "source": "default",
        "workspace": None,
    }
    assert by_key["lead_status_history"]["writable"] is False
    assert by_key["seats"] == {
        "key": "seats",
        "label": "Seats",
        "type": "number",
        "writable": True,
        "dedupe": False,
        "source": "custom",
        "workspace": "acme",
    }
    assert "secret" not in by_key
    assert entries[-1]["key"] == "seats"
