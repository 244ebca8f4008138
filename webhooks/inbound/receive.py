"""`inbound_receive`: one request to a Receive Data endpoint, from its bytes to the answer
and its request-log row. No HTTP framework here: the view adapts a request to this.

Checks run in this order, each answered with a JSON body: unknown or inactive id (404), the
webhook's sender auth (401), rate limit (429), size (413), content type (415), body (400),
records (422), then 201/200 (with `warnings` for values skipped from a saved lead). The
body is read before the sender is authenticated, so a scheme that signs the body can check
it, but it is logged only once the sender is known and within its rate limit. An
`Idempotency-Key` is claimed at the same point (an unauthenticated request never reads or
writes one), and a repeat is answered from the stored reply (`leadengine/idempotency.py`).
The log row is written after the records' transactions have ended, so it survives a
rolled-back record and can't turn a reply into a 500.
"""

import json
import logging
import math
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from leadengine import idempotency
from leadengine.cache import default_cache_redis

from .body import parse_body
from .errors import InboundError
from .models import InboundWebhook, SenderAuthMode
from .sender_auth import BearerKeyAuth
from .services import (
    active_webhook_load,
    inbound_request_log,
    records_process,
    records_warnings,
    webhook_capture_sample,
)

logger = logging.getLogger(__name__)
# A stable message (the metrics can count it): the cache was down and a request was let through.
RATE_LIMIT_CACHE_DOWN_MESSAGE = "rate limit cache unavailable; request let through"


@dataclass(frozen=True)
class InboundReply:
    status_code: int
    body: dict
    headers: dict = field(default_factory=dict)


@dataclass
class _Logged:
    """What the request's log row will hold, filled in as the checks pass."""

    webhook: InboundWebhook | None = None
    sender_auth: object = field(default_factory=BearerKeyAuth)  # the default mode, for unknown ids
    api_key: object = None
    body: bytes | None = b""
    body_size: int = 0
    records: list = field(default_factory=list)
    batch: bool = False
    # The IdempotencyRecord this request claimed (finished with the reply), and whether the
    # reply is a replay of a stored one (the log row says so).
    idempotency: object = None
    replayed: bool = False
    finished: bool = False  # the reply is kept and logged already (in a single record's transaction)
    log_savepoint: bool = True  # False while a single record's first try writes without savepoints


def inbound_receive(*, public_id, headers, content_type, read_body, remote_addr=None, url_token="", urls=()):
    """Answer one request. `headers` is a case-insensitive mapping of the request headers,
    `content_type` the Content-Type as sent, `read_body` a callable returning the
    `body.ReceivedBody` (called once the webhook is found: no body is read for unknown ids),
    `url_token` the token of a `/webhooks/<id>/<token>` URL, `urls` the absolute URLs the
    request may have been sent to (a scheme may sign the URL)."""
    logged = _Logged()

    def finish(reply):
        """Keep the reply for its Idempotency-Key and write the log row (once)."""
        if logged.idempotency is not None:
            idempotency.idempotency_finish(
                record=logged.idempotency,
                status_code=reply.status_code,
                body=json.dumps(reply.body),
                content_type="application/json",
                headers=reply.headers,
            )
        _log(logged, public_id, headers, content_type, remote_addr, reply.status_code, reply.body)
        logged.finished = True

    try:
        reply = _receive(logged, public_id, headers, content_type, read_body, url_token, urls, finish)
    except InboundError as error:
        reply = InboundReply(error.status_code, error.as_body(), error.headers)
    except Exception:
        if logged.idempotency is not None:
            idempotency.idempotency_release(record=logged.idempotency)  # the retry must run again
        _log(logged, public_id, headers, content_type, remote_addr, 500, {"detail": "Internal error."})
        raise
    if not logged.finished:
        finish(reply)
    return reply


def active_webhook(public_id, url_token=""):
    """The active webhook a URL names, or a 404. A token URL names only a URL-token webhook:
    any other webhook has no such URL."""
    webhook = active_webhook_load(public_id)
    if webhook is None or (url_token and webhook.auth_mode != SenderAuthMode.URL_TOKEN):
        raise InboundError(404, "webhook_not_found", "No active webhook with this id.")
    return webhook


def _receive(logged, public_id, headers, content_type, read_body, url_token, urls, finish):
    webhook = active_webhook(public_id, url_token)
    logged.webhook, logged.sender_auth = webhook, webhook.sender_auth()
    body = read_body()
    # Another workspace's key is refused here, so it is never written to this workspace's log.
    logged.api_key = logged.sender_auth.authenticate(headers, body.raw, url_token=url_token, urls=urls)
    # Counted after authentication, so someone without a key can't use up a sender's quota.
    _check_rate_limit(webhook)
    logged.body, logged.body_size = body.raw, body.size
    if body.error is not None:
        raise body.error
    replay = _claim_idempotency_key(logged, webhook, headers, body.raw)
    if replay is not None:
        return replay
    document = parse_body(body.raw, content_type)
    webhook_capture_sample(webhook=webhook, document=document, content_type=content_type)
    logged.batch = isinstance(document, list)
    if logged.batch:
        # A batch commits its runs as it goes (see records_save); its log row comes after.
        status_code, reply_body, logged.records = records_process(
            webhook=webhook, document=document, actor=logged.api_key
        )
        return InboundReply(status_code, reply_body)
    # One record: its lead, its kept reply and its log row commit together, in ONE commit
    # (a commit is the costliest round trip: it waits for the WAL flush). The log row has
    # its own savepoint, so a failed log write still never loses the lead. The first try has
    # no savepoint at all (four round trips fewer): if a write fails (a lost race, a value
    # refused), the whole transaction is rolled back and done again the careful way, with
    # savepoints and the record-by-record retries.
    try:
        return _single_record_save(logged, webhook, document, finish, savepoint=False)
    except InboundError:
        raise  # an answer (a 503 after the retries): the careful way would give the same
    except Exception as exc:
        if not _connection_alive():
            raise  # the connection is gone: answered as an outage, never retried on it
        logger.info("Single record written again with savepoints: %r", exc)
    return _single_record_save(logged, webhook, document, finish, savepoint=True)


def _connection_alive():
    try:
        return (
            connection.connection is not None
            and not connection.closed_in_transaction
            and connection.is_usable()
        )
    except Exception:  # is_usable() itself may fail on a half-closed connection
        return False


def _single_record_save(logged, webhook, document, finish, *, savepoint):
    logged.log_savepoint = savepoint
    try:
        with transaction.atomic():
            status_code, reply_body, logged.records = records_process(
                webhook=webhook, document=document, actor=logged.api_key, savepoint=savepoint
            )
            reply = InboundReply(status_code, reply_body)
            finish(reply)
    finally:
        logged.log_savepoint = True  # an error answer after this is logged the careful way
    return reply


def _claim_idempotency_key(logged, webhook, headers, raw_body):
    """The stored reply when this request repeats one with the same key, else None (having
    claimed the key when one was sent)."""
    key = headers.get(idempotency.HEADER)
    if key is None:
        return None
    try:
        record = idempotency.idempotency_begin(
            scope=f"inbound-webhook:{webhook.pk}",
            key=key,
            request_hash=idempotency.idempotency_request_hash(raw_body),
        )
    except idempotency.IdempotencyError as error:
        raise InboundError(error.status_code, error.code, error.message) from None
    if not record.is_complete:
        logged.idempotency = record
        return None
    logged.replayed = True
    reply_headers = {**record.response_headers, idempotency.REPLAYED_HEADER: "true"}
    return InboundReply(record.status_code, json.loads(record.response_body), reply_headers)


def _check_rate_limit(webhook):
    limit = settings.INBOUND_RATE_LIMIT_PER_MINUTE
    now = time.time()
    key = f"inbound-rate:{webhook.public_id}:{int(now // 60)}"
    try:
        count = _window_count(key)
    except Exception as error:  # the cache being down must not stop leads coming in
        logger.warning(RATE_LIMIT_CACHE_DOWN_MESSAGE, extra={"error": repr(error)})
        return
    if count > limit:
        retry_after = max(1, math.ceil(60 - now % 60))
        raise InboundError(
            429,
            "rate_limited",
            f"More than {limit} requests in a minute to this webhook; retry after {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


def _window_count(key):
    """Count one request in `key`'s window: on Redis ONE round trip (a pipeline of SET NX EX
    and INCR; Django's `add` + `incr` take three: SET NX, EXISTS, INCR). Other caches (the
    embedded default's local memory) go through the cache API."""
    client = default_cache_redis()
    if client is None:
        cache.add(key, 0, timeout=120)
        return cache.incr(key)
    stored_key = cache.make_key(key)  # the key Django's cache would use (prefix, version)
    pipeline = client.pipeline(transaction=False)
    pipeline.set(stored_key, 0, ex=120, nx=True)
    pipeline.incr(stored_key)
    return pipeline.execute()[1]


def _log(logged, public_id, headers, content_type, remote_addr, status_code, response):
    inbound_request_log(
        webhook=logged.webhook,
        public_id=public_id,
        api_key=logged.api_key,
        # Needed only when no key was accepted; looking it up costs a query.
        presented_prefix="" if logged.api_key else logged.sender_auth.presented_prefix(headers),
        status_code=status_code,
        # A replay is logged like any answer, marked so it isn't read as a second lead.
        response={**response, "idempotent_replayed": True} if logged.replayed else response,
        content_type=content_type,
        body=logged.body,
        body_size=logged.body_size,
        missing_paths=_union(record.missing_paths for record in logged.records),
        unmapped_keys=_union(record.unmapped_keys for record in logged.records),
        warnings=records_warnings(logged.records, batch=logged.batch),
        remote_addr=remote_addr,
        savepoint=logged.log_savepoint,
    )


def _union(lists):
    seen = []
    for items in lists:
        seen.extend(item for item in items if item not in seen)
    return seen
