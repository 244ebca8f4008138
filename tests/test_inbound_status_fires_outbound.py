"""The two halves meet: a status posted to an inbound webhook fires the outbound ones."""

import json

import pytest
import standardwebhooks
from rest_framework.test import APIClient

from leadengine.services import api_key_create
from leads.models import Lead
from tests.factories import WorkspaceFactory
from tests.inbound.conftest import make_webhook as make_inbound_webhook
from tests.outbound.conftest import make_webhook as make_outbound_webhook
from webhooks.outbound import sender
from webhooks.outbound.models import Delivery
from webhooks.outbound.receiver import WebhookReceiver

pytestmark = pytest.mark.django_db


def test_status_mapped_in_an_inbound_request_produces_a_signed_outbound_delivery(
    settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True  # the receiver is on 127.0.0.1
    workspace = WorkspaceFactory(name="Acme Outreach")
    _key, secret = api_key_create(workspace=workspace, name="Form")
    inbound = make_inbound_webhook(
        workspace, mappings=[("business_email", "email"), ("lead_status", "stage/name")]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    with WebhookReceiver() as receiver:
        outbound = make_outbound_webhook(workspace, receiver.url)
        with django_capture_on_commit_callbacks(execute=False):
            response = client.post(
                f"/webhooks/{inbound.public_id}",
                {"email": "Ada@Example.com", "stage": {"name": "Meeting Booked"}},
                format="json",
            )
        assert response.status_code == 201, response.content
        sender.deliveries_deliver()

        [request] = receiver.requests

    lead = Lead.objects.get(workspace=workspace)
    delivery = Delivery.objects.get(webhook=outbound)
    payload = json.loads(request.body)
    assert (payload["new_lead_status"], payload["previous_lead_status"]) == ("Meeting Booked", None)
    assert payload["lead_email_address"] == "ada@example.com"
    assert payload["lead_id"] == lead.pk
    assert delivery.status == Delivery.Status.SUCCEEDED
    standardwebhooks.Webhook(outbound.secret).verify(request.body, request.headers)
