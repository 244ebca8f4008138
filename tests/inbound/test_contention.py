"""Overlapping batches on PostgreSQL: no deadlock reaches the sender, nothing is lost."""

import contextlib
import threading
from unittest import mock

import pytest
from django.db import DataError, IntegrityError, OperationalError, connection

from leadengine.services import api_key_create
from leads import services
from leads.models import Lead, LeadQuerySet
from tests.factories import CustomFieldFactory, LeadFactory, WorkspaceFactory
from webhooks.inbound import services as inbound_services
from webhooks.inbound.models import InboundRequest

from .conftest import make_webhook
from .test_limits_and_concurrency import post_with_retries

MAPPINGS = [("business_email", "email"), ("ext", "ext"), ("first_name", "first_name")]
SIZE = 200


def post_at_once(requests_to_send):
    """POST every (url, body, secret) at the same moment; the responses, in order."""
    barrier = threading.Barrier(len(requests_to_send))
    responses, errors = [None] * len(requests_to_send), []

    def run(index, url, body, secret):
        barrier.wait()
        try:
            responses[index] = post_with_retries(url, body, secret)
        except Exception as exc:  # surfaced below instead of dying silently in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n, *sent)) for n, sent in enumerate(requests_to_send)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return responses


def assert_whole_batch_saved(response, created, updated):
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert (body["created"], body["updated"], body["failed"]) == (created, updated, 0), [
        result for result in body["results"] if result["status"] not in (200, 201)
    ][:3]


@pytest.fixture
def ext_workspace(transactional_db):
    workspace = WorkspaceFactory()
    CustomFieldFactory(workspace=workspace, key="ext")
    _key, secret = api_key_create(workspace=workspace, name="load")
    return workspace, secret


@pytest.mark.production_services
def test_batches_deduping_on_email_and_on_ext_in_opposite_orders_both_save_every_record(
    live_server, ext_workspace
):
    # Given 200 leads whose `ext` order is the reverse of their email order, and a webhook
    # deduping on each, so each batch locks the same leads in the other's reverse order
    workspace, secret = ext_workspace
    by_email = make_webhook(workspace, MAPPINGS, name="By email", dedupe_field="business_email")
    by_ext = make_webhook(workspace, MAPPINGS, name="By ext", dedupe_field="ext")
    records = [{"email": f"lead{n:03}@example.com", "ext": f"X{SIZE - n:03}"} for n in range(SIZE)]
    for record in records:
        LeadFactory(workspace=workspace, business_email=record["email"], custom_fields={"ext": record["ext"]})
    for run in range(5):
        # When both batches arrive at the same moment
        email_batch = [{**record, "first_name": f"E{run}"} for record in records]
        ext_batch = [{**record, "first_name": f"X{run}"} for record in reversed(records)]
        responses = post_at_once(
            [
                (f"{live_server.url}/webhooks/{by_email.public_id}", email_batch, secret),
                (f"{live_server.url}/webhooks/{by_ext.public_id}", ext_batch, secret),
            ]
        )

        # Then both are saved whole, each lead once
        for response in responses:
            assert_whole_batch_saved(response, created=0, updated=SIZE)
        assert Lead.objects.filter(workspace=workspace).count() == SIZE
        assert set(Lead.objects.values_list("first_name", flat=True)) <= {f"E{run}", f"X{run}"}


@pytest.mark.production_services
def test_batches_deduping_on_ext_giving_the_same_emails_in_opposite_orders_never_500(
    live_server, ext_workspace
):
    # Given two webhooks deduping on `ext`, whose senders give the same new emails under
    # their own ext values, in opposite orders (each batch's email order is the other's reverse)
    workspace, secret = ext_workspace
    first = make_webhook(workspace, MAPPINGS, name="First", dedupe_field="ext")
    second = make_webhook(workspace, MAPPINGS, name="Second", dedupe_field="ext")
    for run in range(5):
        emails = [f"r{run}-{n:03}@example.com" for n in range(SIZE)]
        first_batch = [{"email": email, "ext": f"A{run}-{n:03}"} for n, email in enumerate(emails)]
        second_batch = [{"email": email, "ext": f"B{run}-{SIZE - n:03}"} for n, email in enumerate(emails)]

        # When both arrive at the same moment
        responses = post_at_once(
            [
                (f"{live_server.url}/webhooks/{first.public_id}", first_batch, secret),
                (f"{live_server.url}/webhooks/{second.public_id}", second_batch, secret),
            ]
        )

        # Then one batch creates every lead; the other is told, record by record, that each
        # email already belongs to another lead (a data conflict, not a 500 or a lost batch)
        assert [response.status_code for response in responses] == [200, 200], responses[0].text[:300]
        bodies = sorted((response.json() for response in responses), key=lambda body: body["created"])
        assert (bodies[1]["created"], bodies[1]["failed"]) == (SIZE, 0)
        assert (bodies[0]["created"], bodies[0]["updated"], bodies[0]["failed"]) == (0, 0, SIZE)
        assert {result["errors"][0]["field"] for result in bodies[0]["results"]} == {"business_email"}
        assert Lead.objects.filter(workspace=workspace, business_email__in=emails).count() == SIZE


def conflicting_saves(email, times, error):
    """Make saving the lead with `email` fail `times` times as a lost race does (the database
    raising), then succeed; the calls made for that email are counted."""
    original_save = Lead.save
    calls = []

    def save(lead, *args, **kwargs):
        if lead.business_email == email:
            calls.append(lead.business_email)
            if len(calls) <= times:
                raise error
        return original_save(lead, *args, **kwargs)

    def bulk_create(queryset, objs, *args, **kwargs):
        # The set-based write of a batch meets the same lost race, and goes record by record.
        objs = list(objs)
        if any(lead.business_email == email for lead in objs):
            raise error
        return original_bulk_create(queryset, objs, *args, **kwargs)

    def instance_insert(lead, *args, **kwargs):
        # A single post's new lead is inserted on its own: it meets the same race.
        if lead.business_email == email:
            raise error
        return original_instance_insert(lead, *args, **kwargs)

    def instances_insert(leads, *args, **kwargs):
        # A batch's new leads on PostgreSQL: one statement, the same lost race.
        if any(lead.business_email == email for lead in leads):
            raise error
        return original_instances_insert(leads, *args, **kwargs)

    original_bulk_create = LeadQuerySet.bulk_create
    original_instance_insert = services.instance_insert
    original_instances_insert = services.instances_insert
    patches = contextlib.ExitStack()
    patches.enter_context(mock.patch.object(services, "instance_insert", side_effect=instance_insert))
    patches.enter_context(mock.patch.object(services, "instances_insert", side_effect=instances_insert))
    patches.enter_context(mock.patch.object(Lead, "save", autospec=True, side_effect=save))
    patches.enter_context(
        mock.patch.object(LeadQuerySet, "bulk_create", autospec=True, side_effect=bulk_create)
    )
    return patches, calls


@pytest.mark.django_db
def test_a_record_that_conflicts_twice_is_retried_and_saved(sender):
    patch, calls = conflicting_saves("busy@example.com", 2, OperationalError("deadlock detected"))
    with patch:
        response = sender.post({"email": "busy@example.com"})

    assert response.status_code == 201
    assert len(calls) == 3
    assert Lead.objects.filter(business_email="busy@example.com").exists()


@pytest.mark.django_db
def test_a_record_that_keeps_conflicting_is_a_json_503_with_retry_after(sender):
    patch, calls = conflicting_saves("stuck@example.com", 99, OperationalError("deadlock detected"))
    with patch:
        response = sender.post({"email": "stuck@example.com"})

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "1"
    assert response.json()["code"] == "conflict"
    assert response.json()["retryable"] is True
    assert len(calls) == 3
    assert not Lead.objects.exists()


@pytest.mark.django_db
def test_a_batch_record_that_keeps_conflicting_fails_alone_and_the_others_are_saved(sender):
    batch = [{"email": "a@example.com"}, {"email": "stuck@example.com"}, {"email": "z@example.com"}]
    patch, calls = conflicting_saves("stuck@example.com", 99, IntegrityError("duplicate key value"))
    with patch:
        response = sender.post(batch)

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["failed"]) == (2, 1)
    stuck = body["results"][1]
    assert (stuck["status"], stuck["code"], stuck["retryable"]) == (503, "conflict", True)
    assert len(calls) == 3
    assert set(Lead.objects.values_list("business_email", flat=True)) == {"a@example.com", "z@example.com"}


@pytest.mark.django_db
@pytest.mark.parametrize("error", [DataError("value refused"), RuntimeError("bug in the log row")])
def test_a_log_row_that_cannot_be_written_never_loses_the_lead(sender, error):
    """The first try writes the lead and its log row without savepoints; when the log row
    fails, everything is written again with the log in a savepoint of its own, which loses
    the log line but keeps the lead and the 201."""
    original = inbound_services.instance_insert
    tries = []

    def insert(instance, *args, **kwargs):
        if isinstance(instance, InboundRequest):
            tries.append(instance.status_code)
            raise error
        return original(instance, *args, **kwargs)

    with mock.patch.object(inbound_services, "instance_insert", side_effect=insert):
        response = sender.post({"email": "kept@example.com"})

    assert response.status_code == 201
    assert tries == [201, 201]  # the first try, then the careful one
    assert Lead.objects.filter(business_email="kept@example.com").count() == 1
    assert not InboundRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_during_the_first_try_is_a_json_503_and_not_written_again(sender):
    tries = []

    def insert(lead, *args, **kwargs):
        tries.append(lead.business_email)
        connection.close()  # the database went away under the request's transaction
        raise OperationalError("server closed the connection unexpectedly")

    with mock.patch.object(services, "instance_insert", side_effect=insert):
        response = sender.post({"email": "lost@example.com"})

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert tries == ["lost@example.com"]  # never retried on a dead connection
    assert not Lead.objects.filter(business_email="lost@example.com").exists()
