import threading
import time

import pytest
import requests
import time_machine
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from leadengine.services import api_key_create
from leads.models import Lead
from tests.factories import CustomFieldFactory, WorkspaceFactory

from .conftest import Sender, make_webhook


@pytest.mark.django_db
@override_settings(INBOUND_RATE_LIMIT_PER_MINUTE=3)
def test_request_over_the_rate_limit_is_429_with_retry_after(sender):
    # The window is the calendar minute: the four posts must not straddle two of them.
    mid_minute = (int(time.time()) // 60 + 1) * 60 + 20
    with time_machine.travel(mid_minute, tick=False):
        codes = [sender.post({"email": f"r{n}@example.com"}).status_code for n in range(3)]

        limited = sender.post({"email": "r9@example.com"})

    assert codes == [201, 201, 201]
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["code"] == "rate_limited"
    assert Lead.objects.count() == 3


@pytest.mark.django_db
def test_queries_per_lead_stay_constant_as_mappings_and_custom_fields_grow(workspace, secret):
    def queries_for(n_fields):
        ws = WorkspaceFactory()
        _key, ws_secret = api_key_create(workspace=ws, name="k")
        fields = [CustomFieldFactory(workspace=ws, key=f"extra_{n}") for n in range(n_fields)]
        mappings = [("business_email", "email"), ("first_name", "first")] + [(f.key, f.key) for f in fields]
        sender = Sender(make_webhook(ws, mappings), ws_secret)
        body = {"email": "q@example.com", "first": "Q", **{f.key: "v" for f in fields}}
        sender.post(body)  # warm-up: creates the lead; the measured request updates it
        with CaptureQueriesContext(connection) as queries:
            response = sender.post(body)
        assert response.status_code == 200
        return len(queries)

    small, large = queries_for(1), queries_for(25)
    assert small > 5  # the counting works
    assert small == large


def post_with_retries(url, body, secret):
    """A sender that retries refused connections (the test server's listen backlog is 5)."""
    for attempt in range(10):
        try:
            return requests.post(url, json=body, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
        except requests.ConnectionError:
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("could not reach the live server")


def fire_concurrently(count, send):
    barrier = threading.Barrier(count)
    statuses, errors = [], []

    def run(n):
        barrier.wait()
        try:
            statuses.append(send(n).status_code)
        except Exception as exc:  # surfaced below instead of dying silently in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return statuses


def assert_one_creation(statuses, count):
    # A retried request whose first reply was lost answers 200, so "at most one 201".
    assert len(statuses) == count
    assert set(statuses) <= {200, 201}
    assert statuses.count(201) <= 1


@pytest.mark.production_services
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_requests_for_one_email_create_one_lead(live_server):
    workspace = WorkspaceFactory()
    _key, secret = api_key_create(workspace=workspace, name="load")
    webhook = make_webhook(workspace)
    url = f"{live_server.url}/webhooks/{webhook.public_id}"

    statuses = fire_concurrently(
        50, lambda n: post_with_retries(url, {"email": "Same@Example.com", "first_name": f"T{n}"}, secret)
    )

    assert_one_creation(statuses, 50)
    assert Lead.objects.filter(workspace=workspace, business_email="same@example.com").count() == 1


@pytest.mark.production_services
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_on_a_dedupe_field_without_constraint_create_one_lead(live_server):
    workspace = WorkspaceFactory()
    _key, secret = api_key_create(workspace=workspace, name="load")
    webhook = make_webhook(workspace, [("mobile_phone", "phone")], dedupe_field="mobile_phone")
    url = f"{live_server.url}/webhooks/{webhook.public_id}"

    statuses = fire_concurrently(20, lambda n: post_with_retries(url, {"phone": "+1555"}, secret))

    assert_one_creation(statuses, 20)
    assert Lead.objects.filter(workspace=workspace).count() == 1


@pytest.mark.production_services
@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_in_opposite_orders_neither_deadlock_nor_duplicate(live_server):
    """A batch is one transaction: two batches naming the same leads in opposite orders must
    take their locks in the same order (dedupe-value order), or PostgreSQL aborts one."""
    workspace = WorkspaceFactory()
    _key, secret = api_key_create(workspace=workspace, name="load")
    webhook = make_webhook(workspace)
    url = f"{live_server.url}/webhooks/{webhook.public_id}"
    batch = [{"email": f"lead{n:03}@example.com", "first_name": f"F{n}"} for n in range(60)]
    orders = [batch, list(reversed(batch))] * 3

    statuses = fire_concurrently(len(orders), lambda n: post_with_retries(url, orders[n], secret))

    assert statuses == [200] * len(orders)
    assert Lead.objects.filter(workspace=workspace).count() == 60
