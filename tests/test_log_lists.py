"""The delivery log and the request log stay cheap as they grow: no full-table count."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leadengine.admin_paging import CappedCountPaginator
from tests.factories import (
    DeliveryFactory,
    InboundRequestFactory,
    InboundWebhookFactory,
    OutboundWebhookFactory,
)

pytestmark = pytest.mark.django_db


def full_counts(captured, table):
    """COUNT(*) statements over `table` that are not capped by a LIMIT."""
    counts = [q["sql"] for q in captured if re.search(rf'COUNT\(\*\).*FROM "{table}"', q["sql"], re.S)]
    return [sql for sql in counts if "LIMIT" not in sql.upper()]


def test_the_delivery_log_renders_without_counting_the_whole_table_and_says_how_long_it_keeps(admin_client):
    DeliveryFactory.create_batch(3, webhook=OutboundWebhookFactory())

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(reverse("admin:outbound_delivery_changelist"))

    assert response.status_code == 200
    assert full_counts(captured, "outbound_delivery") == []
    assert "3 deliveries" in response.content.decode()
    assert "Succeeded deliveries are kept 30 days and failed ones 90 days" in response.content.decode()


def test_the_request_log_renders_without_counting_the_whole_table_and_says_how_long_it_keeps(admin_client):
    webhook = InboundWebhookFactory()
    InboundRequestFactory.create_batch(2, webhook=webhook, workspace=webhook.workspace)

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(reverse("admin:inbound_inboundrequest_changelist"))

    assert response.status_code == 200
    assert full_counts(captured, "inbound_inboundrequest") == []
    assert "Request bodies are kept 14 days" in response.content.decode()


def test_a_log_longer_than_the_count_cap_says_so_instead_of_counting_on(admin_client, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "COUNT_CAP", 5)
    DeliveryFactory.create_batch(7, webhook=OutboundWebhookFactory())

    response = admin_client.get(reverse("admin:outbound_delivery_changelist"))

    assert "5+ deliveries" in response.content.decode()
