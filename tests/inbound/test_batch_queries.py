"""P5 for batches: a batch is written in the same number of queries whatever its size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.models import Lead

pytestmark = pytest.mark.django_db


def queries_for(sender, batch):
    with CaptureQueriesContext(connection) as captured:
        response = sender.post(batch)
    assert response.status_code == 200
    return len(captured), response.json()


def test_a_batch_of_new_leads_costs_the_same_queries_for_1_2_and_10_records(sender):
    def new_leads(count, run):
        records = [
            {"email": f"{run}-{i}@example.com", "first_name": "Ada", "city": "London"} for i in range(count)
        ]
        queries, body = queries_for(sender, records)
        assert body["created"] == count
        return queries

    new_leads(1, "warm-up")
    one, two, ten = new_leads(1, "a"), new_leads(2, "b"), new_leads(10, "c")
    assert one == two == ten, (one, two, ten)
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


def test_one_post_of_a_new_lead_takes_14_round_trips_and_one_commit_at_most(sender):
    # Webhook, key, mapping rows, custom fields, the upsert (locks, find, insert in a
    # savepoint) and the log row, in ONE transaction: 18 round trips and 2 commits before.
    sender.post({"email": "warm-up@example.com"})  # the key's once-a-minute last_used_at stamp
    with CaptureQueriesContext(connection) as captured:
        response = sender.post({"email": "ada@example.com", "first_name": "Ada", "city": "London"})

    assert response.status_code == 201
    statements = [query["sql"] for query in captured.captured_queries]
    assert len(statements) <= 14, statements
    assert sum(sql.upper().startswith("COMMIT") for sql in statements) <= 1, statements
