"""Retry schedule and response classification, with the clock under time-machine."""

import email.utils
import socket
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction

from leads.models import LeadStatus
from leads.services import lead_set_status
from webhooks.outbound import dispatch, sender
from webhooks.outbound.models import Delivery, OutboundWebhook
from webhooks.outbound.receiver import Answer
from webhooks.outbound.retry import JITTER, MAX_ATTEMPTS, RETRY_SCHEDULE

from .conftest import make_webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private")]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def emit(lead, status=LeadStatus.OPPORTUNITY):
    with transaction.atomic():
        lead_set_status(lead=lead, status=status)
    return Delivery.objects.get()


def attempt_at(moment):
    with time_machine.travel(moment, tick=False):
        sender.deliveries_deliver()


def assert_within_jitter(delivery, step, attempted_at):
    delay = delivery.next_attempt_at - attempted_at
    assert step * (1 - JITTER) <= delay <= step * (1 + JITTER), delay


def test_retries_five_times_on_the_schedule_then_fails_sending_the_same_bytes(lead, receiver):
    receiver.default = Answer(status=500, body=b"down")
    make_webhook(lead.workspace, receiver.url)
    with time_machine.travel(START, tick=False):
        delivery = emit(lead)
    moment = START
    for step in RETRY_SCHEDULE:
        attempt_at(moment)
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.PENDING
        assert_within_jitter(delivery, step, moment)
        attempt_at(delivery.next_attempt_at - timedelta(seconds=1))  # not due yet: nothing sent
        moment = delivery.next_attempt_at
    attempt_at(moment)
    delivery.refresh_from_db()

    assert delivery.status == Delivery.Status.FAILED and delivery.next_attempt_at is None
    assert len(receiver.requests) == MAX_ATTEMPTS == 6
    assert [attempt.number for attempt in delivery.attempts.all()] == [1, 2, 3, 4, 5, 6]
    assert len({request.body for request in receiver.requests}) == 1
    assert len({request.header("webhook-id") for request in receiver.requests}) == 1
    assert len({request.header("webhook-timestamp") for request in receiver.requests}) == 6


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
def test_retryable_statuses_schedule_the_next_step(lead, receiver, status):
    receiver.answers = [Answer(status=status), Answer(status=200)]
    make_webhook(lead.workspace, receiver.url)
    with time_machine.travel(START, tick=False):
        delivery = emit(lead)
    attempt_at(START)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert_within_jitter(delivery, RETRY_SCHEDULE[0], START)
    attempt_at(delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert [a.status_code for a in delivery.attempts.all()] == [status, 200]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 413, 422])
def test_other_4xx_fail_at_once(lead, receiver, status):
    receiver.default = Answer(status=status)
    make_webhook(lead.workspace, receiver.url)
    delivery = emit(lead)
    sender.deliveries_deliver()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts.get().error_message.startswith(f"HTTP {status}")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_fails_at_once_naming_the_location_and_is_not_followed(lead, receiver, status):
    receiver.answers = [Answer(status=status, headers={"Location": receiver.url + "moved"})]
    make_webhook(lead.workspace, receiver.url)
    delivery = emit(lead)
    sender.deliveries_deliver()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert receiver.url + "moved" in delivery.last_error
    assert len(receiver.requests) == 1


def test_410_fails_and_disables_the_webhook_with_the_reason(lead, receiver):
    receiver.default = Answer(status=410)
    webhook = make_webhook(lead.workspace, receiver.url)
    delivery = emit(lead)
    sender.deliveries_deliver()
    delivery.refresh_from_db()
    webhook.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert not webhook.is_active
    assert "410 Gone" in webhook.disabled_reason
    with transaction.atomic():
        lead_set_status(lead=lead, status=LeadStatus.UNKNOWN)
    assert Delivery.objects.count() == 1  # a disabled webhook gets nothing new


def test_pending_deliveries_of_a_disabled_webhook_fail_instead_of_waiting_forever(lead, receiver):
    webhook = make_webhook(lead.workspace, receiver.url)
    delivery = emit(lead)
    OutboundWebhook.objects.filter(pk=webhook.pk).update(is_active=False, disabled_reason="Paused.")
    sender.deliveries_deliver()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and "disabled" in delivery.last_error
    assert receiver.requests == []


def test_connection_refused_is_retried(lead):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    make_webhook(lead.workspace, f"http://127.0.0.1:{port}/")
    with time_machine.travel(START, tick=False):
        delivery = emit(lead)
    attempt_at(START)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.attempts.get().error_class == "ConnectionError"
    assert_within_jitter(delivery, RETRY_SCHEDULE[0], START)


def test_timeout_is_retried(lead, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.2
    receiver.answers = [Answer(delay=0.6)]
    make_webhook(lead.workspace, receiver.url)
    delivery = emit(lead)
    sender.deliveries_deliver()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert "Timeout" in delivery.attempts.get().error_class


@pytest.mark.parametrize(
    "status,retry_after,expected",
    [
        (429, "600", timedelta(minutes=6)),  # longer than the 3 min step: capped at 2× the step
        (503, "300", timedelta(minutes=5)),  # longer: honoured
        (429, "30", None),  # shorter than our step: our step wins
        (500, "300", None),  # only 429/503 carry a meaningful Retry-After
    ],
)
def test_retry_after_is_honoured_when_longer_and_capped(lead, receiver, status, retry_after, expected):
    receiver.answers = [Answer(status=status, headers={"Retry-After": retry_after})]
    make_webhook(lead.workspace, receiver.url)
    with time_machine.travel(START, tick=False):
        delivery = emit(lead)
    attempt_at(START)
    delivery.refresh_from_db()
    if expected is None:
        assert_within_jitter(delivery, RETRY_SCHEDULE[0], START)
    else:
        assert delivery.next_attempt_at - START == expected


def test_retry_after_as_an_http_date(lead, receiver):
    moment = email.utils.format_datetime(START + timedelta(minutes=5), usegmt=True)
    receiver.answers = [Answer(status=503, headers={"Retry-After": moment})]
    make_webhook(lead.workspace, receiver.url)
    with time_machine.travel(START, tick=False):
        delivery = emit(lead)
    attempt_at(START)
    delivery.refresh_from_db()
    assert delivery.next_attempt_at - START == timedelta(minutes=5)


def test_attempt_records_headers_and_first_4_kib_of_the_body(lead, receiver):
    receiver.default = Answer(status=200, headers={"X-Trace": "abc"}, body=b"x" * 10_000, delay=0.05)
    make_webhook(lead.workspace, receiver.url)
    delivery = emit(lead)
    sender.deliveries_deliver()
    attempt = delivery.attempts.get()
    assert attempt.response_headers["X-Trace"] == "abc"
    assert len(attempt.response_body) == 4096
    assert attempt.request_url == receiver.url
    assert attempt.duration_ms >= 50  # the receiver took 50 ms to answer


def test_a_stranded_claim_is_sent_again_after_its_lease_and_the_lost_attempt_is_logged(
    lead, receiver, settings
):
    settings.WEBHOOK_LEASE_SECONDS = 60
    make_webhook(lead.workspace, receiver.url)
    with time_machine.travel(START, tick=False):
        delivery = emit(lead)
        [claimed] = dispatch.deliveries_claim(limit=10).to_send  # a worker starts, then dies
    attempt_at(START + timedelta(seconds=59))
    assert receiver.requests == []
    attempt_at(START + timedelta(seconds=61))
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert delivery.attempt_count == 2
    assert list(delivery.attempts.values_list("number", "error_class", "status_code")) == [
        (1, "WorkerLost", None),  # the dead worker's request may have gone out: it is logged
        (2, "", 200),
    ]
