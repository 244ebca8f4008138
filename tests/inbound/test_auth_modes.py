"""Sender authentication modes with an API key or a URL token, through the endpoint."""

import base64

import pytest
from rest_framework.test import APIClient

from leadengine.services import api_key_create
from leads.models import Lead
from tests.factories import WorkspaceFactory
from webhooks.inbound.models import InboundRequest, InboundWebhook

from .conftest import make_webhook

pytestmark = pytest.mark.django_db

BODY = '{"email": "ada@example.com", "first_name": "Ada"}'


def post(webhook, body=BODY, path_suffix="", **headers):
    return APIClient().generic(
        "POST",
        f"/webhooks/{webhook.public_id}{path_suffix}",
        body,
        content_type="application/json",
        **headers,
    )


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_new_webhook_authenticates_senders_by_bearer_key(workspace):
    assert make_webhook(workspace).auth_mode == "bearer"


def test_basic_auth_with_the_key_as_password_creates_the_lead(workspace, secret):
    webhook = make_webhook(workspace, auth_mode="basic")

    response = post(webhook, HTTP_AUTHORIZATION=basic("pipedrive", secret))

    assert response.status_code == 201, response.json()
    assert Lead.objects.filter(business_email="ada@example.com").exists()


def test_basic_auth_accepts_the_key_as_username_with_an_empty_password(workspace, secret):
    webhook = make_webhook(workspace, auth_mode="basic")

    assert post(webhook, HTTP_AUTHORIZATION=basic(secret, "")).status_code == 201


def test_basic_auth_with_a_wrong_key_is_401_with_a_basic_challenge(workspace, secret):
    webhook = make_webhook(workspace, auth_mode="basic")

    wrong = secret[:-1] + ("y" if secret.endswith("x") else "x")  # never the key itself
    response = post(webhook, HTTP_AUTHORIZATION=basic("user", wrong))

    assert response.status_code == 401
    assert response.json()["reason"] == "invalid api key"
    assert response["WWW-Authenticate"].startswith("Basic")


def test_basic_auth_refuses_a_bearer_header_as_missing_credentials(workspace, secret):
    webhook = make_webhook(workspace, auth_mode="basic")

    response = post(webhook, HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_malformed_basic_credentials_are_401_naming_the_format(workspace):
    webhook = make_webhook(workspace, auth_mode="basic")

    response = post(webhook, HTTP_AUTHORIZATION="Basic not-base64!")

    assert response.status_code == 401
    assert "Malformed Basic credentials" in response.json()["detail"]


def test_the_key_in_x_api_key_is_accepted_by_default(workspace, secret):
    webhook = make_webhook(workspace, auth_mode="api_key_header")

    assert post(webhook, HTTP_X_API_KEY=secret).status_code == 201


def test_the_key_in_a_named_header_is_accepted_and_x_api_key_is_not(workspace, secret):
    webhook = make_webhook(workspace, auth_mode="api_key_header", auth_header="X-LeadEngine-Key")

    assert post(webhook, HTTP_X_API_KEY=secret).status_code == 401
    assert post(webhook, HTTP_X_LEADENGINE_KEY=secret).status_code == 201


def test_another_workspaces_key_in_a_header_is_refused_like_a_wrong_key(workspace):
    webhook = make_webhook(workspace, auth_mode="api_key_header")
    _key, foreign = api_key_create(workspace=WorkspaceFactory(), name="Theirs")

    response = post(webhook, HTTP_X_API_KEY=foreign)

    assert (response.status_code, response.json()["detail"]) == (401, "Invalid API key.")
    assert InboundRequest.objects.get().api_key_prefix == ""


def test_a_header_key_without_the_receive_scope_is_403(workspace):
    webhook = make_webhook(workspace, auth_mode="api_key_header")
    _key, reader = api_key_create(workspace=workspace, name="Reader", scopes=["api:read"])

    assert post(webhook, HTTP_X_API_KEY=reader).status_code == 403


def test_a_url_token_webhook_gets_a_token_and_accepts_its_url_without_a_key(workspace):
    webhook = make_webhook(workspace, auth_mode="url_token")

    response = post(webhook, path_suffix=f"/{webhook.url_token}")

    assert len(webhook.url_token) >= 40
    assert webhook.url_with_token.endswith(f"/{webhook.public_id}/{webhook.url_token}")
    assert response.status_code == 201, response.json()
    logged = InboundRequest.objects.get()
    assert webhook.url_token not in logged.public_id + str(logged.response)


def test_a_url_token_webhook_refuses_a_wrong_token_and_its_bare_url(workspace, secret):
    webhook = make_webhook(workspace, auth_mode="url_token")

    wrong = post(webhook, path_suffix="/not-the-token")
    bare = post(webhook, HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert (wrong.status_code, wrong.json()["reason"]) == (401, "url token mismatch")
    assert (bare.status_code, bare.json()["reason"]) == (401, "missing url token")
    assert not Lead.objects.exists()


def test_a_rotated_url_token_stops_the_old_url_at_once(workspace):
    webhook = make_webhook(workspace, auth_mode="url_token")
    old = webhook.url_token

    webhook.rotate_url_token()

    assert post(webhook, path_suffix=f"/{old}").status_code == 401
    assert post(webhook, path_suffix=f"/{webhook.url_token}").status_code == 201


def test_a_token_url_of_a_bearer_webhook_is_404(webhook, secret):
    response = post(webhook, path_suffix="/anything", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert (response.status_code, response.json()["code"]) == (404, "webhook_not_found")


def test_a_refusal_is_logged_with_its_reason_and_without_the_body(workspace):
    webhook = make_webhook(workspace, auth_mode="url_token")

    post(webhook, path_suffix="/wrong")

    logged = InboundRequest.objects.get()
    assert (logged.status_code, logged.response["reason"], logged.body) == (401, "url token mismatch", "")


def test_generic_hmac_without_a_header_name_is_refused_by_the_model_rule(workspace):
    webhook = InboundWebhook(
        workspace=workspace, name="x", auth_mode="hmac", hmac_signed_content="{timestamp}"
    )

    errors = webhook.auth_errors()

    assert set(errors) == {"auth_header", "hmac_signed_content", "hmac_timestamp_header"}


def test_a_google_ads_key_in_the_body_is_accepted_and_a_wrong_one_refused(workspace):
    webhook = make_webhook(workspace, auth_mode="body_key", signing_secret="form-key-123")

    good = post(webhook, '{"google_key": "form-key-123", "email": "ada@example.com"}')
    bad = post(webhook, '{"google_key": "guess", "email": "eve@example.com"}')
    missing = post(webhook, '{"email": "eve@example.com"}')

    assert good.status_code == 201, good.json()
    assert (bad.status_code, bad.json()["reason"]) == (401, "body key mismatch")
    assert (missing.status_code, missing.json()["reason"]) == (401, "missing body key")
    assert Lead.objects.count() == 1
