"""API keys through the REST API: the full key is shown once; revoking keeps the row."""

import pytest

from leadengine.models import ApiKey
from leadengine.services import api_key_create

from .conftest import bearer, signed_in

pytestmark = pytest.mark.django_db

URL = "/api/v1/api-keys/"


def test_create_returns_the_full_key_once_and_it_authenticates(key_api, workspace):
    response = key_api.post(URL, {"name": "Zapier", "scopes": ["api:read"]}, format="json")

    assert response.status_code == 201, response.json()
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    full_key = body["key"]
    api_key = ApiKey.objects.get(pk=body["id"])
    assert full_key.startswith(f"{api_key.prefix}_") and api_key.matches(full_key)
    assert (body["name"], body["workspace"], body["prefix"], body["revoked_at"]) == (
        "Zapier",
        "acme",
        api_key.prefix,
        None,
    )
    assert bearer(full_key).get("/api/v1/leads/").status_code == 200


def test_the_full_key_never_appears_again(key_api, api_key):
    full_key = key_api.post(URL, {"name": "Zapier", "scopes": ["api:manage"]}, format="json").json()["key"]
    created_id = ApiKey.objects.get(name="Zapier").pk
    with_new_key = bearer(full_key)

    responses = [
        key_api.get(URL),
        key_api.get(f"{URL}{created_id}/"),
        key_api.patch(f"{URL}{created_id}/", {"name": "Zapier prod"}, format="json"),
        with_new_key.get(URL, HTTP_ACCEPT="text/html"),
        key_api.post(f"{URL}{created_id}/revoke/"),
    ]

    for response in responses:
        assert response.status_code == 200
        content = response.content.decode()
        assert full_key not in content
        assert api_key[1] not in content
        secret_part = full_key.rpartition("_")[2]
        assert secret_part not in content
    assert "key" not in key_api.get(f"{URL}{created_id}/").json()


def test_list_shows_prefix_and_usage_of_the_callers_workspace_only(key_api, api_key, other_workspace):
    api_key_create(workspace=other_workspace, name="Theirs")

    listed = key_api.get(URL).json()

    assert [(item["name"], item["prefix"]) for item in listed["results"]] == [
        ("Integration", api_key[0].prefix)
    ]
    assert listed["results"][0]["last_used_at"] is not None  # this very request used it


def test_revoke_keeps_the_row_and_the_key_stops_working(key_api, workspace):
    other, other_key = api_key_create(workspace=workspace, name="Old")

    response = key_api.post(f"{URL}{other.pk}/revoke/")
    again = key_api.post(f"{URL}{other.pk}/revoke/")

    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert again.json()["revoked_at"] == response.json()["revoked_at"]  # idempotent
    other.refresh_from_db()
    assert other.is_revoked
    refused = bearer(other_key).get(URL)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "authentication_failed"


def test_delete_revokes_instead_of_deleting(key_api, workspace):
    other, other_key = api_key_create(workspace=workspace, name="Old")

    response = key_api.delete(f"{URL}{other.pk}/")

    assert response.status_code == 204
    assert ApiKey.objects.get(pk=other.pk).is_revoked
    assert bearer(other_key).get(URL).status_code == 401
    assert key_api.get(f"{URL}{other.pk}/").json()["revoked_at"] is not None


def test_only_the_name_can_change(key_api, api_key):
    url = f"{URL}{api_key[0].pk}/"

    response = key_api.patch(
        url, {"name": "Renamed", "prefix": "le_live_forged", "revoked_at": None}, format="json"
    )

    assert response.status_code == 200
    api_key[0].refresh_from_db()
    assert (api_key[0].name, api_key[0].prefix.startswith("le_live_forged")) == ("Renamed", False)


def test_a_blank_name_is_a_400(key_api):
    response = key_api.post(URL, {"name": ""}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["name"]


def test_a_signed_in_member_creates_a_key_credited_to_them(member, workspace):
    response = signed_in(member).post(URL, {"name": "From the browser"}, format="json")

    assert response.status_code == 201
    api_key = ApiKey.objects.get()
    assert (api_key.created_by, api_key.workspace) == (member, workspace)
    assert api_key.matches(response.json()["key"])
