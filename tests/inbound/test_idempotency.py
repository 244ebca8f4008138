"""Idempotency-Key on Receive Data: a sender's retry replays the first answer and changes nothing."""

import datetime
import json

import pytest
import requests
from django.utils import timezone

from leadengine.idempotency import idempotency_request_hash
from leadengine.models import IdempotencyRecord
from leadengine.services import api_key_create
from leads.models import Lead, LeadStatus
from leads.services import lead_set_status
from tests.factories import IdempotencyRecordFactory, WorkspaceFactory
from tests.outbound.conftest import make_webhook as make_outbound_webhook
from webhooks.inbound.models import InboundRequest
from webhooks.outbound.models import Delivery

from .conftest import Sender, make_webhook
from .test_limits_and_concurrency import fire_concurrently

pytestmark = pytest.mark.django_db

BODY = {"email": "ada@example.com", "first_name": "Ada"}


def keyed(key):
    return {"HTTP_IDEMPOTENCY_KEY": key}


def in_progress_record(webhook, key, body):
    return IdempotencyRecordFactory(
        scope=f"inbound-webhook:{webhook.pk}",
        key=key,
        request_hash=idempotency_request_hash(json.dumps(body).encode()),
    )


def test_repeat_with_the_same_body_replays_the_answer_and_creates_one_lead(sender):
    first = sender.post(BODY, headers=keyed("order-1"))

    repeat = sender.post(BODY, headers=keyed("order-1"))

    assert first.status_code == repeat.status_code == 201
    assert repeat.json() == first.json()
    assert repeat["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Lead.objects.count() == 1


def test_replay_changes_nothing_even_after_the_lead_changed(settings, workspace, secret):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    sender = Sender(make_webhook(workspace, [("business_email", "email"), ("lead_status", "stage")]), secret)
    make_outbound_webhook(workspace, "http://127.0.0.1:9/")
    body = {"email": "bo@example.com", "stage": "Opportunity"}
    sender.post(body, headers=keyed("k"))
    lead = Lead.objects.get()
    lead_set_status(lead=lead, status=LeadStatus.MEETING_BOOKED)
    deliveries = Delivery.objects.count()

    repeat = sender.post(body, headers=keyed("k"))

    assert repeat["Idempotent-Replayed"] == "true"
    lead.refresh_from_db()
    assert lead.lead_status == LeadStatus.MEETING_BOOKED
    assert Delivery.objects.count() == deliveries == 2


def test_same_key_with_a_different_body_is_422_idempotency_key_reused(sender):
    sender.post(BODY, headers=keyed("order-1"))

    reused = sender.post({**BODY, "first_name": "Eve"}, headers=keyed("order-1"))

    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert set(reused.json()) == {"error", "detail", "code"}
    assert Lead.objects.get().first_name == "Ada"


def test_repeat_while_the_first_is_still_running_is_409(sender, webhook):
    in_progress_record(webhook, "order-1", BODY)

    repeat = sender.post(BODY, headers=keyed("order-1"))

    assert repeat.status_code == 409
    assert repeat.json()["code"] == "idempotency_request_in_progress"
    assert Lead.objects.count() == 0


def test_a_key_left_in_progress_by_a_crash_is_taken_over_once_its_lock_expires(sender, webhook):
    record = in_progress_record(webhook, "order-1", BODY)
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        locked_until=timezone.now() - datetime.timedelta(seconds=1)
    )

    retry = sender.post(BODY, headers=keyed("order-1"))

    assert retry.status_code == 201
    assert Lead.objects.count() == 1
    record.refresh_from_db()
    assert record.status_code == 201 and record.locked_until is None


def test_a_key_over_255_characters_is_400_and_nothing_is_saved(sender):
    response = sender.post(BODY, headers=keyed("k" * 256))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert Lead.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0


def test_the_same_key_on_another_webhook_is_a_different_scope(sender, workspace, secret):
    other = Sender(make_webhook(workspace, name="Other form"), secret)
    sender.post(BODY, headers=keyed("order-1"))

    on_other = other.post({"email": "eve@example.com"}, headers=keyed("order-1"))

    assert on_other.status_code == 201
    assert not on_other.has_header("Idempotent-Replayed")
    assert Lead.objects.count() == 2


def test_an_unauthenticated_request_never_reads_or_writes_a_key(sender):
    sender.post(BODY, headers=keyed("order-1"))

    without_key = sender.post(BODY, secret="", headers=keyed("order-1"))
    wrong_key = sender.post(BODY, secret="le_live_AAAAAAAA_wrong", headers=keyed("order-2"))

    assert (without_key.status_code, wrong_key.status_code) == (401, 401)
    assert not without_key.has_header("Idempotent-Replayed")
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["order-1"]


def test_a_replay_is_logged_and_marked_as_a_replay(sender):
    sender.post(BODY, headers=keyed("order-1"))

    sender.post(BODY, headers=keyed("order-1"))

    first, replay = InboundRequest.objects.order_by("id")
    assert (first.status_code, replay.status_code) == (201, 201)
    assert "idempotent_replayed" not in first.response
    assert replay.response == {**first.response, "idempotent_replayed": True}


def test_an_answer_that_says_retry_is_not_kept(sender, settings):
    settings.INBOUND_RATE_LIMIT_PER_MINUTE = 1
    sender.post({"email": "first@example.com"})

    limited = sender.post(BODY, headers=keyed("order-1"))

    assert limited.status_code == 429
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.production_services
@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_of_one_key_run_exactly_once(live_server):
    workspace = WorkspaceFactory()
    _key, secret = api_key_create(workspace=workspace, name="load")
    webhook = make_webhook(workspace)
    url = f"{live_server.url}/webhooks/{webhook.public_id}"
    headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": "retry-storm"}
    answers = []

    def send(n):
        for _attempt in range(10):  # the test server's listen backlog is 5
            try:
                answer = requests.post(url, json=BODY, headers=headers, timeout=30)
                answers.append(answer)
                return answer
            except requests.ConnectionError:
                continue
        raise AssertionError("could not reach the live server")

    statuses = fire_concurrently(20, send)

    executed = [a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a.headers]
    replayed = [a for a in answers if a.headers.get("Idempotent-Replayed") == "true"]
    assert len(executed) == 1
    assert len(executed) + len(replayed) + statuses.count(409) == 20
    assert all(a.json() == executed[0].json() for a in replayed)
    assert Lead.objects.filter(workspace=workspace).count() == 1
    assert InboundRequest.objects.filter(webhook=webhook, status_code=201).count() == 1 + len(replayed)
