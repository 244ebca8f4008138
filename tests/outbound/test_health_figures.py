"""A webhook's health reads the same on the admin list, Settings ▸ Webhooks and the API, and
its deliveries look the same on every page that lists them."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from leads.models import LeadStatus
from leads.services import lead_set_status
from tests.factories import DeliveryFactory, operator_of
from webhooks.outbound import sender
from webhooks.outbound.models import Delivery, DeliveryAttempt
from webhooks.outbound.presentation import next_attempt_text
from webhooks.outbound.receiver import Answer

from .conftest import make_webhook

pytestmark = pytest.mark.django_db

API_URL = "/api/v1/webhooks/outbound/"


@pytest.fixture
def operator_client(client, workspace):
    client.force_login(operator_of(workspace))
    return client


def failed(webhook, *, created_ago, completed_ago, **kwargs):
    now = timezone.now()
    return DeliveryFactory(
        webhook=webhook,
        status=Delivery.Status.FAILED,
        created_at=now - created_ago,
        completed_at=now - completed_ago,
        **kwargs,
    )


def admin_list_page(client):
    return client.get(reverse("admin:outbound_outboundwebhook_changelist")).content.decode()


def settings_row(client, name):
    response = client.get(reverse("admin:webhooks_settings"))
    return next(row for row in response.context["rows"] if row["name"] == name)


def api_item(client, webhook):
    return client.get(f"{API_URL}{webhook.pk}/").json()


@pytest.mark.usefixtures("allow_private")
def test_a_failing_send_test_and_a_failed_delivery_give_the_same_figures_on_every_screen(
    operator_client, workspace, lead, receiver
):
    receiver.default = Answer(status=404, body=b"no such hook")
    webhook = make_webhook(workspace, receiver.url)
    with transaction.atomic():
        lead_set_status(lead=lead, status=LeadStatus.OPPORTUNITY)
    sender.deliveries_deliver()
    operator_client.post(reverse("admin:outbound_outboundwebhook_send_test", args=[webhook.pk]))
    assert Delivery.objects.filter(status=Delivery.Status.FAILED).count() == 2  # one real, one test

    listing = admin_list_page(operator_client)
    row = settings_row(operator_client, webhook.name)
    api = api_item(operator_client, webhook)

    # The Send Test probed the endpoint; it is not traffic, so no screen counts it.
    assert "1 failed in 24 h" in listing
    assert (row["total_24h"], row["failed_24h"], row["failure_rate"]) == (1, 1, 100)
    assert (api["deliveries_24h"], api["failed_24h"]) == (1, 1)
    # The newest delivery is still the test: that is what the operator last sent.
    assert row["last"]["is_test"] and api["last_delivery_status"] == "failed"


def test_the_failed_recently_filter_lists_exactly_the_failures_the_health_counts(operator_client, workspace):
    webhook = make_webhook(workspace, "https://hooks.example.com/x")
    after_a_day_of_retries = failed(
        webhook, created_ago=timedelta(hours=30), completed_ago=timedelta(hours=2)
    )
    at_once = failed(webhook, created_ago=timedelta(hours=3), completed_ago=timedelta(hours=3))
    failed(webhook, created_ago=timedelta(hours=30), completed_ago=timedelta(hours=26))  # too long ago
    failed(webhook, created_ago=timedelta(0), completed_ago=timedelta(0), is_test=True)
    DeliveryFactory(webhook=webhook, status=Delivery.Status.SUCCEEDED, completed_at=timezone.now())

    filtered = operator_client.get(
        reverse("admin:outbound_delivery_changelist"),
        {"failed_within": "24h", "webhook__id__exact": webhook.pk},
    )

    listed = {delivery.pk for delivery in filtered.context["cl"].result_list}
    assert listed == {after_a_day_of_retries.pk, at_once.pk}
    assert "2 failed in 24 h" in admin_list_page(operator_client)
    assert settings_row(operator_client, webhook.name)["failed_24h"] == 2
    assert api_item(operator_client, webhook)["failed_24h"] == 2


def test_a_failure_counts_among_the_deliveries_of_the_window_so_the_rate_stays_within_100(
    operator_client, workspace
):
    webhook = make_webhook(workspace, "https://hooks.example.com/x")
    failed(webhook, created_ago=timedelta(hours=30), completed_ago=timedelta(hours=1))

    row = settings_row(operator_client, webhook.name)

    assert (row["total_24h"], row["failed_24h"], row["failure_rate"]) == (1, 1, 100)


def test_the_retry_help_says_408_and_429_are_retried(operator_client, workspace):
    webhook = make_webhook(workspace, "https://hooks.example.com/x")

    page = operator_client.get(reverse("admin:outbound_outboundwebhook_change", args=[webhook.pk]))

    retries = page.content.decode()
    assert "Retried: 5xx, 408, 429" in retries
    assert "3xx and 4xx fail at once" not in retries


def test_an_in_flight_delivery_reads_the_same_on_the_webhook_page_and_settings(operator_client, workspace):
    webhook = make_webhook(workspace, "https://hooks.example.com/x")
    DeliveryFactory(webhook=webhook, status=Delivery.Status.IN_FLIGHT, attempt_count=1)

    page = operator_client.get(reverse("admin:outbound_outboundwebhook_change", args=[webhook.pk]))
    row = settings_row(operator_client, webhook.name)

    assert '<span class="le-badge le-blue">In flight</span>' in page.content.decode()
    assert (row["last"]["label"], row["last"]["colour"]) == ("In flight", "blue")


def test_the_lead_page_and_the_webhook_page_show_the_same_delivery_table(operator_client, workspace, lead):
    webhook = make_webhook(workspace, "https://hooks.example.com/x")
    delivery = DeliveryFactory(
        webhook=webhook, lead=lead, status=Delivery.Status.FAILED, last_status_code=404
    )
    link = reverse("admin:outbound_delivery_change", args=[delivery.pk])

    webhook_page = operator_client.get(reverse("admin:outbound_outboundwebhook_change", args=[webhook.pk]))
    lead_page = operator_client.get(reverse("admin:leads_lead_change", args=[lead.pk]))

    for page in (webhook_page, lead_page):
        assert "admin/outbound/delivery_table.html" in [template.name for template in page.templates]
        html = page.content.decode()
        assert link in html and '<span class="le-badge le-red">Failed</span>' in html and "404" in html


def attempt(delivery, number, *, status_code, ago):
    return DeliveryAttempt.objects.create(
        delivery=delivery,
        number=number,
        started_at=timezone.now() - ago,
        duration_ms=40,
        request_url=delivery.webhook.url,
        status_code=status_code,
    )


@pytest.mark.usefixtures("allow_private")
def test_four_500s_on_one_delivery_read_as_four_failed_attempts_and_the_last_attempt_time(
    operator_client, workspace
):
    webhook = make_webhook(workspace, "https://hooks.example.com/x")
    delivery = DeliveryFactory(
        webhook=webhook,
        status=Delivery.Status.PENDING,
        attempt_count=4,
        last_status_code=500,
        created_at=timezone.now() - timedelta(hours=2),
        next_attempt_at=timezone.now() + timedelta(minutes=30),
    )
    for number, ago in enumerate([120, 100, 60, 5], start=1):
        attempt(delivery, number, status_code=500, ago=timedelta(minutes=ago))

    row = settings_row(operator_client, webhook.name)

    assert (row["attempts_24h"], row["failed_attempts_24h"], row["attempt_failure_rate"]) == (4, 4, 100)
    assert timezone.now() - row["last"]["at"] < timedelta(minutes=6)  # the 4th attempt, not the creation
    assert row["last"]["label"] == "Retrying" and str(delivery).endswith("(Retrying)")
    page = operator_client.get(reverse("admin:webhooks_settings")).content.decode()
    assert "4 of 4 attempts failed" in page and "last attempt 5" in page
    assert "attempts: 4 of 4 failed" in admin_list_page(operator_client)


def test_a_redelivered_delivery_reads_as_queued_again_with_a_fresh_budget(workspace):
    delivery = DeliveryFactory(
        webhook__workspace=workspace,
        status=Delivery.Status.PENDING,
        attempt_count=6,
        budget_start=6,
        next_attempt_at=timezone.now(),
    )
    assert delivery.status_word == "Redelivery queued" and str(delivery).endswith("(Redelivery queued)")
    assert "(attempt 1 of 6)" in next_attempt_text(delivery)
    delivery.attempt_count = 7
    assert delivery.status_word == "Retrying" and "(attempt 2 of 6)" in next_attempt_text(delivery)
