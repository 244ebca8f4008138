"""The GET checks vendors make before sending: Meta's hub.challenge, Mailchimp's URL check."""

import pytest
from rest_framework.test import APIClient

from webhooks.inbound.models import InboundRequest

from .conftest import make_webhook

pytestmark = pytest.mark.django_db


def meta_check(webhook, verify_token, mode="subscribe"):
    query = {"hub.mode": mode, "hub.verify_token": verify_token, "hub.challenge": "1158201444"}
    return APIClient().get(f"/webhooks/{webhook.public_id}", query)


def test_meta_gets_its_challenge_echoed_as_text_when_the_verify_token_matches(workspace):
    webhook = make_webhook(workspace, auth_mode="meta", signing_secret="app-secret", verify_token="my-token")

    response = meta_check(webhook, "my-token")

    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")
    logged = InboundRequest.objects.get()
    assert (logged.webhook, logged.status_code, logged.response["handshake"]) == (webhook, 200, "meta")


def test_meta_with_a_wrong_verify_token_is_401_and_the_challenge_is_not_echoed(workspace):
    webhook = make_webhook(workspace, auth_mode="meta", verify_token="my-token")

    response = meta_check(webhook, "guess")

    assert (response.status_code, response.json()["reason"]) == (401, "verify token mismatch")
    assert b"1158201444" not in response.content
    assert InboundRequest.objects.get().response["reason"] == "verify token mismatch"


def test_a_webhook_without_a_verify_token_answers_no_meta_check(webhook):
    response = meta_check(webhook, "")

    assert (response.status_code, response.json()["reason"]) == (401, "no verify token")


def test_a_hub_mode_other_than_subscribe_is_refused(workspace):
    webhook = make_webhook(workspace, auth_mode="meta", verify_token="my-token")

    assert meta_check(webhook, "my-token", mode="unsubscribe").status_code == 401


def test_mailchimps_get_on_a_url_token_webhook_is_200(workspace):
    webhook = make_webhook(workspace, auth_mode="url_token")

    response = APIClient().get(f"/webhooks/{webhook.public_id}/{webhook.url_token}")

    assert response.status_code == 200
    assert InboundRequest.objects.get().response["handshake"] == "url_check"


def test_a_get_with_a_wrong_url_token_is_401(workspace):
    webhook = make_webhook(workspace, auth_mode="url_token")

    response = APIClient().get(f"/webhooks/{webhook.public_id}/wrong")

    assert (response.status_code, response.json()["reason"]) == (401, "url token mismatch")


def test_a_plain_get_on_a_webhook_is_still_405(webhook):
    assert APIClient().get(f"/webhooks/{webhook.public_id}").status_code == 405
