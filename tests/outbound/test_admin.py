"""The operator's Send Data screens, driven through the admin with the test client."""

import json
from datetime import timedelta

import pytest
import standardwebhooks
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from leads.models import LeadStatus
from leads.services import lead_set_status
from tests.factories import DeliveryFactory, LeadFactory, WorkspaceFactory, operator_of
from webhooks.outbound import destinations, sender
from webhooks.outbound.models import Delivery, OutboundWebhook
from webhooks.outbound.receiver import Answer

from .conftest import make_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client, workspace):
    client.force_login(operator_of(workspace))
    return client


def change_url(webhook):
    return reverse("admin:outbound_outboundwebhook_change", args=[webhook.pk])


def form_data(workspace, url, **extra):
    return {
        "workspace": workspace.pk,
        "name": "Zapier",
        "description": "",
        "trigger": "lead_status_updated",
        "url": url,
        "is_active": "on",
        **extra,
    }


def test_a_private_destination_is_refused_on_the_form(operator_client, workspace, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False
    response = operator_client.post(
        reverse("admin:outbound_outboundwebhook_add"), form_data(workspace, "http://169.254.169.254/latest")
    )
    assert response.status_code == 200
    assert "not a public address" in response.content.decode()
    assert not OutboundWebhook.objects.exists()


def test_adding_a_webhook_generates_a_secret_shown_only_on_demand(operator_client, workspace, monkeypatch):
    monkeypatch.setattr(destinations, "resolve_addresses", lambda host, port: ["93.184.216.34"])
    response = operator_client.post(
        reverse("admin:outbound_outboundwebhook_add"),
        form_data(workspace, "https://hooks.zapier.example/1", statuses=["Opportunity", "Meeting Booked"]),
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    webhook = OutboundWebhook.objects.get()
    assert webhook.secret.startswith("whsec_")
    assert webhook.statuses == ["Opportunity", "Meeting Booked"]

    listing = operator_client.get(reverse("admin:outbound_outboundwebhook_changelist")).content.decode()
    page = operator_client.get(change_url(webhook)).content.decode()
    assert webhook.secret not in listing and webhook.secret not in page
    assert "Send Test" in page and "Rotate secret" in page
    revealed = operator_client.get(reverse("admin:outbound_outboundwebhook_secret", args=[webhook.pk]))
    assert webhook.secret in revealed.content.decode()


@pytest.mark.usefixtures("allow_private")
def test_send_test_posts_the_article_sample_with_the_workspace_name(operator_client, workspace, receiver):
    receiver.default = Answer(status=202, body=b"accepted\nline two\n")
    webhook = make_webhook(workspace, receiver.url)

    response = operator_client.post(
        reverse("admin:outbound_outboundwebhook_send_test", args=[webhook.pk]), follow=True
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "202" in page and " ms" in page and "accepted" in page
    [request] = receiver.requests
    payload = standardwebhooks.Webhook(webhook.secret).verify(request.body, request.headers)
    assert payload["workspace_name"] == "Acme Outreach"
    assert payload["lead_name"] == "Elon Musk" and payload["new_lead_status"] == "Needs Info"
    test_delivery = Delivery.objects.get()
    assert test_delivery.is_test and test_delivery.status == Delivery.Status.SUCCEEDED
    assert test_delivery.attempts.get().status_code == 202
    assert "test" in operator_client.get(change_url(webhook)).content.decode()


@pytest.mark.usefixtures("allow_private")
def test_send_test_shows_a_failure_without_retrying(operator_client, workspace, receiver):
    receiver.default = Answer(status=500, body=b"boom")
    webhook = make_webhook(workspace, receiver.url)
    page = operator_client.post(
        reverse("admin:outbound_outboundwebhook_send_test", args=[webhook.pk]), follow=True
    ).content
    assert b"Not delivered" in page and b"500" in page and b"boom" in page
    assert Delivery.objects.get().status == Delivery.Status.FAILED
    sender.deliveries_deliver()
    assert len(receiver.requests) == 1


@pytest.mark.usefixtures("allow_private")
def test_reloading_the_send_test_result_page_sends_nothing(operator_client, workspace, receiver):
    receiver.default = Answer(status=201, body=b"created once")
    webhook = make_webhook(workspace, receiver.url)

    sent = operator_client.post(reverse("admin:outbound_outboundwebhook_send_test", args=[webhook.pk]))
    first = operator_client.get(sent["Location"])
    reloaded = operator_client.get(sent["Location"])

    assert sent.status_code == 302
    assert len(receiver.requests) == 1
    for page in (first, reloaded):
        text = page.content.decode()
        assert page.status_code == 200
        assert "Delivered." in text and "HTTP 201" in text and " ms" in text and "created once" in text
    assert Delivery.objects.get().attempts.count() == 1


def test_a_real_delivery_has_no_send_test_result_page(operator_client, workspace):
    webhook = make_webhook(workspace, "https://hooks.example.com/x")
    real = DeliveryFactory(webhook=webhook, is_test=False)

    response = operator_client.get(
        reverse("admin:outbound_outboundwebhook_send_test_result", args=[webhook.pk, real.pk])
    )

    assert response.status_code == 404


def test_rotate_secret_keeps_the_previous_one_signing(operator_client, workspace):
    webhook = make_webhook(workspace, "https://example.com/hook")
    old = webhook.secret
    response = operator_client.post(
        reverse("admin:outbound_outboundwebhook_rotate_secret", args=[webhook.pk])
    )
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert webhook.secret != old and webhook.signing_secrets() == [webhook.secret, old]
    assert "previous secret still signs" in operator_client.get(change_url(webhook)).content.decode()
    assert (
        operator_client.get(
            reverse("admin:outbound_outboundwebhook_rotate_secret", args=[webhook.pk])
        ).status_code
        == 405
    )


def test_another_workspaces_webhook_is_not_found(operator_client):
    foreign = make_webhook(WorkspaceFactory(), "https://example.com/hook")
    for name in ("change", "secret"):
        assert (
            operator_client.get(
                reverse(f"admin:outbound_outboundwebhook_{name}", args=[foreign.pk])
            ).status_code
            == 404
        )
    assert (
        operator_client.post(
            reverse("admin:outbound_outboundwebhook_send_test", args=[foreign.pk])
        ).status_code
        == 404
    )


@pytest.fixture
def failed_delivery(workspace, lead, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    receiver.answers = [Answer(status=404, body=b"no such hook")]
    make_webhook(workspace, receiver.url)
    with transaction.atomic():
        lead_set_status(lead=lead, status=LeadStatus.OPPORTUNITY)
    sender.deliveries_deliver()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    return delivery


def test_delivery_pages_render_with_payload_attempts_and_filters(operator_client, failed_delivery):
    changelist = reverse("admin:outbound_delivery_changelist")
    for query in (
        "",
        "?status__exact=failed",
        "?failed_within=24h",
        "?is_test__exact=0",
        f"?webhook__id__exact={failed_delivery.webhook_id}",
    ):
        response = operator_client.get(changelist + query)
        assert response.status_code == 200
        assert str(failed_delivery.webhook) in response.content.decode()
    detail = operator_client.get(
        reverse("admin:outbound_delivery_change", args=[failed_delivery.pk])
    ).content.decode()
    assert "new_lead_status" in detail and "no such hook" in detail and "HTTP 404" in detail
    webhook_page = operator_client.get(change_url(failed_delivery.webhook)).content.decode()
    assert "Failed" in webhook_page and "HTTP 404" in webhook_page


def test_redeliver_action_sends_the_same_delivery_again(operator_client, failed_delivery, receiver):
    operator_client.post(
        reverse("admin:outbound_delivery_changelist"),
        {"action": "redeliver", "_selected_action": [failed_delivery.pk]},
    )
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == Delivery.Status.PENDING
    page = operator_client.get(
        reverse("admin:outbound_delivery_change", args=[failed_delivery.pk])
    ).content.decode()
    assert "next attempt at" in page
    sender.deliveries_deliver()
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == Delivery.Status.SUCCEEDED
    assert receiver.requests[0].body == receiver.requests[1].body
    assert [a.number for a in failed_delivery.attempts.all()] == [1, 2]


def test_redeliver_all_failed_since_asks_for_a_datetime_first(operator_client, failed_delivery):
    url = reverse("admin:outbound_delivery_changelist")
    selection = {"action": "redeliver_failed_since", "_selected_action": [failed_delivery.pk]}
    form_page = operator_client.post(url, selection)
    assert form_page.status_code == 200 and b"Failed since" in form_page.content
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == Delivery.Status.FAILED

    operator_client.post(url, {**selection, "apply": "1", "since": "2099-01-01T00:00"})
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == Delivery.Status.FAILED  # created before that date

    operator_client.post(url, {**selection, "apply": "1", "since": "2000-01-01T00:00"})
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == Delivery.Status.PENDING


def test_payload_pretty_is_the_stored_bytes(failed_delivery):
    assert json.loads(failed_delivery.payload_pretty()) == json.loads(bytes(failed_delivery.payload))


def test_filters_must_belong_to_the_webhooks_workspace(client, workspace, monkeypatch):
    from tests.factories import ListFactory, UserFactory

    monkeypatch.setattr(destinations, "resolve_addresses", lambda host, port: ["93.184.216.34"])
    client.force_login(UserFactory(is_superuser=True))
    foreign_list = ListFactory(workspace=WorkspaceFactory(), name="Theirs")
    response = client.post(
        reverse("admin:outbound_outboundwebhook_add"),
        form_data(workspace, "https://hooks.example.com/", lists=[foreign_list.pk]),
    )
    assert response.status_code == 200 and "Not in workspace" in response.content.decode()
    assert not OutboundWebhook.objects.exists()


def test_the_webhook_page_says_when_the_endpoint_is_failing_and_paused(operator_client, workspace):
    webhook = make_webhook(workspace, "https://hooks.example.com/in")
    paused_until = timezone.now() + timedelta(minutes=2)
    OutboundWebhook.objects.filter(pk=webhook.pk).update(consecutive_failures=6, paused_until=paused_until)

    page = operator_client.get(change_url(webhook)).content.decode()

    assert "Endpoint failing (6 network failures in a row): paused until" in page
    assert f"{paused_until:%Y-%m-%d %H:%M:%S}" in page


@pytest.mark.usefixtures("allow_private")
def test_an_ordered_delivery_page_names_the_delivery_it_waits_for(operator_client, workspace, receiver):
    receiver.default = Answer(status=503)
    make_webhook(workspace, receiver.url, deliver_in_order=True)
    lead = LeadFactory(workspace=workspace)
    for status in (LeadStatus.OPPORTUNITY, LeadStatus.CONVERSATION):
        with transaction.atomic():
            lead_set_status(lead=lead, status=status)
    first, second = Delivery.objects.order_by("pk")
    sender.deliveries_deliver()  # the first fails and waits for its retry

    page = operator_client.get(reverse("admin:outbound_delivery_change", args=[second.pk])).content.decode()

    first_url = reverse("admin:outbound_delivery_change", args=[first.pk])
    assert f'Waiting for delivery <a href="{first_url}">#{first.pk}</a>' in page


def test_the_delivery_settings_are_editable_and_the_cap_is_bounded(operator_client, workspace, monkeypatch):
    monkeypatch.setattr(destinations, "resolve_addresses", lambda host, port: ["93.184.216.34"])
    url = reverse("admin:outbound_outboundwebhook_add")

    refused = operator_client.post(url, form_data(workspace, "https://hooks.example.com/a", max_in_flight=33))
    saved = operator_client.post(
        url, form_data(workspace, "https://hooks.example.com/a", max_in_flight=3, deliver_in_order="on")
    )

    assert "less than or equal to 32" in refused.content.decode()
    assert saved.status_code == 302
    assert OutboundWebhook.objects.values_list("max_in_flight", "deliver_in_order").get() == (3, True)


def test_a_trigger_whose_host_does_not_resolve_yet_is_saved_with_a_warning(
    operator_client, workspace, stub_dns
):
    response = operator_client.post(
        reverse("admin:outbound_outboundwebhook_add"),
        form_data(workspace, "https://hooks.not-live-yet.example/1"),
        follow=True,
    )

    assert OutboundWebhook.objects.get().url == "https://hooks.not-live-yet.example/1"
    shown = [str(message) for message in response.context["messages"]]
    assert any("does not resolve yet; deliveries will retry" in message for message in shown)


def test_a_trigger_whose_host_resolves_is_saved_without_the_warning(operator_client, workspace, stub_dns):
    stub_dns["hooks.live.example"] = ["93.184.216.34"]

    response = operator_client.post(
        reverse("admin:outbound_outboundwebhook_add"),
        form_data(workspace, "https://hooks.live.example/1"),
        follow=True,
    )

    assert OutboundWebhook.objects.exists()
    assert not any("does not resolve" in str(message) for message in response.context["messages"])


def test_the_webhook_page_leads_with_health_and_reveals_the_secret_on_demand(
    operator_client, workspace, receiver
):
    webhook = make_webhook(workspace, receiver.url)
    receiver.default = Answer(status=500, body=b"down")
    operator_client.post(reverse("admin:outbound_outboundwebhook_send_test", args=[webhook.pk]))

    page = operator_client.get(change_url(webhook)).content.decode()
    secret = operator_client.get(
        reverse("admin:outbound_outboundwebhook_secret", args=[webhook.pk]), {"format": "json"}
    )

    assert page.index('id="le-endpoint"') < page.index('name="name"')  # above the settings
    assert 'id="le-chart"' in page and "le-bar-fail" in page  # the test's attempt, drawn
    assert webhook.secret not in page
    assert secret.json() == {"secret": webhook.secret} and "no-store" in secret["Cache-Control"]
