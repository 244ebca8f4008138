"""Operators are told when a webhook is disabled, deactivated by a 410, or starts failing:
a banner on Settings ▸ Webhooks until acknowledged, and at most one email a day per webhook."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.urls import reverse

from leads.models import LeadStatus
from leads.services import lead_set_status
from tests.factories import (
    DeliveryFactory,
    OutboundWebhookFactory,
    UserFactory,
    WebhookNoticeFactory,
    WorkspaceFactory,
    operator_of,
)
from webhooks.outbound import sender, tasks
from webhooks.outbound.models import Delivery, DeliveryAttempt, WebhookNotice
from webhooks.outbound.notifications import webhook_notice_email
from webhooks.outbound.receiver import Answer
from webhooks.outbound.retry import RETRY_SCHEDULE
from webhooks.outbound.services import webhooks_disable_failing

from .conftest import make_webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private")]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def notifications_run_at_once(monkeypatch, django_capture_on_commit_callbacks):
    """The worker's side of the queue, in this process: the task runs when it is queued."""
    monkeypatch.setattr(
        tasks.notify_webhook_operators, "delay", lambda **kwargs: tasks.notify_webhook_operators(**kwargs)
    )


@pytest.fixture
def operator(workspace):
    return operator_of(workspace, email="ops@acme.example")


def emails_to(address):
    return [message for message in mail.outbox if address in message.to]


def deliver(lead, django_capture_on_commit_callbacks, status=LeadStatus.OPPORTUNITY):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            lead_set_status(lead=lead, status=status)
        sender.deliveries_deliver()


def fail_for_good(lead, django_capture_on_commit_callbacks, start=START, status=LeadStatus.OPPORTUNITY):
    """One status change whose delivery is retried on the whole schedule and fails."""
    with time_machine.travel(start, tick=False), transaction.atomic():
        lead_set_status(lead=lead, status=status)
    delivery = Delivery.objects.order_by("-pk").first()
    moment = start
    for _ in range(len(RETRY_SCHEDULE) + 1):
        with time_machine.travel(moment, tick=False), django_capture_on_commit_callbacks(execute=True):
            sender.deliveries_deliver()
        delivery.refresh_from_db()
        moment = delivery.next_attempt_at or moment
    assert delivery.status == Delivery.Status.FAILED
    return delivery


def failing_for_days(webhook, days):
    for day in range(days):
        delivery = DeliveryFactory(
            webhook=webhook,
            created_at=START + timedelta(days=day),
            completed_at=START + timedelta(days=day, hours=2),
            last_status_code=502,
        )
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=1,
            started_at=START + timedelta(days=day, hours=2),
            request_url=webhook.url,
            status_code=502,
            response_body="Bad gateway from the CRM",
        )


def test_an_auto_disabled_webhook_emails_its_operators_the_reason_last_errors_and_link(
    workspace, operator, django_capture_on_commit_callbacks
):
    webhook = make_webhook(workspace, "https://crm.example/hook", name="CRM sync")
    failing_for_days(webhook, 6)
    outsider = UserFactory(email="someone@else.example")

    with django_capture_on_commit_callbacks(execute=True):
        webhooks_disable_failing(now=START + timedelta(days=6))

    [email] = mail.outbox
    assert email.to == ["ops@acme.example"] and not emails_to(outsider.email)
    assert "CRM sync" in email.subject and "disabled" in email.subject.lower()
    assert "Disabled automatically on" in email.body
    assert "HTTP 502" in email.body and "Bad gateway from the CRM" in email.body
    assert reverse("admin:outbound_outboundwebhook_change", args=[webhook.pk]) in email.body
    assert email.body.count("HTTP 502") == 5  # the last five errors, not the whole history
    assert WebhookNotice.objects.get(webhook=webhook).kind == WebhookNotice.Kind.DISABLED


def test_a_410_deactivates_the_webhook_and_emails_its_operators_once(
    lead, operator, receiver, django_capture_on_commit_callbacks
):
    receiver.default = Answer(status=410)
    webhook = make_webhook(lead.workspace, receiver.url)

    deliver(lead, django_capture_on_commit_callbacks)

    webhook.refresh_from_db()
    assert not webhook.is_active
    [email] = emails_to(operator.email)
    assert "410 Gone" in email.body and "HTTP 410" in email.body
    notice = WebhookNotice.objects.get(webhook=webhook)
    assert notice.kind == WebhookNotice.Kind.GONE and notice.is_open


def test_the_first_delivery_failing_after_all_retries_tells_the_operators_and_the_rest_of_the_streak_does_not(
    lead, operator, receiver, django_capture_on_commit_callbacks
):
    receiver.default = Answer(status=500, body=b"CRM is down")
    webhook = make_webhook(lead.workspace, receiver.url)

    fail_for_good(lead, django_capture_on_commit_callbacks)
    notice = WebhookNotice.objects.get(webhook=webhook)
    fail_for_good(
        lead, django_capture_on_commit_callbacks, start=START + timedelta(days=2), status=LeadStatus.UNKNOWN
    )

    [email] = emails_to(operator.email)
    assert "started failing" in email.body and "CRM is down" in email.body
    assert notice.kind == WebhookNotice.Kind.FAILING
    assert WebhookNotice.objects.get(webhook=webhook).raised_at == notice.raised_at  # same streak


def test_a_delivery_failing_only_on_its_first_attempts_tells_nobody(
    lead, operator, receiver, django_capture_on_commit_callbacks
):
    receiver.default = Answer(status=500)
    make_webhook(lead.workspace, receiver.url)

    deliver(lead, django_capture_on_commit_callbacks)

    assert Delivery.objects.get().status == Delivery.Status.PENDING
    assert mail.outbox == [] and not WebhookNotice.objects.exists()


def test_failing_again_after_a_success_raises_a_new_notice_and_emails_at_most_once_a_day(
    lead, operator, receiver, django_capture_on_commit_callbacks
):
    receiver.default = Answer(status=400, body=b"bad field")  # fails at once: no retry
    webhook = make_webhook(lead.workspace, receiver.url)
    with time_machine.travel(START, tick=False):
        deliver(lead, django_capture_on_commit_callbacks)
        first = WebhookNotice.objects.get(webhook=webhook)
    receiver.default = Answer(status=200)
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        deliver(lead, django_capture_on_commit_callbacks, status=LeadStatus.UNKNOWN)
    receiver.default = Answer(status=400)
    with time_machine.travel(START + timedelta(hours=2), tick=False):
        deliver(lead, django_capture_on_commit_callbacks, status=LeadStatus.CONVERSATION)

    second = WebhookNotice.objects.get(webhook=webhook)
    assert second.raised_at > first.raised_at  # the banner is back
    assert len(emails_to(operator.email)) == 1  # but the day's email was already sent

    receiver.default = Answer(status=200)
    with time_machine.travel(START + timedelta(days=1, hours=3), tick=False):
        deliver(lead, django_capture_on_commit_callbacks, status=LeadStatus.OPPORTUNITY)
    receiver.default = Answer(status=400)
    with time_machine.travel(START + timedelta(days=1, hours=4), tick=False):
        deliver(lead, django_capture_on_commit_callbacks, status=LeadStatus.UNKNOWN)

    assert len(emails_to(operator.email)) == 2  # a day later, the next one goes out


def test_two_workers_emailing_about_the_same_notice_send_one_email(workspace, operator):
    notice = WebhookNoticeFactory(webhook=OutboundWebhookFactory(workspace=workspace))
    stale_copy = WebhookNotice.objects.get(pk=notice.pk)

    sent = [webhook_notice_email(notice=notice), webhook_notice_email(notice=stale_copy)]

    assert sent == [1, 0]
    assert len(mail.outbox) == 1


def test_a_workspace_without_members_with_an_email_sends_nothing_and_keeps_the_days_email(workspace):
    operator_of(workspace, email="")
    notice = WebhookNoticeFactory(webhook=OutboundWebhookFactory(workspace=workspace))

    assert webhook_notice_email(notice=notice) == 0

    notice.refresh_from_db()
    assert mail.outbox == [] and notice.emailed_at is None


def test_the_settings_page_shows_the_notice_until_an_operator_acknowledges_it(client, workspace, operator):
    notice = WebhookNoticeFactory(webhook=OutboundWebhookFactory(workspace=workspace, name="CRM sync"))
    client.force_login(operator)
    page = reverse("admin:webhooks_settings")

    shown = client.get(page)
    response = client.post(reverse("admin:webhooks_notice_acknowledge", args=[notice.pk]))
    after = client.get(page)

    assert notice.reason in shown.content.decode() and "Acknowledge" in shown.content.decode()
    assert response.status_code == 302
    assert notice.reason not in after.content.decode()
    notice.refresh_from_db()
    assert notice.acknowledged_by == operator and not notice.is_open


def test_another_workspaces_operator_neither_sees_nor_acknowledges_the_notice(client, workspace):
    notice = WebhookNoticeFactory(webhook=OutboundWebhookFactory(workspace=workspace))
    stranger = operator_of(WorkspaceFactory())
    client.force_login(stranger)

    shown = client.get(reverse("admin:webhooks_settings"))
    response = client.post(reverse("admin:webhooks_notice_acknowledge", args=[notice.pk]))

    assert notice.reason not in shown.content.decode()
    assert response.status_code == 404
    notice.refresh_from_db()
    assert notice.is_open
