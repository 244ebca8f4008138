"""Receive Data metrics after known traffic through the endpoint."""

from unittest import mock

import pytest
from django.db import IntegrityError, connection
from django.test import Client

from leads.models import Lead
from tests.metrics_scrape import metrics_on, scrape  # noqa: F401 (fixture)
from webhooks.inbound.models import InboundRequest

from .conftest import payload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("metrics_on")]
REQUESTS = "leadengine_inbound_requests_total"
UPSERTS = "leadengine_lead_upsert_duration_seconds_count"
REJECTIONS = "leadengine_rate_limit_rejections_total"


def increase(before, after, name, **labels):
    return after.value(name, **labels) - before.value(name, **labels)


def test_inbound_requests_are_counted_by_status_code(sender, settings, django_capture_on_commit_callbacks):
    settings.INBOUND_RATE_LIMIT_PER_MINUTE = 5
    scraper = Client()
    before = scrape(scraper)

    # A single record is counted when its transaction commits (here: the test's callbacks run).
    with django_capture_on_commit_callbacks(execute=True):
        # given a creation, its update, another creation, a malformed body, a wrong key, an unknown id
        sender.post(payload("article_sample.json"))
        sender.post(payload("article_sample.json"))
        sender.post({"email": "ada@example.com"})
        sender.post("{not json")
        sender.post({"email": "x@example.com"}, secret="le_wrong")
        sender.post({"email": "x@example.com"}, public_id="nope")
        # and a creation, then past the limit of 5 a minute (counted after authentication), a rejection
        sender.post({"email": "bob@example.com"})
        rejected = sender.post({"email": "bob@example.com"})

    after = scrape(scraper)
    assert rejected.status_code == 429
    assert increase(before, after, REQUESTS, status_code="201") == 3
    assert increase(before, after, REQUESTS, status_code="200") == 1
    assert increase(before, after, REQUESTS, status_code="400") == 1
    assert increase(before, after, REQUESTS, status_code="401") == 1
    assert increase(before, after, REQUESTS, status_code="404") == 1
    assert increase(before, after, REQUESTS, status_code="429") == 1
    assert increase(before, after, REJECTIONS, scope="inbound_webhook") == 1
    # one upsert per saved record (the 400, 401, 404 and 429 never reached one)
    assert increase(before, after, UPSERTS) == 4


def test_a_batch_counts_one_request_and_one_upsert_per_record(sender):
    scraper = Client()
    before = scrape(scraper)

    response = sender.post([{"email": f"lead{n}@example.com"} for n in range(3)])

    after = scrape(scraper)
    assert response.status_code == 200
    assert increase(before, after, REQUESTS, status_code="200") == 1
    assert increase(before, after, UPSERTS) == 3


@pytest.mark.django_db(transaction=True)
def test_a_single_record_whose_first_commit_fails_and_is_written_again_is_counted_once(sender):
    """The first try writes the lead and its log row in one transaction with no savepoint; a
    COMMIT refused by the database (a deferred foreign key: the key deleted meanwhile, say)
    rolls it back and the record is written again the careful way. One request, one count."""
    scraper = Client()
    before = scrape(scraper)
    real_commit, commits = connection.commit, []

    def commit():
        commits.append(len(commits))
        if len(commits) == 1:
            raise IntegrityError("insert or update violates foreign key constraint (deferred)")
        return real_commit()

    with mock.patch.object(connection, "commit", side_effect=commit):
        response = sender.post({"email": "once@example.com"})

    after = scrape(scraper)
    assert response.status_code == 201, response.content
    assert len(commits) >= 2  # the first try's commit failed, the careful one went through
    assert Lead.objects.filter(business_email="once@example.com").count() == 1
    assert InboundRequest.objects.filter(status_code=201).count() == 1
    assert increase(before, after, REQUESTS, status_code="201") == 1
