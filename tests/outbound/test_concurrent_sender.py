"""The concurrent sender: many requests in flight, per-endpoint caps, a hung endpoint held
back by the circuit breaker without using attempts, and opt-in per-lead ordering."""

import json
import random
import threading
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import LeadStatus
from leads.services import lead_set_status
from tests.factories import LeadFactory, WorkspaceFactory
from webhooks.outbound import dispatch, sender, tasks
from webhooks.outbound.http_client import DeliveryResult
from webhooks.outbound.models import BREAKER_FIRST_PAUSE, BREAKER_THRESHOLD, Delivery, DeliveryAttempt
from webhooks.outbound.receiver import Answer

from .conftest import make_webhook, plan_nodes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private")]


class InFlightMeter:
    """Counts the requests a receiver is answering at once, per path and in all.

    Runs in the receiver's request thread, outside its lock, and holds the answer for
    `delay` seconds (a slow receiver) or `delays[path]`."""

    def __init__(self, delay=0.0, delays=None):
        self.delay, self.delays = delay, delays or {}
        self.lock = threading.Lock()
        self.now, self.peak = defaultdict(int), defaultdict(int)

    def __call__(self, request, answer):
        with self.lock:
            for key in (request.path, "*"):
                self.now[key] += 1
                self.peak[key] = max(self.peak[key], self.now[key])
        time.sleep(self.delays.get(request.path, self.delay))
        with self.lock:
            for key in (request.path, "*"):
                self.now[key] -= 1


def change_status(leads, *statuses):
    for status in statuses:
        for lead in leads:
            with transaction.atomic():
                lead_set_status(lead=lead, status=status)


def test_a_worker_keeps_many_requests_in_flight_to_slow_receivers(workspace, receiver):
    meter = receiver.on_request = InFlightMeter(delay=0.3)
    for path in ("a", "b", "c"):
        make_webhook(workspace, receiver.url + path, name=path)
    change_status(LeadFactory.create_batch(6, workspace=workspace), LeadStatus.OPPORTUNITY)

    assert sender.deliveries_deliver() == 18

    assert len(receiver.requests) == 18
    assert meter.peak["*"] >= 10  # one at a time would be 1
    assert set(Delivery.objects.values_list("status", "attempt_count")) == {(Delivery.Status.SUCCEEDED, 1)}


def test_one_endpoint_never_has_more_requests_in_flight_than_its_cap(workspace, receiver):
    meter = receiver.on_request = InFlightMeter(delay=0.1)
    make_webhook(workspace, receiver.url + "capped", name="capped", max_in_flight=2)
    make_webhook(workspace, receiver.url + "open", name="open")
    change_status(LeadFactory.create_batch(8, workspace=workspace), LeadStatus.OPPORTUNITY)

    assert sender.deliveries_deliver() == 16

    assert meter.peak["/capped"] == 2
    assert meter.peak["/open"] > 2


def test_a_hung_endpoint_is_held_back_without_using_attempts_while_others_are_delivered(
    workspace, receiver, settings
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    receiver.on_request = InFlightMeter(delays={"/hung": 2.0})
    hung = make_webhook(workspace, receiver.url + "hung", name="hung")
    healthy = make_webhook(workspace, receiver.url + "healthy", name="healthy")
    change_status(LeadFactory.create_batch(25, workspace=workspace), LeadStatus.OPPORTUNITY)

    sender.deliveries_deliver()

    assert set(healthy.deliveries.values_list("status", flat=True)) == {Delivery.Status.SUCCEEDED}
    hung.refresh_from_db()
    # the requests that timed out together open the breaker once: the first, shortest pause
    assert hung.consecutive_failures == BREAKER_THRESHOLD
    assert timezone.now() < hung.paused_until <= timezone.now() + BREAKER_FIRST_PAUSE
    assert "paused until" in hung.breaker_status()
    attempted = hung.deliveries.filter(attempt_count=1)
    held_back = hung.deliveries.filter(attempt_count=0, status=Delivery.Status.PENDING)
    assert attempted.count() >= BREAKER_THRESHOLD
    assert held_back.count() >= 25 - 2 * settings.WEBHOOK_ENDPOINT_CONCURRENCY
    assert attempted.count() + held_back.count() == 25
    assert set(attempted.values_list("attempts__error_class", flat=True)) == {"ReadTimeout"}


def test_after_the_pause_one_probe_goes_out_and_its_success_releases_the_rest(workspace, receiver):
    webhook = make_webhook(workspace, receiver.url)
    change_status(LeadFactory.create_batch(4, workspace=workspace), LeadStatus.OPPORTUNITY)
    paused_until = timezone.now() + timedelta(minutes=1)
    type(webhook).objects.filter(pk=webhook.pk).update(consecutive_failures=7, paused_until=paused_until)

    assert sender.deliveries_deliver() == 0  # held back: nothing sent, no attempt used
    assert set(Delivery.objects.values_list("attempt_count", flat=True)) == {0}

    with time_machine.travel(paused_until + timedelta(seconds=1)):
        probe = dispatch.deliveries_claim(limit=10)
        assert len(probe.to_send) == 1  # half open: one request only
        dispatch.deliveries_release(probe.token, probe.to_send)
        assert sender.deliveries_deliver() == 4

    webhook.refresh_from_db()
    assert (webhook.consecutive_failures, webhook.paused_until, webhook.breaker_status()) == (0, None, "")


def test_an_http_error_answer_does_not_trip_the_breaker(workspace, receiver):
    receiver.default = Answer(status=500)
    webhook = make_webhook(workspace, receiver.url)
    change_status(
        LeadFactory.create_batch(BREAKER_THRESHOLD + 2, workspace=workspace), LeadStatus.OPPORTUNITY
    )

    sender.deliveries_deliver()

    webhook.refresh_from_db()
    assert webhook.consecutive_failures == 0 and webhook.paused_until is None


def test_a_released_claim_uses_no_attempt(workspace):
    webhook = make_webhook(workspace, "https://hooks.example.com/in")
    change_status(LeadFactory.create_batch(3, workspace=workspace), LeadStatus.OPPORTUNITY)
    claim = dispatch.deliveries_claim(limit=10)
    assert set(webhook.deliveries.values_list("attempt_count", flat=True)) == {1}  # counted at claim

    dispatch.deliveries_release(claim.token, claim.to_send)

    assert set(webhook.deliveries.values_list("status", "claim_token", "attempt_count")) == {
        (Delivery.Status.PENDING, None, 0)
    }
    assert not DeliveryAttempt.objects.filter(delivery__webhook=webhook).exists()


def received_statuses(receiver):
    by_lead = defaultdict(list)
    for request in receiver.requests:
        body = json.loads(request.body)
        by_lead[body["lead_id"]].append(body["new_lead_status"])
    return by_lead


def test_ordered_webhook_holds_a_leads_later_event_until_the_earlier_one_succeeds(workspace, receiver):
    receiver.answers = [Answer(status=500)]  # the first event's first attempt fails
    make_webhook(workspace, receiver.url, deliver_in_order=True)
    lead = LeadFactory(workspace=workspace)
    change_status([lead], LeadStatus.OPPORTUNITY, LeadStatus.CONVERSATION, LeadStatus.MEETING_BOOKED)
    first, second, third = Delivery.objects.order_by("pk")

    sender.deliveries_deliver()

    assert len(receiver.requests) == 1  # the later two wait for the retry of the first
    second.refresh_from_db()
    assert second.attempt_count == 0 and second.waiting_for() == first
    first.refresh_from_db()
    with time_machine.travel(first.next_attempt_at + timedelta(seconds=1)):
        sender.deliveries_deliver()

    statuses = received_statuses(receiver)[lead.pk]
    assert statuses == ["Opportunity", "Opportunity", "Conversation", "Meeting Booked"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SUCCEEDED}
    third.refresh_from_db()
    assert third.waiting_for() is None


def test_ordered_webhook_keeps_each_leads_order_under_concurrency_without_holding_up_other_leads(
    workspace, receiver
):
    rng = random.Random(7)
    receiver.on_request = lambda request, answer: time.sleep(rng.uniform(0, 0.05))
    make_webhook(workspace, receiver.url, deliver_in_order=True, max_in_flight=16)
    leads = LeadFactory.create_batch(8, workspace=workspace)
    sequence = [
        LeadStatus.OPPORTUNITY,
        LeadStatus.CONVERSATION,
        LeadStatus.MEETING_BOOKED,
        LeadStatus.UNKNOWN,
    ]
    change_status(leads, *sequence)

    assert sender.deliveries_deliver() == 32

    received = received_statuses(receiver)
    assert {lead_id: statuses for lead_id, statuses in received.items()} == {
        lead.pk: list(sequence) for lead in leads
    }


def test_without_ordering_a_leads_events_may_be_in_flight_together(workspace, receiver):
    meter = receiver.on_request = InFlightMeter(delay=0.2)
    make_webhook(workspace, receiver.url)
    lead = LeadFactory(workspace=workspace)
    change_status([lead], LeadStatus.OPPORTUNITY, LeadStatus.CONVERSATION, LeadStatus.MEETING_BOOKED)

    sender.deliveries_deliver()

    assert meter.peak["*"] == 3


def test_a_worker_shutting_down_stops_claiming_and_leaves_due_deliveries_for_the_next(
    workspace, receiver, monkeypatch
):
    monkeypatch.setattr(sender, "_stop_claiming", threading.Event())
    make_webhook(workspace, receiver.url)
    change_status(LeadFactory.create_batch(3, workspace=workspace), LeadStatus.OPPORTUNITY)

    tasks.stop_claiming_on_shutdown(sig="SIGTERM", how="Warm", exitcode=0)

    assert sender.deliveries_deliver() == 0
    assert receiver.requests == []
    assert set(Delivery.objects.values_list("status", "attempt_count")) == {(Delivery.Status.PENDING, 0)}


def test_requests_still_in_flight_when_the_breaker_opened_do_not_lengthen_the_pause(workspace):
    webhook = make_webhook(workspace, "https://hooks.example.com/slow")
    change_status(LeadFactory.create_batch(8, workspace=workspace), LeadStatus.OPPORTUNITY)
    claim = dispatch.deliveries_claim(limit=8)
    timed_out = DeliveryResult(
        ok=False,
        retryable=True,
        started_at=timezone.now(),
        duration_ms=1000,
        request_url=webhook.url,
        error_class="ReadTimeout",
    )
    first, rest = claim.to_send[:5], claim.to_send[5:]

    dispatch.deliveries_record(claim.token, [(delivery, timed_out) for delivery in first])
    webhook.refresh_from_db()
    opened = (webhook.consecutive_failures, webhook.paused_until)
    dispatch.deliveries_record(claim.token, [(delivery, timed_out) for delivery in rest])  # a moment later
    webhook.refresh_from_db()

    assert opened[0] == BREAKER_THRESHOLD
    assert (webhook.consecutive_failures, webhook.paused_until) == opened


def test_each_failed_probe_doubles_the_pause(workspace, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    webhook = make_webhook(workspace, "http://127.0.0.1:9/")  # nothing listens: refused
    change_status(LeadFactory.create_batch(3, workspace=workspace), LeadStatus.OPPORTUNITY)
    type(webhook).objects.filter(pk=webhook.pk).update(consecutive_failures=BREAKER_THRESHOLD)

    pauses = []
    for _ in range(2):
        Delivery.objects.filter(status=Delivery.Status.PENDING).update(next_attempt_at=timezone.now())
        type(webhook).objects.filter(pk=webhook.pk).update(paused_until=None)  # the pause ended
        sender.deliveries_deliver()
        webhook.refresh_from_db()
        pauses.append(webhook.paused_until - timezone.now())

    assert webhook.consecutive_failures == BREAKER_THRESHOLD + 2  # one probe each time
    assert BREAKER_FIRST_PAUSE * 1.5 < pauses[0] <= BREAKER_FIRST_PAUSE * 2
    assert BREAKER_FIRST_PAUSE * 3.5 < pauses[1] <= BREAKER_FIRST_PAUSE * 4


def test_a_doorbells_own_ids_are_claimed_within_the_endpoints_cap_oldest_first(workspace):
    webhook = make_webhook(workspace, "https://hooks.example.com/in", max_in_flight=2)
    change_status(LeadFactory.create_batch(5, workspace=workspace), LeadStatus.OPPORTUNITY)
    ids = list(webhook.deliveries.order_by("pk").values_list("pk", flat=True))

    claim = dispatch.deliveries_claim(ids=ids, limit=64)

    assert sorted(delivery.pk for delivery in claim.to_send) == ids[:2]
    assert not dispatch.deliveries_claim(ids=ids, limit=64)  # no room left until they finish


def test_a_claim_passes_over_the_callers_finished_deliveries_but_other_workers_still_count_them(workspace):
    webhook = make_webhook(workspace, "https://hooks.example.com/in", max_in_flight=2)
    change_status(LeadFactory.create_batch(5, workspace=workspace), LeadStatus.OPPORTUNITY)
    first = dispatch.deliveries_claim(limit=64)
    finished = [delivery.pk for delivery in first.to_send]
    assert len(finished) == 2 and not dispatch.deliveries_claim(limit=64)  # the cap is taken

    if connection.vendor != "postgresql":  # SQLite writes outcomes before it claims again
        with pytest.raises(ValueError):
            dispatch.deliveries_claim(limit=64, finished=finished)
        return
    second = dispatch.deliveries_claim(limit=64, finished=finished)

    assert len(second.to_send) == 2  # their requests are over: the room is the claimer's
    assert not dispatch.deliveries_claim(limit=64)  # not another worker's, until written
    assert webhook.deliveries.filter(status=Delivery.Status.IN_FLIGHT).count() == 4


def test_on_postgresql_an_endpoints_next_requests_leave_before_the_last_outcomes_are_written(
    workspace, receiver, monkeypatch
):
    meter = receiver.on_request = InFlightMeter()
    make_webhook(workspace, receiver.url, max_in_flight=1)
    change_status(LeadFactory.create_batch(3, workspace=workspace), LeadStatus.OPPORTUNITY)
    monkeypatch.setattr(sender, "RECORD_INTERVAL", 60)  # written when due by count, or at the end
    writes = []  # (outcomes written, requests the receiver had by then)
    record = dispatch.outcomes_record

    def spy(outcomes):
        writes.append((sum(len(results) for results in outcomes.values()), len(receiver.requests)))
        return record(outcomes)

    monkeypatch.setattr(dispatch, "outcomes_record", spy)

    assert sender.deliveries_deliver() == 3

    if connection.vendor == "postgresql":
        # Each next request left while the earlier outcomes waited: one write, of all three.
        assert writes == [(3, 3)]
    else:  # SQLite writes each outcome before it claims again
        assert writes == [(1, 1), (1, 2), (1, 3)]
    assert meter.peak["*"] == 1  # never past the cap of 1
    assert set(Delivery.objects.values_list("status", "attempt_count")) == {(Delivery.Status.SUCCEEDED, 1)}


def test_the_outcomes_of_several_claims_are_written_in_the_statements_of_one(workspace):
    """The sender writes what several claims sent together: on PostgreSQL one UPDATE of the
    deliveries (each still held by its own claim) and one of the attempt rows, whatever the
    number of claims; a row another claim took since keeps that claim's state."""
    make_webhook(workspace, "https://hooks.example.com/in", max_in_flight=32)
    change_status(LeadFactory.create_batch(7, workspace=workspace), LeadStatus.OPPORTUNITY)
    claims = [dispatch.deliveries_claim(limit=limit) for limit in (1, 2, 4)]
    answer = DeliveryResult(
        ok=True,
        retryable=False,
        started_at=timezone.now(),
        duration_ms=5,
        request_url="https://hooks.example.com/in",
        status_code=200,
    )
    taken_since = claims[2].to_send[0]
    Delivery.objects.filter(pk=taken_since.pk).update(claim_token=uuid.uuid4())  # its lease was lost

    with CaptureQueriesContext(connection) as one:
        dispatch.outcomes_record({claims[0].token: [(d, answer) for d in claims[0].to_send]})
    with CaptureQueriesContext(connection) as two:
        dispatch.outcomes_record({claim.token: [(d, answer) for d in claim.to_send] for claim in claims[1:]})

    if connection.vendor == "postgresql":
        assert len(two) == len(one)
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert statuses.pop(taken_since.pk) == Delivery.Status.IN_FLIGHT
    assert set(statuses.values()) == {Delivery.Status.SUCCEEDED}
    assert DeliveryAttempt.objects.filter(in_progress=False, status_code=200).count() == 7


@contextmanager
def claim_plans():
    """The EXPLAIN ANALYZE (PostgreSQL, JSON) of each claim statement run inside: the real
    statement and parameters, explained in a savepoint rolled back, then run for real."""
    plans = []

    def explain_first(execute, sql, params, many, context):
        is_claim = "room AS MATERIALIZED" in sql and not sql.startswith("EXPLAIN")
        if is_claim and connection.vendor == "postgresql":
            with transaction.atomic():
                context["cursor"].execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
                plan = context["cursor"].fetchone()[0]
                plans.append(json.loads(plan) if isinstance(plan, str) else plan)
                transaction.set_rollback(True)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain_first):
        yield plans


def test_a_claim_looks_only_at_endpoints_with_queued_deliveries_not_at_every_idle_webhook(workspace):
    busy = [make_webhook(workspace, f"https://hooks.example.com/{n}", name=str(n)) for n in range(2)]
    idle_workspace = WorkspaceFactory()
    for n in range(30):  # other tenants' webhooks with nothing to send
        make_webhook(idle_workspace, f"https://idle.example.com/{n}", name=f"idle {n}")
    change_status(LeadFactory.create_batch(3, workspace=workspace), LeadStatus.OPPORTUNITY)

    with claim_plans() as plans:
        claim = dispatch.deliveries_claim(limit=64)

    if connection.vendor == "postgresql":
        [[root]] = plans
        [room] = [node for node in plan_nodes(root["Plan"]) if node.get("Subplan Name") == "CTE room"]
        assert room["Actual Rows"] == 2  # the two endpoints with deliveries, of 32 webhooks
    assert {delivery.webhook_id for delivery in claim.to_send} == {webhook.pk for webhook in busy}
    assert len(claim.to_send) == 6
