"""The delivery log through the REST API: filters, attempts, payload, redeliver; and the whole
path from a PATCH of `lead_status` to a real receiver."""

import datetime

import pytest
import standardwebhooks
from django.utils import timezone

from tests.factories import DeliveryFactory, LeadFactory, OutboundWebhookFactory
from webhooks.outbound.models import Delivery, DeliveryAttempt
from webhooks.outbound.receiver import Answer
from webhooks.outbound.sender import deliveries_deliver

from .conftest import signed_in

pytestmark = pytest.mark.django_db

URL = "/api/v1/deliveries/"


def test_patching_lead_status_delivers_to_a_matching_webhook(
    key_api, workspace, receiver, django_capture_on_commit_callbacks
):
    webhook = OutboundWebhookFactory(workspace=workspace, url=receiver.url, statuses=["Meeting Booked"])
    OutboundWebhookFactory(
        workspace=workspace, url=receiver.url, name="Other status", statuses=["Not Interested"]
    )
    lead = LeadFactory(workspace=workspace, name="Ada Lovelace")

    with django_capture_on_commit_callbacks(execute=False):
        response = key_api.patch(
            f"/api/v1/leads/{lead.pk}/", {"lead_status": "Meeting Booked"}, format="json"
        )
    sent = deliveries_deliver()  # what the worker does when the doorbell rings

    assert response.status_code == 200, response.json()
    assert sent == 1
    [request] = receiver.requests
    payload = standardwebhooks.Webhook(webhook.secret).verify(request.body, request.headers)
    assert (payload["new_lead_status"], payload["previous_lead_status"], payload["lead_name"]) == (
        "Meeting Booked",
        None,
        "Ada Lovelace",
    )
    listed = key_api.get(URL).json()
    assert [(item["webhook"], item["status"], item["lead"]) for item in listed["results"]] == [
        (webhook.pk, "succeeded", lead.pk)
    ]


def test_list_filters_by_status_webhook_test_flag_and_failure_time(key_api, workspace):
    first, second = (
        OutboundWebhookFactory(workspace=workspace, name="First"),
        OutboundWebhookFactory(workspace=workspace, name="Second"),
    )
    now = timezone.now()
    old_failure = DeliveryFactory(
        webhook=first, status="failed", completed_at=now - datetime.timedelta(days=3)
    )
    new_failure = DeliveryFactory(webhook=first, status="failed", completed_at=now)
    succeeded = DeliveryFactory(webhook=second, status="succeeded", completed_at=now)
    test = DeliveryFactory(webhook=second, status="succeeded", is_test=True, completed_at=now)

    def ids(**params):
        response = key_api.get(URL, params)
        assert response.status_code == 200, response.json()
        return {item["id"] for item in response.json()["results"]}

    assert ids(status="failed") == {old_failure.pk, new_failure.pk}
    assert ids(webhook=second.pk) == {succeeded.pk, test.pk}
    assert ids(is_test="true") == {test.pk}
    assert ids(is_test="false") == {old_failure.pk, new_failure.pk, succeeded.pk}
    since = (now - datetime.timedelta(days=1)).isoformat()
    assert ids(failed_since=since) == {new_failure.pk}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"status": "lost"}, "status"),
        ({"webhook": "abc"}, "webhook"),
        ({"is_test": "maybe"}, "is_test"),
        ({"failed_since": "yesterday"}, "failed_since"),
        ({"failed_since": "2026-01-01T00:00:00"}, "failed_since"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(key_api, params, field):
    response = key_api.get(URL, params)

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_retrieve_shows_the_payload_as_json_and_every_attempt(key_api, workspace):
    delivery = DeliveryFactory(
        webhook=OutboundWebhookFactory(workspace=workspace), status="failed", attempt_count=2
    )
    for number, code in ((1, 503), (2, 404)):
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=timezone.now(),
            duration_ms=12,
            request_url="http://127.0.0.1:9/",
            status_code=code,
            response_body="nope",
        )

    body = key_api.get(f"{URL}{delivery.pk}/").json()

    assert body["payload"] == {"new_lead_status": "Opportunity"}
    assert [(attempt["number"], attempt["status_code"]) for attempt in body["attempts"]] == [
        (1, 503),
        (2, 404),
    ]
    assert body["workspace"] == "acme"


def test_redeliver_sends_the_same_bytes_and_webhook_id_again(key_api, workspace, receiver):
    webhook = OutboundWebhookFactory(workspace=workspace, url=receiver.url)
    delivery = DeliveryFactory(webhook=webhook, status="failed", attempt_count=6, completed_at=timezone.now())

    response = key_api.post(f"{URL}{delivery.pk}/redeliver/")
    sent = deliveries_deliver(ids=[delivery.pk])

    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "pending"
    assert sent == 1
    [request] = receiver.requests
    assert request.body == bytes(delivery.payload)
    assert request.header("webhook-id") == delivery.event_id
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("succeeded", 7)


def test_redeliver_makes_a_delivery_waiting_for_its_retry_due_now(key_api, workspace):
    later = timezone.now() + datetime.timedelta(minutes=12)
    delivery = DeliveryFactory(
        webhook=OutboundWebhookFactory(workspace=workspace),
        status="pending",
        attempt_count=2,
        next_attempt_at=later,
    )

    response = key_api.post(f"{URL}{delivery.pk}/redeliver/")

    assert response.status_code == 202, response.json()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("pending", 2)
    assert delivery.next_attempt_at <= timezone.now()


@pytest.mark.parametrize("state", [{"status": "in_flight"}, {"status": "succeeded", "is_test": True}])
def test_an_in_flight_or_test_delivery_cannot_be_redelivered(key_api, workspace, state):
    delivery = DeliveryFactory(webhook=OutboundWebhookFactory(workspace=workspace), **state)

    response = key_api.post(f"{URL}{delivery.pk}/redeliver/")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    delivery.refresh_from_db()
    assert delivery.status == state["status"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_log_is_read_only(key_api, workspace, method):
    delivery = DeliveryFactory(webhook=OutboundWebhookFactory(workspace=workspace), status="pending")
    url = URL if method == "post" else f"{URL}{delivery.pk}/"

    response = getattr(key_api, method)(url, {"status": "succeeded"}, format="json")

    assert response.status_code == 405
    assert Delivery.objects.get().status == "pending"


def test_a_signed_in_member_reads_and_redelivers_with_a_session(member, workspace, receiver):
    receiver.default = Answer(status=204, body=b"")
    delivery = DeliveryFactory(
        webhook=OutboundWebhookFactory(workspace=workspace, url=receiver.url), status="failed"
    )
    api = signed_in(member)

    listed = api.get(URL)
    redelivered = api.post(f"{URL}{delivery.pk}/redeliver/")

    assert listed.json()["count"] == 1
    assert redelivered.status_code == 202
