import json

import pytest
from django.urls import reverse

from leadengine.models import ApiKey
from leads.models import Lead
from tests.factories import LeadFactory, WorkspaceFactory, operator_of
from webhooks.inbound.models import SUGGESTED_MAPPINGS, InboundRequest, InboundWebhook

from .conftest import Sender, make_webhook, payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client, workspace):
    client.force_login(operator_of(workspace))
    return client


def mapping_rows(*rows):
    data = {
        "mappings-TOTAL_FORMS": str(len(rows)),
        "mappings-INITIAL_FORMS": "0",
        "mappings-MIN_NUM_FORMS": "0",
        "mappings-MAX_NUM_FORMS": "1000",
    }
    for index, (field, path) in enumerate(rows):
        data[f"mappings-{index}-field"] = field
        data[f"mappings-{index}-source_path"] = path
    return data


def test_api_key_is_shown_once_after_creation_then_never_again(operator_client, workspace):
    response = operator_client.post(
        reverse("admin:leadengine_apikey_add"),
        {"workspace": workspace.pk, "name": "Zapier", "scopes": ["webhooks:receive"]},
        follow=True,
    )

    assert response.status_code == 200
    [(shown_at, _)] = response.redirect_chain  # post/redirect/get: a reload repeats the GET only
    reloaded = operator_client.get(shown_at)
    assert reloaded.status_code == 302 and ApiKey.objects.count() == 1
    full_key = response.context["full_key"]
    assert full_key.encode() in response.content
    assert "no-store" in response["Cache-Control"]
    api_key = ApiKey.objects.get(workspace=workspace)
    assert api_key.matches(full_key)
    changelist = operator_client.get(reverse("admin:leadengine_apikey_changelist"))
    change = operator_client.get(reverse("admin:leadengine_apikey_change", args=[api_key.pk]))
    for page in (changelist, change):
        assert page.status_code == 200
        assert full_key.encode() not in page.content
        assert api_key.prefix.encode() in page.content


def test_api_keys_page_is_listed_under_settings(operator_client):
    response = operator_client.get(reverse("admin:index"))
    assert reverse("admin:leadengine_apikey_changelist").encode() in response.content
    assert b"API Keys" in response.content


def test_revoke_button_revokes_and_the_key_then_gets_401(operator_client, workspace):
    operator_client.post(
        reverse("admin:leadengine_apikey_add"),
        {"workspace": workspace.pk, "name": "Z", "scopes": ["webhooks:receive"]},
    )
    api_key = ApiKey.objects.get()
    change = operator_client.get(reverse("admin:leadengine_apikey_change", args=[api_key.pk]))
    revoke_url = reverse("admin:leadengine_apikey_revoke", args=[api_key.pk])
    assert revoke_url.encode() in change.content

    operator_client.post(revoke_url)

    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_revoke_action_on_the_list(operator_client, workspace):
    from leadengine.services import api_key_create

    api_key, secret = api_key_create(workspace=workspace, name="Z")
    operator_client.post(
        reverse("admin:leadengine_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [api_key.pk]},
    )
    response = Sender(make_webhook(workspace), secret).post(payload("article_sample.json"))
    assert response.status_code == 401


def test_operator_cannot_see_another_workspaces_keys(operator_client):
    from leadengine.services import api_key_create

    foreign, _ = api_key_create(workspace=WorkspaceFactory(), name="Theirs")
    response = operator_client.get(reverse("admin:leadengine_apikey_change", args=[foreign.pk]))
    assert response.status_code == 404


def test_new_inbound_webhook_starts_with_the_suggested_mapping(operator_client, workspace):
    response = operator_client.post(
        reverse("admin:inbound_inboundwebhook_add"),
        {
            "workspace": workspace.pk,
            "name": "Website form",
            "description": "",
            "dedupe_field": "business_email",
            "is_active": "on",
            **mapping_rows(),
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    webhook = InboundWebhook.objects.get()
    assert sorted(webhook.mappings.values_list("field", "source_path")) == sorted(SUGGESTED_MAPPINGS)
    assert len(webhook.public_id) >= 22


def test_rows_entered_on_create_replace_the_suggestions(operator_client, workspace):
    operator_client.post(
        reverse("admin:inbound_inboundwebhook_add"),
        {
            "workspace": workspace.pk,
            "name": "Typeform",
            "dedupe_field": "business_email",
            "is_active": "on",
            **mapping_rows(("business_email", "form_response/answers/[type=email]/email")),
        },
    )
    assert list(InboundWebhook.objects.get().mappings.values_list("field", flat=True)) == ["business_email"]


def test_mapping_row_with_another_workspaces_custom_field_is_refused(operator_client, workspace):
    from tests.factories import CustomFieldFactory

    CustomFieldFactory(workspace=WorkspaceFactory(), key="foreign_score")
    response = operator_client.post(
        reverse("admin:inbound_inboundwebhook_add"),
        {
            "workspace": workspace.pk,
            "name": "X",
            "dedupe_field": "business_email",
            "is_active": "on",
            **mapping_rows(("foreign_score", "score")),
        },
    )
    assert response.status_code == 200
    assert not InboundWebhook.objects.exists()


def test_webhook_page_shows_the_full_url_with_a_copy_button(operator_client, workspace, settings):
    settings.WEBHOOKS_BASE_URL = "https://webhooks.leadengine.example"
    webhook = make_webhook(workspace)

    response = operator_client.get(reverse("admin:inbound_inboundwebhook_change", args=[webhook.pk]))

    content = response.content.decode()
    assert f"https://webhooks.leadengine.example/{webhook.public_id}" in content
    assert 'data-copy-target="webhook-url"' in content
    assert "webhooks/copy.js" in content
    assert 'name="mappings-0-source_path"' in content


def test_capture_stores_the_next_request_as_a_sample_and_lists_its_paths(operator_client, workspace, secret):
    webhook = make_webhook(workspace, capture_next=True)
    sender = Sender(webhook, secret)

    first = sender.post(payload("meta_lead_ads.json"))
    sender.post(payload("article_sample.json"))  # capture is over: not the sample

    webhook.refresh_from_db()
    assert first.status_code == 422  # still processed: the suggested mapping finds no email here
    assert not webhook.capture_next
    assert json.loads(webhook.sample_body)["form_id"] == "987654321098765"
    page = operator_client.get(
        reverse("admin:inbound_inboundwebhook_change", args=[webhook.pk])
    ).content.decode()
    assert "<code>field_data/2/values/0</code>" in page
    assert "katherine@nasa.example" in page


def test_preview_shows_the_lead_a_body_would_make_without_saving(operator_client, workspace):
    webhook = make_webhook(workspace)
    url = reverse("admin:inbound_inboundwebhook_preview", args=[webhook.pk])
    assert operator_client.get(url).status_code == 200

    response = operator_client.post(url, {"body": payload("article_sample.json")})

    content = response.content.decode()
    assert "would create a new lead" in content
    assert "test@leadmagnets.io" in content and "2024-10-02T15:28:20+00:00" in content
    assert not Lead.objects.exists()


def test_preview_names_errors_and_existing_leads(operator_client, workspace):
    LeadFactory(workspace=workspace, business_email="test@leadmagnets.io")
    webhook = make_webhook(workspace)
    url = reverse("admin:inbound_inboundwebhook_preview", args=[webhook.pk])

    update = operator_client.post(url, {"body": payload("article_sample.json")}).content.decode()
    bad = operator_client.post(url, {"body": '[{"email": "nope"}]'}).content.decode()
    broken = operator_client.post(url, {"body": "{"}).content.decode()

    assert "would update" in update
    assert "not a valid email" in bad
    assert "not valid JSON" in broken


def test_request_log_is_read_only_and_linked_from_the_webhook(operator_client, workspace, secret):
    webhook = make_webhook(workspace)
    Sender(webhook, secret).post(payload("article_sample.json"))
    logged = InboundRequest.objects.get()

    page = operator_client.get(
        reverse("admin:inbound_inboundwebhook_change", args=[webhook.pk])
    ).content.decode()
    log_url = reverse("admin:inbound_inboundrequest_changelist") + f"?webhook__id__exact={webhook.pk}"
    listing = operator_client.get(log_url)
    detail = operator_client.get(reverse("admin:inbound_inboundrequest_change", args=[logged.pk]))

    assert log_url in page
    assert listing.status_code == 200 and list(listing.context["cl"].queryset) == [logged]
    assert detail.status_code == 200 and b"Lead Engine" in detail.content
    assert b'name="_save"' not in detail.content


def test_request_log_of_another_workspace_is_hidden(operator_client, secret):
    other = WorkspaceFactory()
    from leadengine.services import api_key_create

    _key, other_secret = api_key_create(workspace=other, name="o")
    Sender(make_webhook(other), other_secret).post(payload("article_sample.json"))

    listing = operator_client.get(reverse("admin:inbound_inboundrequest_changelist"))
    assert list(listing.context["cl"].queryset) == []


@pytest.mark.parametrize("source_path", ["/", " / ", "//"])
def test_source_path_slash_is_refused_in_the_admin_form(operator_client, workspace, source_path):
    response = operator_client.post(
        reverse("admin:inbound_inboundwebhook_add"),
        {
            "workspace": workspace.pk,
            "name": "Whole document",
            "dedupe_field": "business_email",
            "is_active": "on",
            **mapping_rows(("business_email", source_path)),
        },
    )

    assert response.status_code == 200
    assert "at least one key" in response.content.decode()
    assert not InboundWebhook.objects.exists()


def test_dedupe_field_of_another_workspace_is_refused_in_the_admin_form(client, workspace):
    from tests.factories import CustomFieldFactory, UserFactory

    other = WorkspaceFactory()
    CustomFieldFactory(workspace=other, key="crm_id")
    client.force_login(UserFactory(is_superuser=True))  # offered every workspace's custom fields

    response = client.post(
        reverse("admin:inbound_inboundwebhook_add"),
        {
            "workspace": workspace.pk,
            "name": "By CRM id",
            "dedupe_field": "crm_id",
            "is_active": "on",
            **mapping_rows(),
        },
    )

    assert response.status_code == 200
    assert "neither a dedupe field" in str(response.context["adminform"].form.errors["dedupe_field"])
    assert not InboundWebhook.objects.exists()


def test_request_log_shows_warnings_in_amber_on_the_list_the_detail_and_the_webhook_page(
    operator_client, workspace, secret
):
    webhook = make_webhook(workspace, mappings=(("business_email", "email"), ("website", "site")))
    Sender(webhook, secret).post({"email": "ada@example.com", "site": "not a url"})
    logged = InboundRequest.objects.get()

    listing = operator_client.get(reverse("admin:inbound_inboundrequest_changelist")).content.decode()
    detail = operator_client.get(
        reverse("admin:inbound_inboundrequest_change", args=[logged.pk])
    ).content.decode()
    page = operator_client.get(
        reverse("admin:inbound_inboundwebhook_change", args=[webhook.pk])
    ).content.decode()

    assert '<span class="le-badge le-amber">1 warning</span>' in listing
    assert '<span class="le-badge le-amber">1 warning</span>' in page
    assert '<span class="le-badge le-amber">website</span>' in detail
    assert "“not a url” is not a valid http(s) URL" in detail


def test_preview_lists_skipped_values_as_warnings_of_a_lead_that_would_be_created(operator_client, workspace):
    webhook = make_webhook(workspace, mappings=(("business_email", "email"), ("website", "site")))
    url = reverse("admin:inbound_inboundwebhook_preview", args=[webhook.pk])

    content = operator_client.post(
        url, {"body": '{"email": "a@b.example", "site": "not a url"}'}
    ).content.decode()

    assert "would create a new lead" in content
    assert '<span class="le-badge le-amber">website</span>' in content


def test_strict_switch_is_on_the_webhook_form(operator_client, workspace):
    webhook = make_webhook(workspace)

    response = operator_client.post(
        reverse("admin:inbound_inboundwebhook_change", args=[webhook.pk]),
        {
            "workspace": workspace.pk,
            "name": webhook.name,
            "description": "",
            "dedupe_field": "business_email",
            "is_active": "on",
            "strict": "on",
            **mapping_rows(),  # the existing rows are left as they are
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    webhook.refresh_from_db()
    assert webhook.strict is True


def test_the_api_key_form_starts_receive_only_and_says_why(operator_client):
    response = operator_client.get(reverse("admin:leadengine_apikey_add"))

    form = response.context["adminform"].form
    assert form["scopes"].value() == ["webhooks:receive"]
    assert b"a form vendor or Zapier only needs Receive" in response.content


def test_a_key_added_in_the_admin_gets_the_ticked_scopes_only(operator_client, workspace):
    operator_client.post(
        reverse("admin:leadengine_apikey_add"),
        {"workspace": workspace.pk, "name": "Script", "scopes": ["api:write", "api:read"]},
    )

    assert ApiKey.objects.get().scopes == ["api:read", "api:write"]


def test_the_webhook_url_panel_says_to_use_a_receive_key(operator_client, workspace):
    webhook = make_webhook(workspace)

    response = operator_client.get(reverse("admin:inbound_inboundwebhook_change", args=[webhook.pk]))

    assert b"an API key with the Receive scope" in response.content


def test_sample_rows_list_each_array_before_its_elements_and_guess_fields():
    from webhooks.inbound.admin import field_guesser, sample_rows

    rows = sample_rows({"contact": {"email": "a@b.example"}, "tags": ["vip", "beta"], "given": "Ada"})
    guess = field_guesser([])

    assert [(path, is_array) for path, _, is_array in rows] == [
        ("contact/email", False),
        ("tags", True),
        ("tags/0", False),
        ("tags/1", False),
        ("given", False),
    ]
    assert [guess(path) for path in ("contact/email", "tags", "company/name", "given")] == [
        "business_email",
        "tags",
        "company_name",
        "",
    ]


def test_a_new_action_saves_with_its_untouched_extra_mapping_row_as_a_browser_posts_it(
    operator_client, workspace
):
    """The browser posts the extra row's select and textarea as shown (`combine=first`,
    empty transforms): that row is unchanged, so it is neither saved nor validated."""
    response = operator_client.post(
        reverse("admin:inbound_inboundwebhook_add"),
        {
            "workspace": workspace.pk,
            "name": "Website form",
            "dedupe_field": "business_email",
            "auth_mode": "bearer",
            "signature_tolerance_seconds": 300,
            "hmac_algorithm": "sha256",
            "hmac_encoding": "hex",
            "hmac_signed_content": "{body}",
            "is_active": "on",
            "mappings-TOTAL_FORMS": "1",
            "mappings-INITIAL_FORMS": "0",
            "mappings-0-field": "",
            "mappings-0-source_path": "",
            "mappings-0-combine": "first",
            "mappings-0-transforms": "",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert InboundWebhook.objects.get(name="Website form")
