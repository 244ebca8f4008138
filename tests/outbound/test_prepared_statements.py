"""The hot statements are planned once per PostgreSQL connection (`server_prepared`)."""

import json
from contextlib import contextmanager

import pytest
from django.db import connection
from django.utils import timezone

from leads.services import lead_set_status
from tests.factories import LeadFactory
from webhooks.outbound import dispatch
from webhooks.outbound.models import Delivery

from .conftest import make_webhook, plan_nodes

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"),
]


def plans_by_statement():
    """{statement text: (generic plans, custom plans)} of this connection's prepared statements."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        return {text: (generic, custom) for text, generic, custom in cursor.fetchall()}


def plans_made_since(before, start, marker=""):
    """(generic, custom) plans made since `before` by the statements whose text starts with
    `start` and holds `marker`."""
    made = [0, 0]
    for text, (generic, custom) in plans_by_statement().items():
        if text.lstrip().startswith(start) and marker in text:
            generic_before, custom_before = before.get(text, (0, 0))
            made[0] += generic - generic_before
            made[1] += custom - custom_before
    return tuple(made)


def four_changes_and_two_claims_of_each_kind(workspace):
    make_webhook(workspace, "https://example.com/hook")
    for lead in LeadFactory.create_batch(4, workspace=workspace):
        lead_set_status(lead=lead, status="Meeting Booked")
    ids = list(Delivery.objects.order_by("id").values_list("id", flat=True))
    dispatch.deliveries_claim(limit=10, ids=ids[:1])  # a doorbell's claims of its ids,
    dispatch.deliveries_claim(limit=10, ids=ids[1:3])  # claimed, never sent
    for _ in range(2):
        dispatch.deliveries_claim(limit=1)  # claims of any due row


def test_a_status_changes_statements_and_the_claim_are_prepared_with_one_generic_plan(workspace):
    before = plans_by_statement()
    four_changes_and_two_claims_of_each_kind(workspace)

    # Each kind ran on one plan made for any parameters: no planning on each run.
    assert plans_made_since(before, 'SELECT "leads_lead"."id"') == (4, 0)  # the snapshot
    assert plans_made_since(before, 'INSERT INTO "outbound_delivery"') == (4, 0)  # the deliveries
    assert plans_made_since(before, "WITH RECURSIVE", "SKIP LOCKED") == (2, 0)  # claims of any due
    assert plans_made_since(before, "WITH", "unnest(") == (2, 0)  # of 1 id, then 2: one text


def test_with_prepared_statements_off_nothing_is_prepared(workspace, settings):
    """The switch for a pooler that cannot keep prepared statements."""
    settings.DATABASE_PREPARED_STATEMENTS = False
    before = plans_by_statement()
    four_changes_and_two_claims_of_each_kind(workspace)

    assert plans_by_statement() == before


@contextmanager
def plans_as_run():
    """The plans PostgreSQL ran for the statements inside (auto_explain, as JSON notices): a
    prepared statement's generic plan as it ran, which an EXPLAIN of its text is not."""
    plans = []
    connection.ensure_connection()

    def collect(diagnostic):
        message = diagnostic.message_primary or ""
        if "{" in message:
            plans.append(json.loads(message[message.index("{") :]))

    connection.connection.add_notice_handler(collect)
    with connection.cursor() as cursor:
        cursor.execute("LOAD 'auto_explain'")
        for setting, value in [("log_format", "json"), ("log_level", "notice"), ("log_analyze", "on")]:
            cursor.execute(f"SET auto_explain.{setting} = {value}")
        cursor.execute("SET auto_explain.log_min_duration = 0")
    try:
        yield plans
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET auto_explain.log_min_duration = -1")
        connection.connection.remove_notice_handler(collect)


def test_the_prepared_claim_finds_endpoints_with_work_without_reading_finished_deliveries(workspace):
    """On its one generic plan the claim must still skip through the index of queued
    deliveries: a plan for `status IN ($1, $2)` could not use it, and read every finished
    delivery of each endpoint on each claim."""
    for name in ("a", "b"):
        make_webhook(workspace, f"https://example.com/{name}", name=name)
    for lead in LeadFactory.create_batch(60, workspace=workspace):
        lead_set_status(lead=lead, status="Meeting Booked")
    finished = Delivery.objects.update(status=Delivery.Status.SUCCEEDED, completed_at=timezone.now())
    lead_set_status(lead=LeadFactory(workspace=workspace), status="Meeting Booked")  # 2 queued
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE outbound_delivery")

    with plans_as_run() as plans:
        claim = dispatch.deliveries_claim(limit=10)

    assert len(claim.to_send) == 2
    [claim_plan] = [plan for plan in plans if "SKIP LOCKED" in plan["Query Text"]]
    rows_read = sum(
        (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
        for node in plan_nodes(claim_plan["Plan"])
        if node.get("Relation Name") == Delivery._meta.db_table
    )
    assert finished == 120
    assert rows_read < 30, rows_read


def test_a_long_prepared_statement_is_parsed_once_per_process(workspace, monkeypatch):
    """psycopg parses a text of over 4,096 characters on every run; the status change's
    snapshot (4.4 KB) and the claim (4.7 KB) run once per change and once per wave."""
    from psycopg import _queries

    make_webhook(workspace, "https://example.com/hook")
    lead_set_status(lead=LeadFactory(workspace=workspace), status="Meeting Booked")
    dispatch.deliveries_claim(limit=1)  # the first run of each parses its text
    parsed = []
    parse = _queries._query2pg_nocache
    monkeypatch.setattr(_queries, "_query2pg_nocache", lambda *args: parsed.append(args[0]) or parse(*args))

    lead_set_status(lead=LeadFactory(workspace=workspace), status="Meeting Booked")
    claim = dispatch.deliveries_claim(limit=1)

    assert len(claim.to_send) == 1
    assert json.loads(bytes(claim.to_send[0].payload))["new_lead_status"] == "Meeting Booked"
    assert parsed == []
