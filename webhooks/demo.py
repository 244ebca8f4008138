"""Demo activity for `seed_demo`, so every webhook screen has something to show at once:
deliveries that succeed, one that fails and retries, inbound requests with one rejected.

Runs on `demo_workspace_seeded` (connected in WebhooksConfig.ready()); each part runs only
while its webhook has no history yet, so seeding twice adds nothing.
"""

import json

from leadengine.services import api_key_create
from leads.models import LeadStatus
from leads.services import lead_set_status
from webhooks.inbound import services as inbound_services
from webhooks.inbound.body import ReceivedBody
from webhooks.inbound.receive import inbound_receive
from webhooks.outbound.models import Delivery, OutboundWebhook

# Procfile.dev runs `webhook_receiver --port 8002 --status 500` for this one.
FAILING_RECEIVER_URL = "http://127.0.0.1:8002/"
DEMO_CHANGES = (LeadStatus.OPPORTUNITY, LeadStatus.CONVERSATION, LeadStatus.MEETING_BOOKED)


def demo_activity_ensure(sender=None, *, workspace, **kwargs):
    working = local_receiver_webhook_ensure(workspace=workspace)
    failing = failing_webhook_ensure(workspace=workspace)
    if not Delivery.objects.filter(webhook__in=[working, failing], is_test=False).exists():
        _change_some_statuses(workspace)
    inbound = inbound_services.demo_webhook_ensure(workspace=workspace)
    if not inbound.requests.exists():
        _post_demo_requests(inbound)


def local_receiver_webhook_ensure(*, workspace):
    """The demo workspace's webhook, pointed at the local receiver (`webhook_receiver`)."""
    webhook, _ = OutboundWebhook.objects.get_or_create(
        workspace=workspace,
        name="Local receiver (demo)",
        defaults={
            "url": "http://127.0.0.1:8001/",
            "description": "Points at the local receiver bin/run starts on port 8001: its console "
            "prints one line per delivery as it arrives.",
        },
    )
    return webhook


def failing_webhook_ensure(*, workspace):
    webhook, _ = OutboundWebhook.objects.get_or_create(
        workspace=workspace,
        name="CRM sync (failing demo)",
        defaults={
            "url": FAILING_RECEIVER_URL,
            "description": "Answers 500 (bin/run's second receiver), to show retries; "
            "only meetings booked are sent here.",
            "statuses": [LeadStatus.MEETING_BOOKED],
        },
    )
    return webhook


def _change_some_statuses(workspace):
    # After commit the deliveries go to the worker: bin/run starts it with the receivers.
    leads = workspace.leads.order_by("pk")[: len(DEMO_CHANGES)]
    for lead, status in zip(leads, DEMO_CHANGES, strict=False):
        if lead.lead_status == status:
            status = LeadStatus.FOLLOW_UP
        lead_set_status(lead=lead, status=status)


def _post_demo_requests(webhook):
    """Two requests through the endpoint's service: one accepted, one rejected (bad email)."""
    _, key = api_key_create(workspace=webhook.workspace, name="Demo sender (seed_demo)")
    # The accepted one updates a demo lead (the demo's lead count stays what was asked for).
    lead = webhook.workspace.leads.exclude(business_email="").order_by("pk").first()
    email, first_name = (lead.business_email, lead.first_name) if lead else ("test@leadmagnets.io", "Lead")
    bodies = [
        {"first_name": first_name, "email": email, "city": "Minneapolis", "phone": "15555555555"},
        {"first_name": "Typo", "email": "not-an-email"},
    ]
    for body in bodies:
        raw = json.dumps(body).encode()
        inbound_receive(
            public_id=webhook.public_id,
            headers={"Authorization": f"Bearer {key}"},
            content_type="application/json",
            read_body=lambda raw=raw: ReceivedBody.from_bytes(raw),
        )
