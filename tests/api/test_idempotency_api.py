"""Idempotency-Key on the REST API's POSTs: scoped to the API key (or user), replayed as sent."""

import pytest
import yaml
from django.core.management import call_command
from django.db import connection

from leadengine.idempotency import idempotency_request_hash
from leadengine.models import ApiKey, ApiKeyScope, IdempotencyRecord
from leadengine.services import api_key_create
from leads.models import Lead
from tests.factories import IdempotencyRecordFactory

from .conftest import bearer

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"


def post(client, path, body, key):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_create_lead_repeated_with_its_key_replays_the_answer_and_creates_one_lead(key_api):
    first = post(key_api, LEADS, {"name": "Ada", "business_email": "ada@example.com"}, "create-ada")

    repeat = post(key_api, LEADS, {"name": "Ada", "business_email": "ada@example.com"}, "create-ada")

    assert first.status_code == repeat.status_code == 201
    assert repeat.content == first.content
    assert repeat["Content-Type"] == first["Content-Type"]
    assert repeat["Idempotent-Replayed"] == "true"
    assert Lead.objects.count() == 1


def test_same_key_with_a_different_body_is_422_in_the_api_error_shape(key_api):
    post(key_api, LEADS, {"name": "Ada"}, "create-ada")

    reused = post(key_api, LEADS, {"name": "Eve"}, "create-ada")

    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert reused.json()["error"]["fields"] == {}
    assert Lead.objects.get().name == "Ada"


def test_same_key_on_another_path_is_a_different_request(key_api):
    post(key_api, LEADS, {"name": "Ada"}, "k")

    reused = post(key_api, "/api/v1/campaigns/", {"name": "Ada"}, "k")

    assert reused.status_code == 422


def test_repeat_while_the_first_is_running_is_409(key_api, api_key):
    body = b'{"name": "Ada"}'
    IdempotencyRecordFactory(
        scope=f"api-key:{api_key[0].pk}",
        key="create-ada",
        request_hash=idempotency_request_hash(b"POST", LEADS.encode(), body),
    )

    repeat = key_api.post(LEADS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="create-ada")

    assert repeat.status_code == 409
    assert repeat.json()["error"]["code"] == "idempotency_request_in_progress"
    assert Lead.objects.count() == 0


def test_a_key_over_255_characters_is_400(key_api):
    response = post(key_api, LEADS, {"name": "Ada"}, "k" * 256)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert Lead.objects.count() == 0


def test_the_same_key_of_another_api_key_is_a_different_scope(key_api, workspace):
    _other, other_secret = api_key_create(workspace=workspace, name="Other", scopes=list(ApiKeyScope.values))
    post(key_api, LEADS, {"name": "Ada"}, "k")

    other = post(bearer(other_secret), LEADS, {"name": "Ada"}, "k")

    assert other.status_code == 201
    assert not other.has_header("Idempotent-Replayed")
    assert Lead.objects.count() == 2


def test_a_session_user_has_their_own_scope(api, key_api, member):
    post(key_api, LEADS, {"name": "Ada"}, "k")

    by_user = post(api, LEADS, {"name": "Ada"}, "k")

    assert by_user.status_code == 201
    assert IdempotencyRecord.objects.filter(scope=f"user:{member.pk}").count() == 1


def test_an_unauthenticated_post_never_touches_a_key(client):
    response = client.post(LEADS, {"name": "Ada"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 401
    assert IdempotencyRecord.objects.count() == 0


def test_a_new_api_key_is_replayed_with_no_store_and_kept_encrypted(key_api, workspace):
    body = {"workspace": workspace.slug, "name": "Zapier"}
    first = post(key_api, "/api/v1/api-keys/", body, "new-key")

    repeat = post(key_api, "/api/v1/api-keys/", body, "new-key")

    assert repeat.json()["key"] == first.json()["key"]
    assert repeat["Cache-Control"] == "no-store"
    assert ApiKey.objects.filter(name="Zapier").count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT response_body FROM leadengine_idempotencyrecord")
        [(stored,)] = cursor.fetchall()
    assert first.json()["key"] not in stored


def test_custom_post_actions_honour_the_key(key_api, api_key):
    # Revoking the key that authenticates makes any later request a 401, so revoke another.
    other, _secret = api_key_create(workspace=api_key[0].workspace, name="Other")
    path = f"/api/v1/api-keys/{other.pk}/revoke/"
    first = post(key_api, path, None, "revoke-other")

    repeat = post(key_api, path, None, "revoke-other")

    assert first.status_code == repeat.status_code == 200
    assert repeat["Idempotent-Replayed"] == "true"
    assert repeat.json()["revoked_at"] == first.json()["revoked_at"]


def test_validation_errors_are_kept_like_any_answer(key_api):
    first = post(key_api, LEADS, {"business_email": "not an email"}, "k")

    repeat = post(key_api, LEADS, {"business_email": "not an email"}, "k")

    assert first.status_code == repeat.status_code == 400
    assert repeat["Idempotent-Replayed"] == "true"


def test_the_schema_lists_the_optional_header_on_every_post(tmp_path):
    schema_file = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema_file))
    schema = yaml.safe_load(schema_file.read_text())

    posts = {path: ops["post"] for path, ops in schema["paths"].items() if "post" in ops}

    assert {
        "/api/v1/leads/",
        "/api/v1/webhooks/outbound/{id}/rotate-secret/",
        "/webhooks/{public_id}/",
    } <= set(posts)
    for path, operation in posts.items():
        [header] = [p for p in operation.get("parameters", []) if p["name"] == "Idempotency-Key"]
        assert header["in"] == "header" and not header.get("required", False), path
        assert "422" in operation["responses"], path
