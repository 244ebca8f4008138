"""The webhook editor's sender-authentication section: mode, write-only secret, Reveal, Rotate."""

import pytest
from django.urls import reverse

from tests.factories import WorkspaceFactory, operator_of
from webhooks.inbound.models import InboundWebhook

from .conftest import make_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client, workspace):
    client.force_login(operator_of(workspace))
    return client


def change(operator_client, webhook, **fields):
    data = {
        "workspace": webhook.workspace_id,
        "name": webhook.name,
        "dedupe_field": "business_email",
        "is_active": "on",
        "mappings-TOTAL_FORMS": "0",
        "mappings-INITIAL_FORMS": "0",
        "mappings-MIN_NUM_FORMS": "0",
        "mappings-MAX_NUM_FORMS": "1000",
        **fields,
    }
    return operator_client.post(reverse("admin:inbound_inboundwebhook_change", args=[webhook.pk]), data)


def test_the_operator_picks_a_signature_mode_and_pastes_the_vendors_secret(operator_client, workspace):
    webhook = make_webhook(workspace)

    response = change(operator_client, webhook, auth_mode="stripe", signing_secret="whsec_abc")

    assert response.status_code == 302, response.context["adminform"].form.errors
    webhook.refresh_from_db()
    assert (webhook.auth_mode, webhook.signing_secret) == ("stripe", "whsec_abc")


def test_saving_with_a_blank_secret_keeps_the_stored_one(operator_client, workspace):
    webhook = make_webhook(workspace, auth_mode="stripe", signing_secret="whsec_abc")

    change(operator_client, webhook, auth_mode="stripe", signing_secret="", strict="on")

    webhook.refresh_from_db()
    assert (webhook.signing_secret, webhook.strict) == ("whsec_abc", True)


def test_the_secret_is_never_in_the_page_and_reveal_returns_it_uncached(operator_client, workspace):
    webhook = make_webhook(workspace, auth_mode="shopify", signing_secret="shpss_very_secret")

    page = operator_client.get(reverse("admin:inbound_inboundwebhook_change", args=[webhook.pk]))
    revealed = operator_client.get(
        reverse("admin:inbound_inboundwebhook_sender_secret", args=[webhook.pk]), {"which": "signing"}
    )

    assert b"shpss_very_secret" not in page.content
    assert revealed.json() == {"secret": "shpss_very_secret"}
    assert "no-store" in revealed["Cache-Control"]


def test_a_url_token_webhook_page_warns_about_logs_and_masks_the_token(operator_client, workspace):
    webhook = make_webhook(workspace, auth_mode="url_token")

    content = operator_client.get(
        reverse("admin:inbound_inboundwebhook_change", args=[webhook.pk])
    ).content.decode()

    assert webhook.url_token not in content
    assert "end up in server, proxy and browser logs" in content


def test_rotate_token_gives_a_new_url_token(operator_client, workspace):
    webhook = make_webhook(workspace, auth_mode="url_token")
    old = webhook.url_token

    response = operator_client.post(
        reverse("admin:inbound_inboundwebhook_rotate_url_token", args=[webhook.pk])
    )

    assert response.status_code == 302
    webhook.refresh_from_db()
    assert webhook.url_token not in ("", old)


def test_generic_hmac_without_a_header_is_refused_by_the_form(operator_client, workspace):
    webhook = make_webhook(workspace)

    response = change(operator_client, webhook, auth_mode="hmac", hmac_signed_content="{body}")

    assert response.status_code == 200
    assert "auth_header" in response.context["adminform"].form.errors
    assert InboundWebhook.objects.get().auth_mode == "bearer"


def test_another_workspaces_operator_cannot_reveal_a_secret(client, workspace):
    webhook = make_webhook(workspace, auth_mode="shopify", signing_secret="s")
    client.force_login(operator_of(WorkspaceFactory()))

    response = client.get(reverse("admin:inbound_inboundwebhook_sender_secret", args=[webhook.pk]))

    assert response.status_code == 404


def test_the_request_log_list_says_why_a_request_was_refused(operator_client, workspace):
    webhook = make_webhook(workspace, auth_mode="shopify", signing_secret="s")
    operator_client.post(f"/webhooks/{webhook.public_id}", "{}", content_type="application/json")

    content = operator_client.get(reverse("admin:inbound_inboundrequest_changelist")).content.decode()

    assert "Refused (missing header): Missing header X-Shopify-Hmac-Sha256." in content


def test_the_add_page_starts_from_a_preset_and_saves_its_rows(operator_client, workspace):
    add = reverse("admin:inbound_inboundwebhook_add")
    page = operator_client.get(add, {"preset": "typeform"})
    form = page.context["adminform"].form

    response = operator_client.post(
        add + "?preset=typeform",
        {
            "start_from_preset": "typeform",
            "workspace": workspace.pk,
            "name": form.initial["name"],
            "dedupe_field": "business_email",
            "is_active": "on",
            "auth_mode": form.initial["auth_mode"],
            "signing_secret": "typeform-secret",
            "mappings-TOTAL_FORMS": "0",
            "mappings-INITIAL_FORMS": "0",
            "mappings-MIN_NUM_FORMS": "0",
            "mappings-MAX_NUM_FORMS": "1000",
        },
    )

    assert (
        "Typeform" in page.content.decode() and "Secret: type a long random secret" in page.content.decode()
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    webhook = InboundWebhook.objects.get()
    assert (webhook.auth_mode, webhook.preset, webhook.signing_secret) == (
        "typeform",
        "typeform",
        "typeform-secret",
    )
    assert webhook.mappings.filter(
        field="business_email", source_path="form_response/answers/[type=email]/email"
    ).exists()
    change_page = operator_client.get(reverse("admin:inbound_inboundwebhook_change", args=[webhook.pk]))
    assert "Connect ▸ Webhooks ▸ Add a webhook" in change_page.content.decode()
