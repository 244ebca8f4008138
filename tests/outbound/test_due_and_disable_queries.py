"""The sweeper's due count and auto-disable, rewritten as index lookups, keep their rules."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import DeliveryFactory, OutboundWebhookFactory
from webhooks.outbound import selectors, services
from webhooks.outbound.models import Delivery

pytestmark = pytest.mark.django_db


def test_the_due_count_adds_due_retries_and_expired_leases_and_nothing_else():
    webhook = OutboundWebhookFactory()
    past, future = timezone.now() - timedelta(minutes=1), timezone.now() + timedelta(minutes=5)
    DeliveryFactory.create_batch(3, webhook=webhook, status=Delivery.Status.PENDING, next_attempt_at=past)
    DeliveryFactory.create_batch(2, webhook=webhook, status=Delivery.Status.IN_FLIGHT, claimed_until=past)
    DeliveryFactory(webhook=webhook, status=Delivery.Status.PENDING, next_attempt_at=future)
    DeliveryFactory(webhook=webhook, status=Delivery.Status.IN_FLIGHT, claimed_until=future)
    DeliveryFactory(webhook=webhook, status=Delivery.Status.SUCCEEDED)

    assert selectors.deliveries_due_count(limit=100) == 5
    assert selectors.deliveries_due_count(limit=4) == 4
    assert selectors.deliveries_due_count(limit=2) == 2


def test_a_send_test_success_does_not_keep_a_failing_webhook_active():
    now = timezone.now()
    webhook = OutboundWebhookFactory()
    DeliveryFactory(
        webhook=webhook, status=Delivery.Status.FAILED, created_at=now - timedelta(days=6), completed_at=now
    )
    DeliveryFactory(
        webhook=webhook,
        status=Delivery.Status.SUCCEEDED,
        is_test=True,
        created_at=now - timedelta(days=1),
        completed_at=now - timedelta(days=1),
    )

    assert services.webhooks_disable_failing(now=now) == [webhook.pk]


def test_failures_older_than_the_last_success_do_not_count():
    now = timezone.now()
    webhook = OutboundWebhookFactory()
    DeliveryFactory(webhook=webhook, status=Delivery.Status.FAILED, created_at=now - timedelta(days=9))
    DeliveryFactory(
        webhook=webhook,
        status=Delivery.Status.SUCCEEDED,
        created_at=now - timedelta(days=8),
        completed_at=now - timedelta(days=8),
    )
    DeliveryFactory(webhook=webhook, status=Delivery.Status.FAILED, created_at=now - timedelta(days=4))

    assert services.webhooks_disable_failing(now=now) == []
    assert services.webhooks_disable_failing(now=now + timedelta(days=2)) == [webhook.pk]
