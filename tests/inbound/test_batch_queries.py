"""P5 for batches: a batch is written in the same number of queries whatever its size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.catalogue import DEDUPE_FIELD_KEYS
from leads.models import OTHER_DEDUPE_FIELDS, CustomField, Lead
from leads.services import _leads_by_dedupe_value
from tests.factories import CustomFieldFactory
from webhooks.inbound.models import FieldMapping

pytestmark = pytest.mark.django_db


def queries_for(sender, batch):
    with CaptureQueriesContext(connection) as captured:
        response = sender.post(batch)
    assert response.status_code == 200
    return len(captured), response.json()


def test_a_batch_of_new_leads_costs_the_same_queries_for_2_and_10_records_and_no_more_for_1(sender):
    def new_leads(count, run):
        records = [
            {"email": f"{run}-{i}@example.com", "first_name": "Ada", "city": "London"} for i in range(count)
        ]
        queries, body = queries_for(sender, records)
        assert body["created"] == count
        return queries

    new_leads(1, "warm-up")
    one, two, ten = new_leads(1, "a"), new_leads(2, "b"), new_leads(10, "c")
    # One record deduped on the business email leaves its lock to the unique constraint.
    assert one <= two == ten, (one, two, ten)
    assert Lead.objects.count() == 14


def test_a_batch_mixing_new_and_stored_leads_costs_the_same_queries_for_2_and_20_records(sender):
    def mixed(count, run):
        sender.post([{"email": f"{run}-{i}@example.com"} for i in range(0, count, 2)])  # half exist
        records = [{"email": f"{run}-{i}@example.com", "first_name": "Ada"} for i in range(count)]
        queries, body = queries_for(sender, records)
        assert (body["created"], body["updated"]) == (count // 2, count // 2)
        return queries

    mixed(2, "warm-up")
    assert mixed(2, "a") == mixed(20, "b")


def test_one_post_of_a_new_lead_takes_6_round_trips_on_postgresql_and_one_commit_at_most(sender):
    # The webhook with its mapping rows and custom fields (one query), the key, the lead's
    # INSERT (on PostgreSQL `ON CONFLICT DO NOTHING` first: no lookup for a new lead; SQLite
    # looks it up before) and the log row, in ONE transaction with no savepoint inside it
    # (here the test's savepoint stands for BEGIN … COMMIT): 18 round trips and 2 commits
    # before issue #12, 14 before the mapping rode with the webhook, 12 while the upsert and
    # the log row had savepoints of their own, 7 while a new lead was looked up first.
    sender.post({"email": "warm-up@example.com"})  # the key's once-a-minute last_used_at stamp
    with CaptureQueriesContext(connection) as captured:
        response = sender.post({"email": "ada@example.com", "first_name": "Ada", "city": "London"})

    assert response.status_code == 201
    statements = [query["sql"] for query in captured.captured_queries]
    postgresql = connection.vendor == "postgresql"
    assert len(statements) <= (6 if postgresql else 7), statements
    lookups = [sql for sql in statements if sql.startswith('SELECT "leads_lead"')]
    assert len(lookups) == (0 if postgresql else 1), statements
    assert not any("SAVEPOINT" in sql.upper() for sql in statements[3:-1]), statements
    assert sum(sql.upper().startswith("COMMIT") for sql in statements) <= 1, statements


def test_a_post_for_a_stored_business_email_updates_that_lead_after_the_insert_finds_it_taken(
    sender, workspace
):
    assert sender.post({"email": "Ada@Example.com", "first_name": "Ada"}).status_code == 201
    response = sender.post({"email": "ada@example.com", "first_name": "Augusta", "city": "London"})

    assert response.status_code == 200, response.content
    lead = Lead.objects.get(workspace=workspace)
    assert (lead.first_name, lead.city, lead.business_email) == ("Augusta", "London", "ada@example.com")


def test_a_post_uses_the_mapping_and_custom_fields_as_they_are_now_not_as_a_previous_post_saw_them(
    sender, workspace
):
    # Contexts are kept per process by content: an edit between two posts is seen at once.
    CustomFieldFactory(workspace=workspace, key="score", type=CustomField.Type.TEXT)
    FieldMapping.objects.create(webhook=sender.webhook, field="score", source_path="points")
    assert sender.post({"email": "a@example.com", "points": "12", "town": "Paris"}).status_code == 201

    FieldMapping.objects.filter(webhook=sender.webhook, field="city").delete()
    FieldMapping.objects.create(webhook=sender.webhook, field="city", source_path="town")
    CustomField.objects.filter(workspace=workspace, key="score").update(type=CustomField.Type.NUMBER)
    response = sender.post({"email": "b@example.com", "points": "12", "town": "Paris"})

    assert response.status_code == 201
    first, second = (
        Lead.objects.get(business_email="a@example.com"),
        Lead.objects.get(business_email="b@example.com"),
    )
    assert (first.city, first.custom_fields["score"]) == ("", "12")
    assert (second.city, second.custom_fields["score"]) == ("Paris", 12)


DEDUPE_INDEXES = {
    "business_email": "unique_lead_business_email",
    **{key: f"lead_dedupe_{key}" for key in OTHER_DEDUPE_FIELDS},
}


def test_every_dedupe_field_has_its_index():
    assert set(DEDUPE_INDEXES) == set(DEDUPE_FIELD_KEYS)


@pytest.mark.production_services
@pytest.mark.parametrize("field", sorted(DEDUPE_INDEXES))
def test_a_batch_lookup_of_many_dedupe_values_can_use_the_fields_index(workspace, field):
    """Without an index, every post deduped on the field read all the leads of its workspace.
    And PostgreSQL proves a list of more than 100 values non-empty only when the query says
    so: without that, the partial index was out of reach of a batch of 1,000 records (6.7 ms
    at 10,000 leads for business emails, against 1.2 ms with it)."""
    Lead.objects.bulk_create(Lead(workspace=workspace, **{field: f"v{i}"}) for i in range(500))
    values = [f"new-{index}" for index in range(150)]
    with CaptureQueriesContext(connection) as captured:
        assert _leads_by_dedupe_value(workspace, field, values) == {}
    [lookup] = captured.captured_queries
    with connection.cursor() as cursor:  # in the test's transaction: rolled back after
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'leads_lead' AND indexname NOT IN (%s, %s)",
            ["leads_lead_pkey", DEDUPE_INDEXES[field]],
        )
        for (index,) in cursor.fetchall():  # left: the primary key and the field's index
            cursor.execute(f'DROP INDEX "{index}"')
        cursor.execute("ANALYZE leads_lead")
        # Only a bitmap scan left, and only the field's index can feed one (the primary key has
        # no condition here): the planner takes it when the query lets it, else a seq scan.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + lookup["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert DEDUPE_INDEXES[field] in plan, plan
