import pytest
from django.contrib import admin
from django.urls import reverse

from leads.models import Lead
from tests.factories import (
    CampaignFactory,
    CustomFieldFactory,
    LeadFactory,
    ListFactory,
    MessageFactory,
    UserFactory,
    WorkspaceFactory,
    operator_of,
)
from webhooks.inbound.models import InboundWebhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def workspace():
    return WorkspaceFactory()


@pytest.fixture
def operator_client(client, workspace):
    client.force_login(operator_of(workspace))
    return client


def registered_models():
    return [model for model in admin.site._registry]


@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m._meta.label)
def test_every_changelist_and_add_page_renders_for_a_superuser(client, model):
    LeadFactory()
    client.force_login(UserFactory(is_superuser=True))
    opts = model._meta
    changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    add = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    assert add.status_code in (200, 403)  # 403 only where adding is not offered at all


def test_admin_index_is_branded(operator_client):
    response = operator_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert b"LeadEngine" in response.content


def test_api_keys_are_listed_once_under_settings_on_the_index_and_in_the_sidebar(operator_client):
    api_keys_url = reverse("admin:leadengine_apikey_changelist")

    index = operator_client.get(reverse("admin:index")).context["app_list"]
    sidebar = operator_client.get(reverse("admin:leads_lead_changelist")).context["available_apps"]

    for app_list in (index, sidebar):
        entries = [
            (app["name"], model["name"])
            for app in app_list
            for model in app["models"]
            if model["admin_url"] == api_keys_url
        ]
        assert entries == [("Settings", "API Keys")]


def test_operator_sees_only_their_workspace_leads(operator_client, workspace):
    mine = LeadFactory(workspace=workspace, name="Mine Lead")
    LeadFactory(name="Foreign Lead")

    response = operator_client.get(reverse("admin:leads_lead_changelist"))

    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [mine]


@pytest.mark.parametrize(
    "factory,url_name",
    [
        (LeadFactory, "admin:leads_lead_change"),
        (CampaignFactory, "admin:leads_campaign_change"),
        (ListFactory, "admin:leads_list_change"),
        (CustomFieldFactory, "admin:leads_customfield_change"),
    ],
)
def test_objects_of_another_workspace_are_404(operator_client, factory, url_name):
    foreign = factory()
    response = operator_client.get(reverse(url_name, args=[foreign.pk]))
    assert response.status_code == 404


def test_foreign_key_choices_are_limited_to_the_operators_workspaces(operator_client, workspace):
    own_campaign = CampaignFactory(workspace=workspace)
    foreign_campaign = CampaignFactory()

    response = operator_client.get(reverse("admin:leads_lead_add"))

    form = response.context["adminform"].form
    assert list(form.fields["workspace"].queryset) == [workspace]
    assert list(form.fields["campaigns"].queryset) == [own_campaign]
    assert foreign_campaign not in form.fields["campaigns"].queryset


def test_list_filters_offer_only_the_operators_lists(operator_client, workspace):
    ListFactory(workspace=workspace, name="Own list")
    ListFactory(name="Foreign list")
    response = operator_client.get(reverse("admin:leads_lead_changelist"))
    content = response.content.decode()
    assert "Own list" in content
    assert "Foreign list" not in content


def test_operator_cannot_post_a_lead_into_another_workspace(operator_client):
    foreign_workspace = WorkspaceFactory()
    response = operator_client.post(
        reverse("admin:leads_lead_add"),
        {"workspace": foreign_workspace.pk, "name": "Sneaky", **_empty_inline("messages")},
    )
    assert response.status_code == 200  # the form comes back with an error
    assert not Lead.objects.filter(name="Sneaky").exists()


def _empty_inline(prefix):
    return {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}


def _lead_form_data(lead, **changes):
    data = {
        "workspace": lead.workspace_id,
        "name": lead.name,
        "business_email": lead.business_email,
        "created_date_0": lead.created_date.strftime("%Y-%m-%d"),
        "created_date_1": lead.created_date.strftime("%H:%M:%S"),
        "tags": "[]",
        "import_tags": "[]",
        "custom_fields": "{}",
        **{
            f"number_of_{name}": 0
            for name in (
                "emails",
                "email_opens",
                "email_clicks",
                "email_replies",
                "phone_calls",
                "sms_sent",
                "sms_replies",
                "times_contacted",
            )
        },
        **_empty_inline("messages"),
        **_empty_inline("webhook_deliveries"),
    }
    data.update(changes)
    return data


def test_admin_edit_of_status_goes_through_the_status_service(operator_client, workspace):
    lead = LeadFactory(workspace=workspace)

    response = operator_client.post(
        reverse("admin:leads_lead_change", args=[lead.pk]), _lead_form_data(lead, lead_status="Opportunity")
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    lead.refresh_from_db()
    assert lead.lead_status == "Opportunity"
    assert [entry["value"] for entry in lead.lead_status_history] == ["Opportunity"]


def test_admin_bulk_set_status_goes_through_the_status_service(operator_client, workspace):
    leads = LeadFactory.create_batch(3, workspace=workspace)
    foreign = LeadFactory()
    ids = [lead.pk for lead in leads] + [foreign.pk]

    confirm = operator_client.post(
        reverse("admin:leads_lead_changelist"), {"action": "set_status", "_selected_action": ids}
    )
    assert confirm.status_code == 200
    response = operator_client.post(
        reverse("admin:leads_lead_changelist"),
        {"action": "set_status", "_selected_action": ids, "status": "Meeting Booked", "apply": "1"},
    )

    assert response.status_code == 302
    for lead in leads:
        lead.refresh_from_db()
        assert lead.lead_status == "Meeting Booked"
        assert len(lead.lead_status_history) == 1
    foreign.refresh_from_db()
    assert foreign.lead_status is None


def test_lead_page_shows_the_message_thread_and_status_history(operator_client, workspace):
    lead = LeadFactory(workspace=workspace)
    MessageFactory(lead=lead, subject="First message subject")
    from leads.services import lead_set_status

    lead_set_status(lead=lead, status="Needs Info")
    response = operator_client.get(reverse("admin:leads_lead_change", args=[lead.pk]))
    content = response.content.decode()
    assert "First message subject" in content
    assert "Needs Info" in content


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:leads_lead_changelist",
        "admin:leads_campaign_changelist",
        "admin:leads_list_changelist",
        "admin:leads_customfield_changelist",
        "admin:leadengine_membership_changelist",
        "admin:leadengine_apikey_changelist",
        "admin:outbound_outboundwebhook_changelist",
        "admin:outbound_delivery_changelist",
        "admin:inbound_inboundwebhook_changelist",
        "admin:inbound_inboundrequest_changelist",
    ],
)
def test_list_filters_never_name_another_workspace_or_its_webhooks(operator_client, workspace, url_name):
    from tests.inbound.conftest import make_webhook as make_inbound_webhook
    from tests.outbound.conftest import make_webhook as make_outbound_webhook

    WorkspaceFactory(name="Second own workspace").memberships.create(
        user=operator_client.get("/admin/").wsgi_request.user
    )
    foreign = WorkspaceFactory(name="Foreign Workspace Name")
    make_outbound_webhook(foreign, "https://hooks.example.com/x", name="Foreign outbound hook")
    make_inbound_webhook(foreign, name="Foreign inbound hook")
    make_outbound_webhook(workspace, "https://hooks.example.com/y", name="Own outbound hook")

    content = operator_client.get(reverse(url_name)).content.decode()

    for foreign_name in ("Foreign Workspace Name", "Foreign outbound hook", "Foreign inbound hook"):
        assert foreign_name not in content


def test_admin_status_change_fires_webhooks_filtered_on_a_list_added_in_the_same_save(
    operator_client, workspace
):
    from tests.outbound.conftest import make_webhook
    from webhooks.outbound.models import Delivery

    hot = ListFactory(workspace=workspace, name="Hot")
    webhook = make_webhook(workspace, "https://hooks.example.com/hot", lists=[hot])
    lead = LeadFactory(workspace=workspace)

    response = operator_client.post(
        reverse("admin:leads_lead_change", args=[lead.pk]),
        _lead_form_data(lead, lead_status="Opportunity", lists=[hot.pk]),
    )

    assert response.status_code == 302
    delivery = Delivery.objects.get(webhook=webhook)
    assert b'"Hot"' in bytes(delivery.payload)


def test_a_lead_cannot_be_put_on_a_list_of_another_of_the_operators_workspaces(operator_client, workspace):
    user = operator_client.get("/admin/").wsgi_request.user
    other = WorkspaceFactory(name="Other own workspace")
    other.memberships.create(user=user)
    other_list = ListFactory(workspace=other, name="Other list")
    lead = LeadFactory(workspace=workspace)

    response = operator_client.post(
        reverse("admin:leads_lead_change", args=[lead.pk]), _lead_form_data(lead, lists=[other_list.pk])
    )

    assert response.status_code == 200
    assert "lists" in response.context["adminform"].form.errors
    assert not lead.lists.exists()


def _operator_of_two_workspaces(operator_client):
    """Joins the signed-in operator to a second workspace; returns that workspace."""
    other = WorkspaceFactory(name="Other own workspace")
    other.memberships.create(user=operator_client.get("/admin/").wsgi_request.user)
    return other


def test_an_inbound_webhook_cannot_fill_a_list_of_another_of_the_operators_workspaces(
    operator_client, workspace
):
    other_list = ListFactory(workspace=_operator_of_two_workspaces(operator_client), name="Other list")

    response = operator_client.post(
        reverse("admin:inbound_inboundwebhook_add"),
        {
            "workspace": workspace.pk,
            "name": "Website form",
            "target_list": other_list.pk,
            "dedupe_field": "business_email",
            "is_active": "on",
            **_empty_inline("mappings"),
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["target_list"] == [
        f"Not in workspace {workspace}: Other list."
    ]
    assert not InboundWebhook.objects.exists()


@pytest.mark.parametrize(
    "url_name", ["admin:outbound_outboundwebhook_add", "admin:inbound_inboundwebhook_add"]
)
def test_a_new_webhook_starts_in_the_only_workspace_of_its_operator(operator_client, workspace, url_name):
    response = operator_client.get(reverse(url_name))

    assert response.context["adminform"].form.initial["workspace"] == workspace.pk


def test_a_new_webhook_leaves_the_workspace_to_choose_for_an_operator_of_several(operator_client):
    _operator_of_two_workspaces(operator_client)

    response = operator_client.get(reverse("admin:outbound_outboundwebhook_add"))

    assert "workspace" not in response.context["adminform"].form.initial


def custom_field_form(workspace, key):
    return {"workspace": workspace.pk, "key": key, "label": "Seats", "type": "number"}


def test_custom_field_key_seats_count_is_refused_in_the_admin(operator_client, workspace):
    from leads.models import CustomField

    response = operator_client.post(
        reverse("admin:leads_customfield_add"), custom_field_form(workspace, "Seats-Count")
    )

    assert response.status_code == 200
    assert "lower-case" in str(response.context["adminform"].form.errors["key"])
    assert not CustomField.objects.exists()


def test_custom_field_key_naming_a_default_field_is_refused_in_the_admin(operator_client, workspace):
    response = operator_client.post(
        reverse("admin:leads_customfield_add"), custom_field_form(workspace, "business_email")
    )

    assert response.status_code == 200
    assert "default LeadEngine field" in str(response.context["adminform"].form.errors["key"])


def test_custom_field_key_is_read_only_in_the_admin_once_created(operator_client, workspace):
    field = CustomFieldFactory(workspace=workspace, key="seats", label="Seats")
    url = reverse("admin:leads_customfield_change", args=[field.pk])

    page = operator_client.get(url)
    response = operator_client.post(url, {**custom_field_form(workspace, "chairs"), "label": "Chairs"})

    assert 'name="key"' not in page.content.decode()
    assert response.status_code == 302
    field.refresh_from_db()
    assert (field.key, field.label) == ("seats", "Chairs")
