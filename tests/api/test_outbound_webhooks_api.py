"""Outbound webhooks (Send Data) through the REST API: CRUD, SSRF, the secret, Send Test, rotation."""

import pytest
import standardwebhooks

from tests.factories import CampaignFactory, DeliveryFactory, ListFactory, OutboundWebhookFactory
from webhooks.outbound.models import Delivery, OutboundWebhook
from webhooks.outbound.receiver import Answer

from .conftest import signed_in

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks/outbound/"


def detail(webhook, suffix=""):
    return f"{URL}{webhook.pk}/{suffix}"


def test_create_with_filters_returns_the_secret_once(key_api, workspace, receiver):
    a_list, campaign = ListFactory(workspace=workspace), CampaignFactory(workspace=workspace)

    response = key_api.post(
        URL,
        {
            "name": "CRM sync",
            "description": "Opportunities to the CRM",
            "url": receiver.url,
            "lists": [a_list.pk],
            "campaigns": [campaign.pk],
            "statuses": ["Opportunity", "Meeting Booked", "Opportunity"],
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    webhook = OutboundWebhook.objects.get(pk=body["id"])
    assert body["secret"] == webhook.secret and body["secret"].startswith("whsec_")
    assert response["Cache-Control"] == "no-store"
    assert (body["workspace"], body["trigger"], body["is_active"]) == ("acme", "lead_status_updated", True)
    assert (body["lists"], body["campaigns"]) == ([a_list.pk], [campaign.pk])
    assert webhook.statuses == ["Opportunity", "Meeting Booked"]
    assert webhook.workspace == workspace


def test_the_secret_never_appears_in_list_retrieve_or_update(key_api, workspace):
    webhook = OutboundWebhookFactory(workspace=workspace)
    webhook.previous_secret = "whsec_cHJldmlvdXNwcmV2aW91c3ByZXZpb3VzcHJldmlvdXM="
    webhook.save()

    responses = [
        key_api.get(URL),
        key_api.get(detail(webhook)),
        key_api.patch(detail(webhook), {"name": "Renamed"}, format="json"),
        key_api.get(URL, HTTP_ACCEPT="text/html"),
    ]

    for response in responses:
        assert response.status_code == 200
        content = response.content.decode()
        assert webhook.secret not in content
        assert webhook.previous_secret not in content
        assert "secret" not in (response.json() if "json" in response["Content-Type"] else {})


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://127.0.0.1:8000/hook", "not a public address"),
        ("http://10.0.0.7/hook", "not a public address"),
        ("http://169.254.169.254/latest/meta-data", "not a public address"),
        ("ftp://example.com/hook", "Only http:// and https://"),
        ("http://user:pass@example.com/", "Credentials"),
    ],
)
def test_a_destination_the_admin_form_refuses_is_a_400_naming_url(key_api, settings, url, problem):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False

    response = key_api.post(URL, {"name": "Sneaky", "url": url}, format="json")

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == ["url"]
    assert any(problem in message for message in fields["url"])
    assert not OutboundWebhook.objects.exists()


def test_a_private_destination_is_refused_on_update_too(key_api, workspace, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False
    webhook = OutboundWebhookFactory(workspace=workspace, url="http://127.0.0.1:9/")

    response = key_api.patch(detail(webhook), {"url": "http://192.168.1.1/"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["url"]


def test_unknown_statuses_and_read_only_health_fields(key_api, workspace):
    webhook = OutboundWebhookFactory(workspace=workspace, is_active=False, disabled_reason="410 Gone")

    bad = key_api.patch(detail(webhook), {"statuses": ["Hot"]}, format="json")
    forged = key_api.patch(detail(webhook), {"disabled_reason": "", "name": "Kept"}, format="json")

    assert bad.status_code == 400
    assert list(bad.json()["error"]["fields"]) == ["statuses"]
    assert forged.status_code == 200
    assert forged.json()["disabled_reason"] == "410 Gone"


def test_update_replaces_filters_and_reactivating_clears_the_disabled_reason(key_api, workspace, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    old_list, new_list = ListFactory(workspace=workspace), ListFactory(workspace=workspace)
    webhook = OutboundWebhookFactory(
        workspace=workspace, is_active=False, disabled_reason="Disabled automatically"
    )
    webhook.lists.set([old_list])

    response = key_api.put(
        detail(webhook),
        {"name": "Back", "url": webhook.url, "is_active": True, "lists": [new_list.pk], "statuses": []},
        format="json",
    )

    assert response.status_code == 200, response.json()
    webhook.refresh_from_db()
    assert (webhook.name, webhook.is_active, webhook.disabled_reason) == ("Back", True, "")
    assert list(webhook.lists.all()) == [new_list]
    assert response.json()["disabled_reason"] == ""


def test_list_shows_the_newest_deliverys_time_and_state(key_api, workspace, django_assert_max_num_queries):
    webhook = OutboundWebhookFactory(workspace=workspace, name="Zapier")
    OutboundWebhookFactory(workspace=workspace, name="Quiet")
    DeliveryFactory(webhook=webhook, status="failed")
    newest = DeliveryFactory(webhook=webhook, status="succeeded")

    with django_assert_max_num_queries(8):
        listed = key_api.get(URL).json()

    by_name = {item["name"]: item for item in listed["results"]}
    assert by_name["Zapier"]["last_delivery_at"] == newest.created_at.isoformat().replace("+00:00", "Z")
    assert by_name["Zapier"]["last_delivery_status"] == "succeeded"
    assert (by_name["Quiet"]["last_delivery_at"], by_name["Quiet"]["last_delivery_status"]) == (None, None)


def test_delete_removes_the_webhook(key_api, workspace):
    webhook = OutboundWebhookFactory(workspace=workspace)

    response = key_api.delete(detail(webhook))

    assert response.status_code == 204
    assert not OutboundWebhook.objects.exists()


def test_send_test_posts_the_signed_sample_and_logs_a_test_delivery(key_api, workspace, receiver):
    receiver.default = Answer(status=202, body=b"accepted\nline 2", delay=0.05)
    webhook = OutboundWebhookFactory(workspace=workspace, url=receiver.url)

    response = key_api.post(detail(webhook, "test/"))

    assert response.status_code == 200, response.json()
    result = response.json()
    assert (result["ok"], result["status_code"], result["error"]) == (True, 202, "")
    assert result["response_excerpt"] == "accepted\nline 2"
    assert result["latency_ms"] >= 50  # the receiver took 50 ms to answer
    [request] = receiver.requests
    payload = standardwebhooks.Webhook(webhook.secret).verify(request.body, request.headers)
    assert payload["workspace_name"] == workspace.name
    delivery = Delivery.objects.get(pk=result["delivery"])
    assert (delivery.is_test, delivery.status, delivery.attempts.count()) == (True, "succeeded", 1)


def test_a_failing_send_test_reports_the_status_and_is_not_retried(key_api, workspace, receiver):
    receiver.default = Answer(status=500, body=b"boom")
    webhook = OutboundWebhookFactory(workspace=workspace, url=receiver.url)

    result = key_api.post(detail(webhook, "test/")).json()

    assert (result["ok"], result["status_code"], result["response_excerpt"]) == (False, 500, "boom")
    assert Delivery.objects.get().status == "failed"
    assert len(receiver.requests) == 1


def test_send_test_to_a_private_address_is_refused_by_the_client(key_api, workspace, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False
    webhook = OutboundWebhookFactory(workspace=workspace, url="http://127.0.0.1:9/")

    result = key_api.post(detail(webhook, "test/")).json()

    assert result["ok"] is False
    assert result["status_code"] is None
    assert "not a public address" in result["error"]


def test_rotate_secret_returns_the_new_secret_and_both_sign_for_a_day(key_api, workspace, receiver):
    webhook = OutboundWebhookFactory(workspace=workspace, url=receiver.url)
    old_secret = webhook.secret

    response = key_api.post(detail(webhook, "rotate-secret/"))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    new_secret = response.json()["secret"]
    webhook.refresh_from_db()
    assert new_secret == webhook.secret != old_secret
    assert webhook.signing_secrets() == [new_secret, old_secret]
    key_api.post(detail(webhook, "test/"))
    request = receiver.requests[0]
    for secret in (new_secret, old_secret):
        payload = standardwebhooks.Webhook(secret).verify(request.body, request.headers)  # raises if unsigned
        assert payload["event_type"] == "lead.status_updated"
    assert new_secret not in key_api.get(detail(webhook)).content.decode()


def test_a_signed_in_member_manages_webhooks_with_a_session(member, workspace, receiver):
    api = signed_in(member)

    created = api.post(URL, {"name": "Session made", "url": receiver.url}, format="json")
    tested = api.post(f"{URL}{created.json()['id']}/test/")

    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    assert tested.json()["ok"] is True
    assert api.get(URL).json()["count"] == 1


def test_the_delivery_settings_and_the_breaker_state_are_in_the_api(key_api, workspace):
    webhook = OutboundWebhookFactory(workspace=workspace)
    OutboundWebhook.objects.filter(pk=webhook.pk).update(consecutive_failures=5)

    changed = key_api.patch(detail(webhook), {"deliver_in_order": True, "max_in_flight": 4}, format="json")
    too_many = key_api.patch(detail(webhook), {"max_in_flight": 100}, format="json")
    forged = key_api.patch(detail(webhook), {"consecutive_failures": 0, "paused_until": None}, format="json")

    assert changed.status_code == 200
    body = changed.json()
    assert (body["deliver_in_order"], body["max_in_flight"], body["consecutive_failures"]) == (True, 4, 5)
    assert body["endpoint_status"].startswith("Endpoint failing (5 network failures in a row)")
    assert too_many.status_code == 400 and "max_in_flight" in too_many.json()["error"]["fields"]
    assert forged.json()["consecutive_failures"] == 5  # read-only: the sender's state
