"""The hot statements are planned once per PostgreSQL connection (`server_prepared`)."""

import pytest
from django.db import connection

from leads.services import lead_set_status
from tests.factories import LeadFactory
from webhooks.outbound import dispatch

from .conftest import make_webhook

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


def two_changes_and_two_claims(workspace):
    make_webhook(workspace, "https://example.com/hook")
    for lead in LeadFactory.create_batch(2, workspace=workspace):
        lead_set_status(lead=lead, status="Meeting Booked")
    for _ in range(2):
        dispatch.deliveries_claim(limit=1)  # claimed, never sent


def test_a_status_changes_statements_and_the_claim_are_prepared_with_one_generic_plan(workspace):
    before = plans_by_statement()
    two_changes_and_two_claims(workspace)

    # Each ran twice on one plan made for any parameters: no planning on each run.
    assert plans_made_since(before, 'SELECT "leads_lead"."id"') == (2, 0)  # the snapshot
    assert plans_made_since(before, 'INSERT INTO "outbound_delivery"') == (2, 0)  # the deliveries
    assert plans_made_since(before, "WITH", "SKIP LOCKED") == (2, 0)  # the claim


def test_with_prepared_statements_off_nothing_is_prepared(workspace, settings):
    """The switch for a pooler that cannot keep prepared statements."""
    settings.DATABASE_PREPARED_STATEMENTS = False
    before = plans_by_statement()
    two_changes_and_two_claims(workspace)

    assert plans_by_statement() == before
