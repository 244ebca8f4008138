"""The rules of `leadengine.idempotency` that no single endpoint shows: lifetime, purge, release."""

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from leadengine.idempotency import idempotency_begin, idempotency_finish
from leadengine.models import IdempotencyRecord
from leadengine.tasks import purge_idempotency_records
from tests.factories import IdempotencyRecordFactory

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


def test_purge_deletes_records_older_than_24_hours_only():
    now = timezone.now()
    expired = IdempotencyRecordFactory(created_at=now - IdempotencyRecord.LIFETIME - HOUR, status_code=201)
    stuck = IdempotencyRecordFactory(created_at=now - IdempotencyRecord.LIFETIME - HOUR)
    recent = IdempotencyRecordFactory(created_at=now - IdempotencyRecord.LIFETIME + HOUR, status_code=201)

    deleted = purge_idempotency_records()

    assert deleted == 2
    assert list(IdempotencyRecord.objects.all()) == [recent]
    assert not IdempotencyRecord.objects.filter(pk__in=[expired.pk, stuck.pk]).exists()


def test_the_purge_runs_hourly_on_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["leadengine-purge-idempotency-records"]

    assert (entry["task"], entry["schedule"]) == ("leadengine.purge_idempotency_records", 3600.0)


def test_an_expired_but_unpurged_key_starts_afresh_even_with_another_request():
    old = IdempotencyRecordFactory(
        key="k",
        request_hash="a" * 64,
        status_code=201,
        created_at=timezone.now() - IdempotencyRecord.LIFETIME - HOUR,
    )

    record = idempotency_begin(scope=old.scope, key="k", request_hash="b" * 64)

    assert record.pk == old.pk
    assert not record.is_complete
    assert record.request_hash == "b" * 64


@pytest.mark.parametrize("status_code", [500, 503, 409, 429])
def test_an_answer_that_says_retry_releases_the_key(status_code):
    record = idempotency_begin(scope="api-key:1", key="k", request_hash="a" * 64)

    idempotency_finish(record=record, status_code=status_code, body="{}", content_type="application/json")

    assert not IdempotencyRecord.objects.exists()


def test_a_request_taken_over_after_its_lock_does_not_overwrite_the_new_claim():
    now = timezone.now()
    slow = idempotency_begin(scope="api-key:1", key="k", request_hash="a" * 64, now=now)
    later = now + IdempotencyRecord.LOCK_TIMEOUT + datetime.timedelta(seconds=1)
    retry = idempotency_begin(scope="api-key:1", key="k", request_hash="a" * 64, now=later)

    idempotency_finish(record=slow, status_code=201, body='{"from": "slow"}', content_type="application/json")
    idempotency_finish(
        record=retry, status_code=201, body='{"from": "retry"}', content_type="application/json"
    )

    assert IdempotencyRecord.objects.get().response_body == '{"from": "retry"}'
