"""Sender authentication: one strategy per webhook, given the headers and the raw body."""

import pytest

from leadengine.services import api_key_create
from tests.factories import WorkspaceFactory
from webhooks.inbound.errors import InboundError
from webhooks.inbound.models import InboundRequest

from .conftest import payload

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024


def test_a_webhook_authenticates_a_bearer_key_of_its_workspace(webhook, api_key, secret):
    auth = webhook.sender_auth()

    assert auth.authenticate({"Authorization": f"Bearer {secret}"}, b"{}") == api_key


def test_a_bearer_key_of_another_workspace_is_refused_like_a_wrong_key(webhook):
    _key, foreign_secret = api_key_create(workspace=WorkspaceFactory(), name="other")

    with pytest.raises(InboundError) as refused:
        webhook.sender_auth().authenticate({"Authorization": f"Bearer {foreign_secret}"}, b"{}")

    assert (refused.value.status_code, refused.value.message) == (401, "Invalid API key.")
    assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_sender_without_a_key_gets_401_before_the_body_is_judged_and_its_body_is_not_logged(sender):
    response = sender.post('{"about": "' + "x" * (MIB + 10) + '"}', secret="")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    logged = InboundRequest.objects.get()
    assert (logged.status_code, logged.body, logged.body_size, logged.api_key) == (401, "", 0, None)


def test_a_rate_limited_request_is_logged_without_its_body(sender, settings):
    settings.INBOUND_RATE_LIMIT_PER_MINUTE = 1
    sender.post(payload("article_sample.json"))

    response = sender.post(payload("article_sample.json"))

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    limited = InboundRequest.objects.order_by("id").last()
    assert (limited.status_code, limited.body, limited.body_size) == (429, "", 0)


def test_a_get_is_answered_405_and_logged_without_a_webhook(sender):
    response = sender.client.get(sender.url(), HTTP_AUTHORIZATION=f"Bearer {sender.secret}")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    logged = InboundRequest.objects.get()
    assert (logged.status_code, logged.webhook) == (405, None)
