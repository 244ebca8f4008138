"""Constant query counts for the outbox, auto-disable, the demo webhook and the receiver command."""

import socket
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.demo import seed_demo
from leads.models import LeadStatus
from leads.services import lead_set_status
from tests.factories import (
    CampaignFactory,
    CustomFieldFactory,
    LeadFactory,
    ListFactory,
    MessageFactory,
    WorkspaceFactory,
)
from webhooks.outbound import dispatch, services
from webhooks.outbound.http_client import DeliveryResult, webhook_post
from webhooks.outbound.management.commands.webhook_receiver import Command
from webhooks.outbound.models import Delivery, OutboundWebhook
from webhooks.outbound.receiver import Answer, WebhookReceiver
from webhooks.outbound.signing import secret_generate

from .conftest import make_webhook

pytestmark = pytest.mark.django_db


def queries_for_one_change(workspace, *, webhooks, messages, custom_fields):
    lead = LeadFactory(workspace=workspace, custom_fields={f"field_{i}": i for i in range(custom_fields)})
    for i in range(custom_fields):
        CustomFieldFactory(workspace=workspace, key=f"field_{i}_{lead.pk}")
    campaign, a_list = CampaignFactory(workspace=workspace), ListFactory(workspace=workspace)
    lead.campaigns.add(campaign)
    lead.lists.add(a_list)
    MessageFactory.create_batch(messages, lead=lead, campaign=campaign)
    for i in range(webhooks):
        make_webhook(workspace, "https://example.com/hook", name=f"hook {lead.pk}-{i}", lists=[a_list])
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        lead_set_status(lead=lead, status=LeadStatus.OPPORTUNITY)
    assert Delivery.objects.filter(lead=lead).count() == webhooks
    return len(captured)


def test_building_and_dispatching_deliveries_uses_a_constant_number_of_queries(workspace):
    small = queries_for_one_change(workspace, webhooks=1, messages=1, custom_fields=1)
    large = queries_for_one_change(workspace, webhooks=10, messages=30, custom_fields=20)
    assert small == large, (small, large)
    # Lock, UPDATE, webhooks with filters, the lead's whole snapshot, INSERT, + 2 savepoints
    # and their releases (the test's transaction and the service's): was 14 before issue #12.
    assert large <= 9


def queries_to_claim_and_record(*, webhooks, leads):
    workspace = WorkspaceFactory()
    for index in range(webhooks):
        make_webhook(workspace, f"https://hooks.example.com/{index}", max_in_flight=32)
    for lead in LeadFactory.create_batch(leads, workspace=workspace):
        with transaction.atomic():
            lead_set_status(lead=lead, status=LeadStatus.OPPORTUNITY)
    with CaptureQueriesContext(connection) as claiming:
        claim = dispatch.deliveries_claim(limit=100)
    assert len(claim.to_send) == webhooks * leads
    answer = DeliveryResult(
        ok=True, retryable=False, started_at=timezone.now(), duration_ms=5, request_url="x", status_code=200
    )
    with CaptureQueriesContext(connection) as recording:
        dispatch.deliveries_record(claim.token, [(delivery, answer) for delivery in claim.to_send])
    return len(claiming), len(recording)


def test_claiming_starting_and_recording_use_a_constant_number_of_queries_whatever_the_batch():
    few = queries_to_claim_and_record(webhooks=1, leads=2)
    many = queries_to_claim_and_record(webhooks=5, leads=12)
    assert few[0] >= 1 and few[1] >= 1  # the counting works
    assert few == many, (few, many)
    # On PostgreSQL one statement claims the rows, starts their attempts and returns them;
    # SQLite claims, reads them by their token, then writes their attempt rows.
    assert few[0] == (1 if connection.vendor == "postgresql" else 3), few
    # The deliveries' UPDATE, their started attempt rows rewritten and the answering
    # endpoints' breakers closed: one statement on PostgreSQL, three on SQLite.
    assert few[1] == (1 if connection.vendor == "postgresql" else 3), few


def test_a_webhook_failing_for_five_days_is_disabled_with_the_reason(workspace):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    failing = make_webhook(workspace, "https://example.com/a", name="failing")
    recovering = make_webhook(workspace, "https://example.com/b", name="recovering")
    for day in range(6):
        for webhook in (failing, recovering):
            Delivery.objects.create(
                webhook=webhook,
                event_id=f"{webhook.pk}-{day}",
                payload=b"{}",
                status=Delivery.Status.FAILED,
                created_at=start + timedelta(days=day),
                completed_at=start + timedelta(days=day, hours=2),
            )
    Delivery.objects.create(
        webhook=recovering,
        event_id="ok",
        payload=b"{}",
        status=Delivery.Status.SUCCEEDED,
        created_at=start + timedelta(days=3),
        completed_at=start + timedelta(days=3),
    )

    with time_machine.travel(start + timedelta(days=4, hours=23), tick=False):
        assert services.webhooks_disable_failing() == []
    with time_machine.travel(start + timedelta(days=5, hours=1), tick=False):
        assert services.webhooks_disable_failing() == [failing.pk]

    failing.refresh_from_db()
    recovering.refresh_from_db()
    assert not failing.is_active and "5 days" in failing.disabled_reason
    assert recovering.is_active


def test_seeding_the_demo_creates_one_webhook_to_the_local_receiver_idempotently():
    seed_demo(lead_count=3)
    seed_demo(lead_count=3)
    webhook = OutboundWebhook.objects.get(name="Local receiver (demo)")
    assert webhook.url == "http://127.0.0.1:8001/" and webhook.workspace.slug == "demo"


def test_the_receiver_does_not_record_a_request_cut_off_mid_body(receiver):
    """A worker killed between a request's headers and its body sent no request: counting
    it made a SIGKILL test see a "duplicate" with another body."""
    with socket.create_connection(("127.0.0.1", receiver.port)) as cut:
        cut.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"{" * 10)
    with socket.create_connection(("127.0.0.1", receiver.port)) as whole:
        whole.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        assert whole.recv(100).startswith(b"HTTP/1.1 200")

    assert [request.body for request in receiver.requests] == [b"{}"]


def test_receiver_command_prints_requests_and_checks_signatures(capsys, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    secret = secret_generate()
    printer = Command()._printer(secret)
    with WebhookReceiver(default=Answer(status=299), on_request=printer) as server:
        good = webhook_post(url=server.url, body=b'{"a":1}', msg_id="msg_x", secrets=[secret])
        webhook_post(url=server.url, body=b"{}", msg_id="msg_y", secrets=[secret_generate()])

    assert good.status_code == 299
    output = capsys.readouterr().out
    assert "webhook-id: msg_x" in output and '"a": 1' in output
    assert output.count("signature: valid") == 1 and output.count("signature: INVALID") == 1


def test_receiver_command_in_quiet_mode_prints_one_line_per_request(capsys, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    secret = secret_generate()
    printer = Command()._printer(secret, quiet=True)
    body = b'{"event_type":"lead.status_updated","lead_id":7,"new_lead_status":"Opportunity"}'
    with WebhookReceiver(on_request=printer) as server:
        webhook_post(url=server.url, body=body, msg_id="msg_x", secrets=[secret])
        webhook_post(url=server.url, body=b"not json", msg_id="msg_y", secrets=[secret])

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "lead.status_updated lead 7" in lines[0] and "→ Opportunity" in lines[0]
    assert "msg_x" in lines[0] and "signature valid" in lines[0]
    assert lines[1].startswith("POST / → 200, 8 bytes, webhook-id msg_y")
