"""Choosing an inbound webhook's sender authentication through the REST API."""

import pytest

from webhooks.inbound.models import InboundWebhook

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks/inbound/"


def test_a_signature_mode_takes_a_secret_that_is_never_returned(key_api):
    response = key_api.post(
        URL, {"name": "Stripe", "auth_mode": "stripe", "signing_secret": "whsec_abc"}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["auth_mode"], body["has_signing_secret"]) == ("stripe", True)
    assert "signing_secret" not in body
    assert "whsec_abc" not in key_api.get(f"{URL}{body['id']}/").content.decode()
    assert InboundWebhook.objects.get().signing_secret == "whsec_abc"


def test_a_url_token_webhook_shows_its_token_url_on_create_only(key_api):
    created = key_api.post(URL, {"name": "Mailchimp", "auth_mode": "url_token"}, format="json").json()
    webhook = InboundWebhook.objects.get()

    fetched = key_api.get(f"{URL}{created['id']}/").json()

    assert created["url_with_token"] == webhook.url_with_token
    assert "url_with_token" not in fetched


def test_rotate_url_token_returns_the_new_url_once(key_api):
    created = key_api.post(URL, {"name": "Mailchimp", "auth_mode": "url_token"}, format="json").json()

    response = key_api.post(f"{URL}{created['id']}/rotate-url-token/")

    assert response.status_code == 200
    assert response.json()["url_with_token"] not in ("", created["url_with_token"])
    assert response["Cache-Control"] == "no-store"


def test_rotate_url_token_on_a_bearer_webhook_is_400_naming_the_mode(key_api):
    created = key_api.post(URL, {"name": "Zapier"}, format="json").json()

    response = key_api.post(f"{URL}{created['id']}/rotate-url-token/")

    assert response.status_code == 400
    assert "auth_mode" in str(response.json())


def test_an_unknown_mode_and_a_generic_hmac_without_header_are_400_naming_the_field(key_api):
    unknown = key_api.post(URL, {"name": "X", "auth_mode": "carrier-pigeon"}, format="json")
    no_header = key_api.post(URL, {"name": "X", "auth_mode": "hmac"}, format="json")

    assert unknown.status_code == 400 and "auth_mode" in str(unknown.json())
    assert no_header.status_code == 400 and "auth_header" in str(no_header.json())


def test_presets_are_listed_with_auth_rows_and_setup_steps(key_api):
    response = key_api.get(f"{URL}presets/")

    assert response.status_code == 200
    presets = {preset["key"]: preset for preset in response.json()}
    assert {"typeform", "stripe_checkout", "mailchimp_subscribe", "pipedrive_person", "n8n"} <= set(presets)
    assert presets["pipedrive_person"]["auth_mode"] == "basic"
    assert presets["mailchimp_subscribe"]["content_type"] == "application/x-www-form-urlencoded"
    assert presets["typeform"]["setup"] and presets["typeform"]["mappings"][0]["field"] == "business_email"


def test_create_from_a_preset_takes_its_mode_and_rows_and_what_is_sent_wins(key_api):
    response = key_api.post(
        URL, {"name": "Shop", "preset": "shopify_customer", "signing_secret": "shpss_x"}, format="json"
    )
    overridden = key_api.post(
        URL, {"name": "Shop 2", "preset": "shopify_order", "auth_mode": "bearer"}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["auth_mode"], body["has_signing_secret"]) == ("shopify", True)
    assert ("business_email", "email") in pairs(body["mappings"])
    assert overridden.json()["auth_mode"] == "bearer"
    assert ("first_name", "customer/first_name") in pairs(overridden.json()["mappings"])


def test_an_unknown_preset_is_400_naming_the_field(key_api):
    response = key_api.post(URL, {"name": "X", "preset": "myspace"}, format="json")

    assert response.status_code == 400
    assert "preset" in str(response.json())


def test_a_preset_on_update_is_400(key_api):
    created = key_api.post(URL, {"name": "Zapier"}, format="json").json()

    response = key_api.patch(f"{URL}{created['id']}/", {"preset": "zapier"}, format="json")

    assert response.status_code == 400
    assert "preset" in str(response.json())


def pairs(rows):
    return [(row["field"], row["source_path"]) for row in rows]
