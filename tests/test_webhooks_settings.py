"""Settings ▸ Webhooks, the lead page's deliveries and one-click redelivery (Django test client)."""

import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    DeliveryFactory,
    InboundRequestFactory,
    InboundWebhookFactory,
    LeadFactory,
    OutboundWebhookFactory,
    WorkspaceFactory,
    operator_of,
)
from webhooks.inbound.models import InboundRequest
from webhooks.outbound.models import Delivery, OutboundWebhook

pytestmark = pytest.mark.django_db

SETTINGS_URL = reverse("admin:webhooks_settings")


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme")


@pytest.fixture
def operator_client(client, workspace):
    client.force_login(operator_of(workspace))
    return client


def trigger(workspace, name="Zapier", **kwargs):
    return OutboundWebhookFactory(workspace=workspace, name=name, url="https://hooks.example.com/x", **kwargs)


def delivery(webhook, status, age=timedelta(minutes=5), **kwargs):
    """A delivery created `age` ago; a finished one also completed then, unless told otherwise."""
    created_at = timezone.now() - age
    if status in (Delivery.Status.SUCCEEDED, Delivery.Status.FAILED):
        kwargs.setdefault("completed_at", created_at)
    return DeliveryFactory(
        webhook=webhook,
        event_id=str(uuid.uuid4()),
        payload=json.dumps({"new_lead_status": "Opportunity", "previous_lead_status": None}).encode(),
        status=status,
        created_at=created_at,
        **kwargs,
    )


def action(workspace, name="Website form", **kwargs):
    return InboundWebhookFactory(workspace=workspace, name=name, **kwargs)


def inbound_request(webhook, status_code, age=timedelta(minutes=5)):
    row = InboundRequestFactory(
        webhook=webhook, workspace=webhook.workspace, status_code=status_code, body="", response={}
    )
    InboundRequest.objects.filter(pk=row.pk).update(received_at=timezone.now() - age)
    return row


def rows(response):
    return {row["name"]: row for row in response.context["rows"]}


def test_send_data_tab_is_the_default_and_offers_add_trigger(operator_client, workspace):
    trigger(workspace)

    response = operator_client.get(SETTINGS_URL)

    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["kind"] == "send"
    assert "Zapier" in page and "Add Trigger" in page and "Add Action" not in page
    assert reverse("admin:outbound_outboundwebhook_add") in page


def test_receive_data_tab_lists_actions_and_offers_add_action(operator_client, workspace):
    action(workspace)

    response = operator_client.get(SETTINGS_URL, {"kind": "receive"})

    page = response.content.decode()
    assert "Website form" in page and "Add Action" in page and "Add Trigger" not in page
    assert reverse("admin:inbound_inboundwebhook_add") in page


def test_empty_tabs_explain_what_to_do(operator_client):
    send = operator_client.get(SETTINGS_URL).content.decode()
    receive = operator_client.get(SETTINGS_URL, {"kind": "receive"}).content.decode()

    assert "No triggers yet" in send
    assert "No actions yet" in receive


def test_outbound_health_counts_real_deliveries_of_the_last_24_hours(operator_client, workspace):
    webhook = trigger(workspace)
    delivery(webhook, Delivery.Status.SUCCEEDED, last_status_code=200)
    delivery(webhook, Delivery.Status.SUCCEEDED, last_status_code=200)
    delivery(webhook, Delivery.Status.FAILED, age=timedelta(minutes=50), last_status_code=404)
    delivery(webhook, Delivery.Status.FAILED, age=timedelta(hours=30))  # outside the window
    delivery(webhook, Delivery.Status.FAILED, is_test=True, age=timedelta(hours=2))  # a test
    retrying = delivery(
        webhook, Delivery.Status.PENDING, age=timedelta(minutes=1), attempt_count=1, last_status_code=500
    )

    row = rows(operator_client.get(SETTINGS_URL))["Zapier"]

    assert (row["total_24h"], row["failed_24h"], row["failure_rate"]) == (4, 1, 25)
    assert row["retrying"] == 1
    assert row["state"] == ("amber", "Failing")
    assert row["last"]["url"] == reverse("admin:outbound_delivery_change", args=[retrying.pk])
    assert (row["last"]["label"], row["last"]["code"]) == ("Retrying", 500)


def test_a_disabled_trigger_shows_why(operator_client, workspace):
    trigger(workspace, is_active=False, disabled_reason="Disabled automatically: every delivery failed.")

    response = operator_client.get(SETTINGS_URL)

    row = rows(response)["Zapier"]
    assert row["state"] == ("red", "Disabled")
    assert "every delivery failed" in response.content.decode()


def test_a_trigger_without_deliveries_is_healthy_and_says_so(operator_client, workspace):
    trigger(workspace)

    response = operator_client.get(SETTINGS_URL)

    row = rows(response)["Zapier"]
    assert row["state"] == ("green", "Active") and row["last"] is None and row["failure_rate"] is None
    assert "No deliveries yet" in response.content.decode()


def test_inbound_health_shows_last_request_and_errors(operator_client, workspace):
    webhook = action(workspace)
    inbound_request(webhook, 201, age=timedelta(minutes=30))
    inbound_request(webhook, 422, age=timedelta(minutes=20))
    last = inbound_request(webhook, 200, age=timedelta(minutes=10))
    inbound_request(webhook, 401, age=timedelta(days=2))

    row = rows(operator_client.get(SETTINGS_URL, {"kind": "receive"}))["Website form"]

    assert (row["last"]["code"], row["last"]["colour"]) == (200, "green")
    assert row["last"]["url"] == reverse("admin:inbound_inboundrequest_change", args=[last.pk])
    assert (row["total_24h"], row["failed_24h"], row["failure_rate"]) == (3, 1, 33)


def test_another_workspaces_webhooks_are_never_listed(operator_client, workspace):
    other = WorkspaceFactory(name="Rival")
    trigger(workspace, name="Mine")
    trigger(other, name="Theirs")
    action(workspace, name="My form")
    action(other, name="Their form")

    send = operator_client.get(SETTINGS_URL)
    receive = operator_client.get(SETTINGS_URL, {"kind": "receive"})

    assert set(rows(send)) == {"Mine"} and "Theirs" not in send.content.decode()
    assert set(rows(receive)) == {"My form"} and "Their form" not in receive.content.decode()


@pytest.mark.parametrize("kind", ["send", "receive"])
def test_the_page_costs_the_same_queries_for_one_or_many_webhooks(operator_client, workspace, kind):
    def add_webhooks(count):
        for _ in range(count):
            if kind == "send":
                webhook = trigger(workspace, name=f"T{uuid.uuid4()}")
                delivery(webhook, Delivery.Status.SUCCEEDED, last_status_code=200)
                delivery(webhook, Delivery.Status.FAILED, last_status_code=500)
            else:
                webhook = action(workspace, name=f"A{uuid.uuid4()}")
                inbound_request(webhook, 201)
                inbound_request(webhook, 422)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = operator_client.get(SETTINGS_URL, {"kind": kind})
        assert response.status_code == 200
        return len(captured), len(response.context["rows"])

    add_webhooks(1)
    few, listed_few = queries()
    add_webhooks(9)
    many, listed_many = queries()

    assert (listed_few, listed_many) == (1, 10)
    assert many == few


def test_settings_section_links_webhooks_and_api_keys(operator_client):
    page = operator_client.get(reverse("admin:index")).content.decode()

    assert SETTINGS_URL in page and reverse("admin:leadengine_apikey_changelist") in page
    assert "Webhooks (Send Data)" not in page


def test_create_forms_follow_the_articles_field_order(operator_client):
    send = operator_client.get(reverse("admin:outbound_outboundwebhook_add")).context["adminform"]
    receive = operator_client.get(reverse("admin:inbound_inboundwebhook_add")).context["adminform"]

    send_fields = [name for name in send.form.fields if name in ("name", "description", "trigger", "url")]
    receive_fields = [name for name in receive.form.fields if name in ("name", "description", "target_list")]
    assert send_fields == ["name", "description", "trigger", "url"]
    assert receive_fields == ["name", "description", "target_list"]


def test_lead_page_links_the_deliveries_its_status_changes_caused(operator_client, workspace):
    lead = LeadFactory(workspace=workspace)
    caused = delivery(trigger(workspace), Delivery.Status.SUCCEEDED, lead=lead, last_status_code=200)
    unrelated = delivery(trigger(workspace, name="Other"), Delivery.Status.SUCCEEDED)

    page = operator_client.get(reverse("admin:leads_lead_change", args=[lead.pk])).content.decode()

    assert reverse("admin:outbound_delivery_change", args=[caused.pk]) in page
    assert reverse("admin:outbound_delivery_change", args=[unrelated.pk]) not in page
    assert "no status → Opportunity" in page


def test_redeliver_makes_a_waiting_retry_due_now(
    operator_client, workspace, django_capture_on_commit_callbacks
):
    waiting = delivery(
        trigger(workspace),
        Delivery.Status.PENDING,
        attempt_count=1,
        next_attempt_at=timezone.now() + timedelta(minutes=3),
    )

    with django_capture_on_commit_callbacks() as callbacks:
        response = operator_client.post(reverse("admin:outbound_delivery_redeliver", args=[waiting.pk]))

    waiting.refresh_from_db()
    assert response.status_code == 302
    assert waiting.next_attempt_at <= timezone.now() and waiting.attempts_left == 5
    assert len(callbacks) == 1  # the worker is rung after commit


def test_redeliver_queues_a_failed_delivery_again(operator_client, workspace):
    failed = delivery(trigger(workspace), Delivery.Status.FAILED, attempt_count=6)

    operator_client.post(reverse("admin:outbound_delivery_redeliver", args=[failed.pk]))

    failed.refresh_from_db()
    assert failed.status == Delivery.Status.PENDING and failed.attempts_left == 6


def test_redeliver_of_another_workspaces_delivery_is_404(operator_client):
    foreign = delivery(trigger(WorkspaceFactory()), Delivery.Status.FAILED)

    response = operator_client.post(reverse("admin:outbound_delivery_redeliver", args=[foreign.pk]))

    foreign.refresh_from_db()
    assert response.status_code == 404 and foreign.status == Delivery.Status.FAILED


def test_an_operator_sees_the_workspace_models_on_the_index(operator_client):
    app_list = operator_client.get(reverse("admin:index")).context["app_list"]

    names = {model["object_name"] for app in app_list for model in app["models"]}
    assert {
        "Lead",
        "OutboundWebhook",
        "InboundWebhook",
        "Delivery",
        "APIKeys",
    } <= names  # Settings ▸ API Keys


def test_saving_a_new_trigger_opens_its_page(operator_client, workspace, monkeypatch):
    from webhooks.outbound import destinations

    monkeypatch.setattr(destinations, "resolve_addresses", lambda host, port: ["93.184.216.34"])
    response = operator_client.post(
        reverse("admin:outbound_outboundwebhook_add"),
        {
            "name": "Zapier",
            "description": "",
            "trigger": "lead_status_updated",
            "url": "https://hooks.example.com/1",
            "workspace": workspace.pk,
            "is_active": "on",
        },
    )

    webhook = OutboundWebhook.objects.get(name="Zapier", workspace=workspace)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:outbound_outboundwebhook_change", args=[webhook.pk])
