"""P5 for batches: every lead of a batch costs the same fixed number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.models import Lead

pytestmark = pytest.mark.django_db


def test_queries_grow_by_a_constant_per_lead_in_a_batch(sender):
    def queries_for(count, run):
        batch = [
            {"email": f"{run}-{index}@example.com", "first_name": "Ada", "city": "London"}
            for index in range(count)
        ]
        with CaptureQueriesContext(connection) as captured:
            response = sender.post(batch)
        assert response.status_code == 200
        assert response.json()["created"] == count
        return len(captured)

    queries_for(1, "warm-up")
    one, two, ten = queries_for(1, "a"), queries_for(2, "b"), queries_for(10, "c")
    per_lead = two - one
    assert per_lead > 0
    assert ten - one == 9 * per_lead, (one, two, ten)
    assert Lead.objects.count() == 14
