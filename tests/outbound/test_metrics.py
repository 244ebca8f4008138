"""Send Data metrics after known traffic through the real sender and a local receiver."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction

from leads.models import LeadStatus
from leads.services import lead_set_status
from tests.factories import DeliveryFactory, LeadFactory, OutboundWebhookFactory
from tests.metrics_scrape import metrics_on, scrape  # noqa: F401 (fixture)
from webhooks.outbound import sender
from webhooks.outbound.models import Delivery
from webhooks.outbound.receiver import Answer

from .conftest import make_webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("metrics_on")]
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
OUTCOMES = "leadengine_outbound_delivery_outcomes_total"
ATTEMPTS = "leadengine_outbound_attempt_duration_seconds_count"


@pytest.mark.usefixtures("allow_private")
def test_sent_deliveries_are_counted_by_outcome_workspace_and_attempt_result(client, workspace, receiver):
    # given one endpoint that accepts, one that refuses (400: failed at once), one that is down
    receiver.respond = lambda request: Answer(status=200 if request.path == "/ok" else 400)
    make_webhook(workspace, receiver.url + "ok", name="CRM")
    make_webhook(workspace, receiver.url + "refuses", name="Broken")
    make_webhook(workspace, "http://127.0.0.1:9/", name="Down")
    lead = LeadFactory(workspace=workspace)
    before = scrape(client)

    # when a status change is delivered by the sender
    with transaction.atomic():
        lead_set_status(lead=lead, status=LeadStatus.CONVERSATION)
    sender.deliveries_deliver()

    # then each outcome is counted once, under the webhook's workspace, with its attempt latency
    after = scrape(client)
    ws = str(workspace.pk)
    for outcome in ("succeeded", "failed", "retrying"):
        assert (
            after.value(OUTCOMES, outcome=outcome, workspace_id=ws)
            - before.value(OUTCOMES, outcome=outcome, workspace_id=ws)
            == 1
        ), outcome
    for result in ("success", "http_error", "network_error"):
        assert after.value(ATTEMPTS, result=result) - before.value(ATTEMPTS, result=result) == 1, result
    assert after.value("leadengine_outbound_deliveries", state="scheduled") == 1  # the retry
    assert after.value("leadengine_outbound_recent_deliveries", status="succeeded") == 1
    assert after.value("leadengine_outbound_recent_deliveries", status="failed") == 1


def test_a_delivery_of_a_disabled_webhook_counts_as_failed_without_an_attempt(client, workspace):
    webhook = OutboundWebhookFactory(workspace=workspace, is_active=False)
    DeliveryFactory(webhook=webhook, status=Delivery.Status.PENDING, next_attempt_at=NOW - timedelta(days=1))
    before = scrape(client)

    sender.deliveries_deliver()

    after = scrape(client)
    ws = str(workspace.pk)
    assert (
        after.value(OUTCOMES, outcome="failed", workspace_id=ws)
        - before.value(OUTCOMES, outcome="failed", workspace_id=ws)
        == 1
    )
    assert (
        sum(
            after.value(ATTEMPTS, result=r) - before.value(ATTEMPTS, result=r)
            for r in ("success", "http_error", "network_error")
        )
        == 0
    )


def test_backlog_gauges_count_due_stranded_in_flight_and_scheduled_and_age_the_oldest(client, workspace):
    webhook = OutboundWebhookFactory(workspace=workspace)
    pending, in_flight = Delivery.Status.PENDING, Delivery.Status.IN_FLIGHT
    DeliveryFactory(webhook=webhook, status=pending, next_attempt_at=NOW - timedelta(minutes=10))
    DeliveryFactory(webhook=webhook, status=pending, next_attempt_at=NOW - timedelta(seconds=5))
    DeliveryFactory(webhook=webhook, status=pending, next_attempt_at=NOW + timedelta(minutes=3))
    DeliveryFactory(webhook=webhook, status=in_flight, claimed_until=NOW - timedelta(minutes=20))
    DeliveryFactory(webhook=webhook, status=in_flight, claimed_until=NOW + timedelta(seconds=10))
    DeliveryFactory(webhook=webhook, status=Delivery.Status.SUCCEEDED)

    with time_machine.travel(NOW, tick=False):
        metrics = scrape(client)

    assert metrics.value("leadengine_outbound_state_up") == 1
    assert metrics.value("leadengine_outbound_deliveries", state="due") == 2
    assert metrics.value("leadengine_outbound_deliveries", state="stranded") == 1
    assert metrics.value("leadengine_outbound_deliveries", state="in_flight") == 1
    assert metrics.value("leadengine_outbound_deliveries", state="scheduled") == 1
    # the stranded one has been claimable since its lease ended, 20 minutes ago
    assert metrics.value("leadengine_outbound_oldest_due_seconds") == 20 * 60


def test_no_backlog_reads_as_zero_age(client):
    assert scrape(client).value("leadengine_outbound_oldest_due_seconds") == 0


def test_webhooks_are_counted_by_breaker_state(client, workspace):
    OutboundWebhookFactory(workspace=workspace)
    OutboundWebhookFactory(workspace=workspace, consecutive_failures=2)
    OutboundWebhookFactory(
        workspace=workspace, consecutive_failures=5, paused_until=NOW + timedelta(seconds=30)
    )
    OutboundWebhookFactory(
        workspace=workspace, consecutive_failures=7, paused_until=NOW - timedelta(seconds=1)
    )
    OutboundWebhookFactory(workspace=workspace, is_active=False, consecutive_failures=9)

    with time_machine.travel(NOW, tick=False):
        metrics = scrape(client)

    assert metrics.value("leadengine_outbound_webhooks", state="closed") == 2
    assert metrics.value("leadengine_outbound_webhooks", state="paused") == 1
    assert metrics.value("leadengine_outbound_webhooks", state="probing") == 1
    assert metrics.value("leadengine_outbound_webhooks", state="disabled") == 1
