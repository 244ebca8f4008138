"""The inbound endpoint takes a key of its workspace only with the `webhooks:receive` scope,
parses `Authorization` exactly as the REST API does, and logs only its own workspace's key prefixes."""

import pytest

from leadengine.services import api_key_create
from tests.factories import WorkspaceFactory
from webhooks.inbound.models import InboundRequest

from .conftest import Sender, payload

# The REST API's error envelope plus the flat fields senders already parse.
WRONG_KEY = {
    "error": {"code": "authentication_failed", "message": "Invalid API key.", "fields": {}},
    "detail": "Invalid API key.",
    "code": "authentication_failed",
    "reason": "invalid api key",
}

pytestmark = pytest.mark.django_db


def test_a_receive_only_key_creates_a_lead_on_its_webhook(webhook, workspace):
    _key, receive_only = api_key_create(workspace=workspace, name="Form", scopes=["webhooks:receive"])

    response = Sender(webhook, receive_only).post(payload("article_sample.json"))

    assert response.status_code == 201


def test_a_key_of_the_workspace_without_the_receive_scope_gets_403_naming_it(webhook, workspace):
    api_key, reader = api_key_create(workspace=workspace, name="Script", scopes=["api:read", "api:write"])

    response = Sender(webhook, reader).post(payload("article_sample.json"))

    assert response.status_code == 403
    message = "This API key lacks the scope webhooks:receive."
    assert response.json() == {
        "error": {"code": "permission_denied", "message": message, "fields": {}},
        "detail": message,
        "code": "permission_denied",
    }
    logged = InboundRequest.objects.get()
    assert (logged.status_code, logged.api_key_prefix, logged.body) == (403, api_key.prefix, "")


def test_another_workspaces_key_without_the_scope_is_answered_like_a_wrong_key(webhook):
    _key, foreign = api_key_create(workspace=WorkspaceFactory(), name="Theirs", scopes=["api:read"])

    response = Sender(webhook, foreign).post(payload("article_sample.json"))

    assert response.status_code == 401
    assert response.json() == WRONG_KEY


def test_another_workspaces_key_prefix_never_appears_in_this_workspaces_log(webhook):
    foreign_key, foreign = api_key_create(workspace=WorkspaceFactory(), name="Theirs")

    Sender(webhook, foreign).post(payload("article_sample.json"))
    Sender(webhook, foreign[:-1] + "x").post(payload("article_sample.json"))

    logged = InboundRequest.objects.filter(workspace=webhook.workspace)
    assert [row.status_code for row in logged] == [401, 401]
    assert all(foreign_key.prefix not in str(row) for row in logged.values())


def test_a_wrong_secret_of_this_workspaces_key_is_logged_by_its_prefix(sender, api_key, secret):
    sender.post(payload("article_sample.json"), secret=secret[:-1] + ("x" if secret[-1] != "x" else "y"))

    assert InboundRequest.objects.get().api_key_prefix == api_key.prefix


@pytest.mark.parametrize("header", ["Bearer  {key}", "Bearer\t{key}", "Bearer {key} x", "Bearer"])
def test_a_bearer_header_without_exactly_one_space_and_one_key_is_a_401(sender, secret, header):
    response = sender.post(
        payload("article_sample.json"), secret="", headers={"HTTP_AUTHORIZATION": header.format(key=secret)}
    )

    assert response.status_code == 401
    assert response.json()["detail"].startswith("Malformed Authorization header")


def test_a_lower_case_bearer_scheme_is_accepted(sender, secret):
    response = sender.post(
        payload("article_sample.json"), secret="", headers={"HTTP_AUTHORIZATION": f"bearer {secret}"}
    )

    assert response.status_code == 201


def test_another_workspaces_revoked_or_live_key_is_answered_like_a_wrong_key_and_not_marked_used(webhook):
    from leadengine.services import api_key_revoke

    other = WorkspaceFactory()
    revoked_key, revoked = api_key_create(workspace=other, name="Old")
    api_key_revoke(api_key=revoked_key)
    live_key, live = api_key_create(workspace=other, name="Live")

    responses = [Sender(webhook, secret).post(payload("article_sample.json")) for secret in (revoked, live)]

    for response in responses:
        assert response.json() == WRONG_KEY
    live_key.refresh_from_db()
    assert live_key.last_used_at is None
