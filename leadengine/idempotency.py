"""`Idempotency-Key`, Stripe's semantics, for the inbound endpoint and the REST API's POSTs.

A request with a key first claims (scope, key) by inserting an "in progress" row, committed
before the work starts; the unique constraint decides which of concurrent repeats runs (the
others' INSERT conflicts). The claimant then runs and finishes the row with its response:

- a repeat with the same request hash gets that response again (the adapter adds
  `Idempotent-Replayed: true`) and changes nothing;
- a repeat with another hash is refused (422 `idempotency_key_reused`);
- a repeat while the first still runs is refused (409 `idempotency_request_in_progress`);
  after `IdempotencyRecord.LOCK_TIMEOUT` the first is taken for crashed and a repeat takes over.

Unlike Stripe, answers that ask the client to retry (5xx, 409, 429) are not kept: the key is
released, so the retry runs again (our 503 under contention says "retry"; replaying it would
make the retry pointless). Keys live 24 h, then `idempotency_records_purge` deletes them.

The adapters (`webhooks/inbound/receive.py`, `leadengine/api/idempotency.py`) call begin only
for an authenticated caller, and render `IdempotencyError` in their own error shape.
"""

import hashlib
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import IdempotencyRecord

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Whether a response is kept for replay: not when it tells the client to retry.
_RETRY_STATUSES = {409, 429}
_TAKE_OVER_ATTEMPTS = 3


class IdempotencyError(Exception):
    """A key this request may not use, with the answer's status, code and message."""

    def __init__(self, status_code, code, message):
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


def idempotency_request_hash(*parts):
    """SHA-256 of what a request asks for (its body; the API adds method and path)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: ("ab", "c") != ("a", "bc")
        digest.update(part)
    return digest.hexdigest()


def idempotency_begin(*, scope, key, request_hash, now=None):
    """Claim `key` in `scope` for this request, or find its stored answer.

    Returns the `IdempotencyRecord`: complete (`is_complete`) means replay it; otherwise this
    request owns it and must end with `idempotency_finish` or `idempotency_release`. Raises
    `IdempotencyError` for a bad key, a key reused with another request, or one in progress.
    """
    _check_key(key)
    now = now or timezone.now()
    for _attempt in range(_TAKE_OVER_ATTEMPTS):
        try:
            # Its own transaction (autocommit in a web request): committed before the work, so
            # a concurrent repeat sees it at once.
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    scope=scope,
                    key=key,
                    request_hash=request_hash,
                    created_at=now,
                    locked_until=now + IdempotencyRecord.LOCK_TIMEOUT,
                )
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if existing is None:
            continue  # released or purged since our INSERT: try again
        if existing.is_expired(now):
            if _take_over(existing, request_hash, now):  # a new request, whatever it asks
                return existing
            continue
        if existing.request_hash != request_hash:
            raise IdempotencyError(
                422,
                "idempotency_key_reused",
                f"This {HEADER} was used with a different request in the last 24 hours; "
                "use a new key for a new request.",
            )
        if existing.is_complete:
            return existing
        if existing.locked_until > now or not _take_over(existing, request_hash, now):
            break
        return existing  # the first request crashed; this one runs instead
    raise IdempotencyError(
        409,
        "idempotency_request_in_progress",
        f"A request with this {HEADER} is still being processed; retry in a moment.",
    )


def idempotency_finish(*, record, status_code, body, content_type, headers=None):
    """End a claimed request: keep its response for replay, or release the key when the
    answer tells the client to retry (5xx, 409, 429)."""
    if status_code >= 500 or status_code in _RETRY_STATUSES:
        idempotency_release(record=record)
        return
    updated = _still_claimed(record).update(
        status_code=status_code,
        response_body=body,
        content_type=content_type,
        response_headers=headers or {},
        locked_until=None,
    )
    if not updated:
        logger.warning(
            "Idempotency key %r (%s) was taken over before its request finished: it ran longer than %s",
            record.key,
            record.scope,
            IdempotencyRecord.LOCK_TIMEOUT,
        )


def idempotency_release(*, record):
    """Give a claimed key up (the request failed): the next repeat runs."""
    _still_claimed(record).delete()


def idempotency_records_purge(*, now=None):
    """Delete records older than their 24 h lifetime; returns how many."""
    now = now or timezone.now()
    deleted, _by_model = IdempotencyRecord.objects.filter(
        created_at__lte=now - IdempotencyRecord.LIFETIME
    ).delete()
    return deleted


def _check_key(key):
    if not key or len(key) > IdempotencyRecord.MAX_KEY_LENGTH:
        raise IdempotencyError(
            400,
            "invalid_idempotency_key",
            f"{HEADER} must be 1 to {IdempotencyRecord.MAX_KEY_LENGTH} characters long.",
        )


def _still_claimed(record):
    """The record's row, if no repeat has taken it over since this request claimed it."""
    return IdempotencyRecord.objects.filter(
        pk=record.pk, status_code__isnull=True, locked_until=record.locked_until
    )


def _take_over(existing, request_hash, now):
    """Restart an expired or abandoned record for this request. A conditional UPDATE on the
    row as we read it, so of two repeats taking over at once exactly one succeeds."""
    as_read = IdempotencyRecord.objects.filter(
        pk=existing.pk, created_at=existing.created_at, status_code=existing.status_code
    )
    if existing.locked_until is None:
        as_read = as_read.filter(locked_until__isnull=True)
    else:
        as_read = as_read.filter(locked_until=existing.locked_until)
    fresh = {
        "request_hash": request_hash,
        "created_at": now,
        "locked_until": now + IdempotencyRecord.LOCK_TIMEOUT,
        "status_code": None,
        "content_type": "",
        "response_headers": {},
        "response_body": "",
    }
    if not as_read.update(**fresh):
        return False
    for name, value in fresh.items():
        setattr(existing, name, value)
    return True
