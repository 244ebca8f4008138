"""The rules of sending: which deliveries go next (claims), what an attempt counts as, and
what an outcome changes (the retry schedule, the circuit breaker). `sender.py` runs the
requests; this module only reads and writes the database.

A claim is a lease: `claimed_until` is renewed by the live sender (`leases_renew`), so a
killed worker's deliveries are claimable again one lease later. Claiming does not use up an
attempt: the claim counts it, and writes its attempt row, only for a request about to
leave. A worker that dies after that leaves the row behind; the next claim closes it as
"WorkerLost" (the request may have reached the receiver).
"""

import contextlib
import functools
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from leadengine.prepared import (
    LoadedValues,
    column_names,
    instance_from_row,
    instances_insert,
    instances_insert_statement,
    json_rows,
    list_param,
    server_prepared,
)

from . import metrics
from .http_client import DeliveryResult
from .models import (
    BREAKER_THRESHOLD,
    Delivery,
    DeliveryAttempt,
    OutboundWebhook,
    WebhookNotice,
    breaker_pause,
)
from .notifications import webhook_stopped_notify, webhooks_failing_enqueue
from .retry import MAX_ATTEMPTS

OUTCOME_FIELDS = ("status", "next_attempt_at", "completed_at", "last_status_code", "last_error")
WORKER_LOST = "The worker stopped during this attempt; whether the receiver got it is unknown."


def lease_length():
    return timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


@dataclass
class Claim:
    """Deliveries one claim took: `to_send` (attempt started, send them now) and `unsent`
    (finished without a request: webhook disabled, budget spent) with their results."""

    token: str
    to_send: list = field(default_factory=list)
    unsent: list = field(default_factory=list)

    def __len__(self):
        return len(self.to_send) + len(self.unsent)


SELECTION_OVERSIZE = 3  # rows selected per row claimed (see `_claim_sql`, "picked")


def _status_literal(status):
    """A status written into the claim's text, not sent as a parameter: the claim runs as a
    prepared statement on one generic plan, and a plan for `status IN ($1, $2)` cannot use
    the partial index `delivery_queued_hook` (status IN ('pending', 'in_flight')). It read
    every finished delivery of each endpoint instead: 46 ms for a claim that found nothing
    in 20,000 finished deliveries, 0.94 ms now (measured)."""
    if not status.isidentifier():
        raise ValueError(f"Not a plain status: {status!r}")
    return f"'{status}'"


_PENDING = _status_literal(Delivery.Status.PENDING)
_IN_FLIGHT = _status_literal(Delivery.Status.IN_FLIGHT)


@functools.cache
def _claim_sql(of_ids, postgresql, finished=False):
    """The claim as one statement: which due deliveries go next, fairly, within each
    endpoint's room, and take them. Built from the models' table names; run as SQL because
    the ORM spent ~30 ms of Python per claim compiling these queries (profiled, P8).

    - queued (PostgreSQL, any due): the endpoints with pending or in-flight deliveries, one
      index probe each (`delivery_queued_hook`); only they get a room, so the idle webhooks
      of every other workspace cost a claim nothing;
    - room: per endpoint, its cap (the webhook's own, else the default; 1 while the breaker
      probes) less its live claims, not counting the caller's `finished` ones (their requests
      are over, their outcomes not yet written); none while its breaker's pause runs;
    - candidate: per endpoint with room, its oldest claimable deliveries (due pending, or in
      flight with an expired lease), of `ids` when given, not waiting for an earlier
      delivery of the same lead ("deliver in order"), ranked by age. On PostgreSQL each
      endpoint reads at most its room from an index (a backlog of any size costs the same);
      otherwise (SQLite, or a doorbell's few ids) every candidate is ranked;
    - selected: each endpoint's oldest first, then each one's second oldest, and so on (no
      endpoint waits behind another's backlog), at most its room;
    - picked: the first `limit` selected rows still claimable once locked, skipping rows
      another claim holds (PostgreSQL). The selection is larger than `limit` because two
      workers claiming at once select the same rows: the second takes the next ones
      instead of coming back with less than it has room for;
    - the UPDATE takes them and counts their attempt. On PostgreSQL it is a CTE that counts
      only the attempts to send, and the statement goes on to start them
      (`_claim_take_sql`): one round trip for the whole claim. SQLite counts every row's
      (given back in `_claim_in_transaction` if not sent) and reads them by their token.
    """
    delivery = Delivery._meta.db_table
    webhook = OutboundWebhook._meta.db_table
    due = f"d.status = {_PENDING} AND d.next_attempt_at <= %(now)s"
    lost = f"d.status = {_IN_FLIGHT} AND d.claimed_until < %(now)s"
    in_turn = f"""NOT (r.deliver_in_order AND d.lead_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM {delivery} e WHERE e.webhook_id = d.webhook_id AND e.lead_id = d.lead_id
            AND e.id < d.id AND e.status IN ({_PENDING}, {_IN_FLIGHT})))"""
    id_filter = of_webhooks = queued = ""
    if of_ids:
        # The ids as one parameter (`IdsIn`'s rule): one text for any number of them, which
        # PostgreSQL keeps prepared like the claim of any due rows.
        ids = "SELECT unnest(%(ids)s::bigint[])" if postgresql else "SELECT value FROM json_each(%(ids)s)"
        id_filter = f"AND d.id IN ({ids})"
        of_webhooks = f"AND w.id IN (SELECT webhook_id FROM {delivery} WHERE id IN ({ids}))"
    elif postgresql:
        # Skip through the `delivery_queued_hook` index, one probe per endpoint with queued
        # deliveries: idle webhooks of other workspaces cost nothing (visiting every webhook
        # made a claim 4x slower with 5,000 idle ones, measured).
        is_queued = f"status IN ({_PENDING}, {_IN_FLIGHT})"
        queued = f"""RECURSIVE queued(webhook_id) AS (
    (SELECT webhook_id FROM {delivery} WHERE {is_queued} ORDER BY webhook_id LIMIT 1)
    UNION ALL
    SELECT (SELECT d.webhook_id FROM {delivery} d WHERE d.{is_queued} AND d.webhook_id > q.webhook_id
            ORDER BY d.webhook_id LIMIT 1)
    FROM queued q WHERE q.webhook_id IS NOT NULL
),
"""
        of_webhooks = "AND w.id IN (SELECT webhook_id FROM queued)"
    if postgresql and not of_ids:
        oldest = f"""SELECT d.id, d.webhook_id, d.next_attempt_at FROM {delivery} d
            WHERE d.webhook_id = r.webhook_id AND {{half}} AND {in_turn}
            ORDER BY d.next_attempt_at, d.id LIMIT r.room"""
        candidate = f"""SELECT c.id, c.next_attempt_at, r.room,
        ROW_NUMBER() OVER (PARTITION BY c.webhook_id ORDER BY c.next_attempt_at, c.id) AS rank
    FROM room r CROSS JOIN LATERAL (
        ({oldest.format(half=due)}) UNION ALL ({oldest.format(half=lost)})
    ) c"""
    else:
        candidate = f"""SELECT d.id, d.next_attempt_at, r.room,
        ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at, d.id) AS rank
    FROM {delivery} d JOIN room r ON r.webhook_id = d.webhook_id
    WHERE (({due}) OR ({lost})) {id_filter} AND {in_turn}"""
    if postgresql:
        # `counted`: the attempt this claim starts (the webhook is on and the budget has one
        # left: the rule of `_unsent_result`); the other rows are claimed to be written
        # off as not sent, and no attempt is counted for them.
        picked_columns = """d.id, (w.is_active AND d.attempt_count - d.budget_start < %(max_attempts)s)
        AS counted"""
        picked_from = f"JOIN {webhook} w ON w.id = d.webhook_id"
        lock = "FOR UPDATE OF d SKIP LOCKED"
        take = _claim_take_sql()
    else:
        picked_columns, picked_from, lock = "d.id", "", ""
        take = f"""
UPDATE {delivery} SET status = {_IN_FLIGHT}, claim_token = %(token)s,
    claimed_until = %(until)s, attempt_count = attempt_count + 1
WHERE id IN (SELECT id FROM picked)"""
    not_finished = "AND NOT (id = ANY(%(finished)s::bigint[]))" if finished else ""
    return f"""
WITH {queued}live AS MATERIALIZED (
    SELECT webhook_id, COUNT(*) AS n FROM {delivery}
    WHERE status = {_IN_FLIGHT} AND claimed_until >= %(now)s {not_finished} GROUP BY webhook_id
),
room AS MATERIALIZED (
    SELECT * FROM (
        SELECT w.id AS webhook_id, w.deliver_in_order,
            CASE WHEN w.consecutive_failures >= %(threshold)s THEN 1
                 ELSE COALESCE(NULLIF(w.max_in_flight, 0), %(default_cap)s) END
            - COALESCE((SELECT n FROM live WHERE live.webhook_id = w.id), 0) AS room
        FROM {webhook} w
        WHERE NOT (w.consecutive_failures >= %(threshold)s
                   AND w.paused_until IS NOT NULL AND w.paused_until > %(now)s) {of_webhooks}
    ) caps WHERE room > 0
),
candidate AS MATERIALIZED (
    {candidate}
),
selected AS (
    SELECT id, rank, next_attempt_at FROM candidate WHERE rank <= room
    ORDER BY rank, next_attempt_at, id LIMIT %(selection)s
),
picked AS MATERIALIZED (
    SELECT {picked_columns} FROM {delivery} d JOIN selected s ON s.id = d.id {picked_from}
    WHERE ({due}) OR ({lost})
    ORDER BY s.rank, s.next_attempt_at, d.id LIMIT %(limit)s {lock}
){take}"""


def deliveries_claim(*, limit, ids=None, finished=()):
    """Claim up to `limit` deliveries (of `ids`, or any due), fairly between endpoints, and
    start the attempts of those to send.

    One statement selects and takes the rows (`_claim_sql`). On PostgreSQL the same statement
    writes their attempt rows and closes the attempts a dead worker left open, so outside a
    transaction the claim is one round trip and its own transaction; the rows another worker
    is claiming are skipped (`SKIP LOCKED`). On SQLite the statement, the attempt rows and the
    rest are one write transaction. Two workers never claim one row; per-endpoint caps are
    counted from live claims, so two workers claiming at the same instant may exceed a cap
    briefly, never by more than one claim's share.

    `finished` (PostgreSQL): the caller's claimed deliveries whose requests are over and
    whose outcomes it has not written yet. They hold no request in flight, so they leave
    their endpoint's room to this claim; other workers still count them until written.
    """
    now = timezone.now()
    token = uuid.uuid4()
    ids = list(ids) if ids is not None else None
    if ids is not None and not ids:
        return Claim(token=None)
    params = {
        "now": connection.ops.adapt_datetimefield_value(now),
        "until": connection.ops.adapt_datetimefield_value(now + lease_length()),
        "token": Delivery._meta.get_field("claim_token").get_db_prep_value(token, connection),
        "threshold": BREAKER_THRESHOLD,
        "default_cap": settings.WEBHOOK_ENDPOINT_CONCURRENCY,
        "limit": limit,
        "selection": limit * SELECTION_OVERSIZE,
    }
    if ids is not None:
        params["ids"] = list_param(connection, ids)
    sql = functools.partial(_claim_sql, ids is not None)
    if connection.vendor != "postgresql":
        if finished:
            raise ValueError("Claiming past finished deliveries needs PostgreSQL.")
        return _claim_in_transaction(sql(False), params, token, now)
    params.update(
        finished=list(finished),
        max_attempts=MAX_ATTEMPTS,
        lost_class="WorkerLost",
        lost_message=WORKER_LOST,
        **_attempt_start_params(now),
    )
    with connection.cursor() as cursor:
        server_prepared(cursor)
        cursor.execute(sql(True, bool(finished)), params)
        rows = cursor.fetchall()
    claim = Claim(token=token if rows else None)
    for delivery in _claimed_from_rows(rows):
        if delivery.started_attempt_id is not None:
            claim.to_send.append(delivery)
        else:
            claim.unsent.append((delivery, _unsent_result(delivery, counted=False, now=now)))
    if claim.unsent:
        deliveries_record(token, claim.unsent)
    return claim


@transaction.atomic(savepoint=False)  # inside the sender's transaction: no savepoint round trips
def _claim_in_transaction(sql, params, token, now):
    """SQLite: the claim counts an attempt for every row it takes; those not to send get it
    back in the same transaction."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if not cursor.rowcount:
            return Claim(token=None)
    deliveries = _claimed_by_token(token)
    _close_lost_attempts([delivery for delivery in deliveries if delivery.left_open])
    claim = Claim(token=token)
    for delivery in deliveries:
        result = _unsent_result(delivery, counted=True, now=now)
        if result:
            claim.unsent.append((delivery, result))
        else:
            claim.to_send.append(delivery)
    deliveries_start(claim.to_send, now)
    if claim.unsent:
        unsent = [delivery for delivery, _ in claim.unsent]
        Delivery.objects.filter(pk__in=[d.pk for d in unsent]).update(attempt_count=F("attempt_count") - 1)
        for delivery in unsent:
            delivery.attempt_count -= 1
        deliveries_record(token, claim.unsent)
    return claim


# The claim's rows on PostgreSQL: the delivery's columns, its webhook's, then the id of the
# attempt it started (none: not to send).
_CLAIMED_DELIVERY = LoadedValues(lambda: Delivery.objects.values_list(*column_names(Delivery)))
_CLAIMED_WEBHOOK = LoadedValues(lambda: OutboundWebhook.objects.values_list(*column_names(OutboundWebhook)))


def _claimed_from_rows(rows):
    """Each webhook's columns are converted once per claim (its secrets decrypted once), and
    its deliveries share the instance."""
    width = len(column_names(Delivery))
    webhook_width = len(column_names(OutboundWebhook))
    webhook_id = width + column_names(OutboundWebhook).index("id")
    webhook_rows = {row[webhook_id]: row[width : width + webhook_width] for row in rows}
    webhooks = dict(
        zip(
            webhook_rows,
            (
                instance_from_row(OutboundWebhook, values)
                for values in _CLAIMED_WEBHOOK.convert(webhook_rows.values())
            ),
            strict=True,
        )
    )
    deliveries = []
    for values, row in zip(_CLAIMED_DELIVERY.convert([row[:width] for row in rows]), rows, strict=True):
        delivery = instance_from_row(Delivery, values)
        delivery.webhook = webhooks[row[webhook_id]]
        delivery.started_attempt_id = row[-1]
        deliveries.append(delivery)
    return deliveries


def _claimed_by_token(token):
    left_open = DeliveryAttempt.objects.filter(delivery_id=OuterRef("pk"), in_progress=True)
    return list(
        Delivery.objects.filter(claim_token=token)
        .select_related("webhook")
        .annotate(left_open=Exists(left_open))
        .order_by("next_attempt_at", "id")
    )


def _close_lost_attempts(deliveries):
    """Attempts a dead worker left open: the request may have gone out; the outcome is unknown."""
    if deliveries:
        DeliveryAttempt.objects.filter(delivery__in=deliveries, in_progress=True).update(
            in_progress=False, error_class="WorkerLost", error_message=WORKER_LOST
        )


def _unsent_result(delivery, *, counted, now):
    """The outcome of a claimed delivery that is not to be sent, or None to send it: its
    webhook is off, or its budget is spent. `counted`: the claim has already counted an
    attempt for it. PostgreSQL's claim applies the same rule in SQL (`counted`)."""
    webhook = delivery.webhook
    if not webhook.is_active:
        message = f"Not sent: the webhook is disabled. {webhook.disabled_reason}".strip()
        error_class = "WebhookDisabled"
    elif delivery.attempts_left + (1 if counted else 0) <= 0:
        # Its attempts all started and none recorded an outcome (workers died mid-send).
        spent = delivery.attempt_count - (1 if counted else 0)
        message = f"Not sent: {spent} attempts were started without an outcome."
        error_class = "AttemptsExhausted"
    else:
        return None
    return DeliveryResult(
        ok=False,
        retryable=False,
        started_at=now,
        duration_ms=0,
        request_url=webhook.url,
        error_class=error_class,
        error_message=message,
    )


_ATTEMPT_FROM_CLAIM = ("delivery", "number", "request_url")  # read from the claimed rows
# Every other column of a started attempt is the model's own value (`_attempt_start_params`).
_ATTEMPT_START_FIELDS = [
    field
    for field in DeliveryAttempt._meta.concrete_fields
    if not field.primary_key and field.name not in _ATTEMPT_FROM_CLAIM
]


@functools.cache
def _attempt_start_insert():
    """`INSERT INTO <attempts> (…) SELECT …`: the started attempt of each delivery `d` of
    webhook `w` that the caller's FROM names, numbered by its (counted) `attempt_count`."""
    quote = connection.ops.quote_name
    columns = [quote(DeliveryAttempt._meta.get_field(name).column) for name in _ATTEMPT_FROM_CLAIM]
    columns += [quote(field.column) for field in _ATTEMPT_START_FIELDS]
    request_url = f"SUBSTR(w.url, 1, {DeliveryAttempt._meta.get_field('request_url').max_length})"
    values = "".join(f", %(started_{field.attname})s" for field in _ATTEMPT_START_FIELDS)
    return (
        f"INSERT INTO {quote(DeliveryAttempt._meta.db_table)} ({', '.join(columns)})"
        f" SELECT d.id, d.attempt_count, {request_url}{values}"
    )


def _attempt_start_params(now):
    return {
        **_attempt_start_constants(connection.vendor),
        "started_started_at": connection.ops.adapt_datetimefield_value(now),
    }


@functools.cache
def _attempt_start_constants(vendor):
    """A started attempt's values of `_ATTEMPT_START_FIELDS` but its start (the model's
    defaults, prepared once: per claim they were a tenth of its Python, profiled)."""
    started = DeliveryAttempt(in_progress=True)
    return {
        f"started_{field.attname}": field.get_db_prep_save(field.pre_save(started, True), connection)
        for field in _ATTEMPT_START_FIELDS
        if field.attname != "started_at"
    }


@functools.cache
def _claim_take_sql():
    """PostgreSQL's end of the claim statement: take the picked rows (an attempt counted for
    those to send), write those attempts' rows, close the attempts a dead worker left open
    on them ("WorkerLost": the request may have gone out), and return the rows with their
    webhooks and started attempt ids. The CTEs share one snapshot, so the new attempt rows
    are never the ones closed."""
    quote = connection.ops.quote_name
    delivery, webhook = Delivery._meta.db_table, OutboundWebhook._meta.db_table
    columns = [f"c.{quote(f.column)}" for f in Delivery._meta.concrete_fields]
    columns += [f"w.{quote(f.column)}" for f in OutboundWebhook._meta.concrete_fields]
    return f""",
claimed AS (
    UPDATE {delivery} d SET status = {_IN_FLIGHT}, claim_token = %(token)s, claimed_until = %(until)s,
        attempt_count = d.attempt_count + CASE WHEN p.counted THEN 1 ELSE 0 END
    FROM picked p WHERE d.id = p.id RETURNING d.*, p.counted
),
started AS (
    {_attempt_start_insert()}
    FROM claimed d JOIN {webhook} w ON w.id = d.webhook_id WHERE d.counted RETURNING id, delivery_id
),
lost AS (
    UPDATE {DeliveryAttempt._meta.db_table} SET in_progress = FALSE, error_class = %(lost_class)s,
        error_message = %(lost_message)s
    WHERE in_progress AND delivery_id IN (SELECT id FROM claimed)
)
SELECT {", ".join(columns)}, s.id FROM claimed c JOIN {webhook} w ON w.id = c.webhook_id
    LEFT JOIN started s ON s.delivery_id = c.id ORDER BY c.next_attempt_at, c.id"""


def deliveries_start(deliveries, now):
    """SQLite: write each attempt's row before the request leaves, in the claim's transaction
    (which counted the attempts): one INSERT … SELECT for the whole group (as SQL:
    `bulk_create` of the in-progress rows was a third of a claim's Python; RETURNING needs
    SQLite 3.35+). PostgreSQL's claim statement writes them itself (`_claim_take_sql`)."""
    if not deliveries:
        return
    params = _attempt_start_params(now)
    params.update({f"id{n}": delivery.pk for n, delivery in enumerate(deliveries)})
    placeholders = ", ".join(f"%(id{n})s" for n in range(len(deliveries)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""{_attempt_start_insert()} FROM {Delivery._meta.db_table} d
            JOIN {OutboundWebhook._meta.db_table} w ON w.id = d.webhook_id
            WHERE d.id IN ({placeholders}) RETURNING id, delivery_id""",
            params,
        )
        started_ids = {delivery_id: pk for pk, delivery_id in cursor.fetchall()}
    for delivery in deliveries:
        delivery.started_attempt_id = started_ids[delivery.pk]


def deliveries_record(token, results):
    """Write one claim's outcomes (`outcomes_record`)."""
    outcomes_record({token: results})


def outcomes_record(outcomes):
    """Write the outcomes of one or more claims (`{claim token: [(delivery, result)]}`) in a
    constant number of queries: one UPDATE of the deliveries, limited to rows their claim
    still holds (if the lease was lost and another worker took a row, its outcome is theirs);
    the attempt rows are written either way: they happened. Also feeds the circuit breaker,
    honours 410 Gone, and queues the operators' notification when a delivery failed for good
    (one task after commit, off this path).

    On PostgreSQL the common case (every attempt started by its claim, no network failure,
    nothing failed for good) is one statement (`_outcomes_write`): outside a transaction, no
    BEGIN or COMMIT either."""
    results = [(delivery, result) for pairs in outcomes.values() for delivery, result in pairs]
    if not results:
        return
    now = timezone.now()
    disable = {}
    failed_for_good = set()
    for token, pairs in outcomes.items():
        for delivery, result in pairs:
            reason = delivery.apply_result(result, now)
            if reason:
                disable[delivery.webhook_id] = reason
            elif _failed_for_good(delivery, result):
                failed_for_good.add(delivery.webhook_id)
            delivery.claim_token = token  # the claim whose hold the outcome needs
    attempts = [attempt_row(delivery, result) for delivery, result in results]
    # The rows the claims started become the outcomes (even if marked lost since): rewritten
    # in place. Deliveries not sent have no row yet: new ones.
    started = [attempt for attempt in attempts if attempt.pk is not None]
    unsent = [attempt for attempt in attempts if attempt.pk is None]
    answered, failed = _breaker_news(results)
    alone = connection.vendor == "postgresql" and not (unsent or failed or disable or failed_for_good)
    with contextlib.nullcontext() if alone else transaction.atomic(savepoint=False):
        _outcomes_write([delivery for delivery, _result in results], started, answered)
        if unsent:
            instances_insert(unsent)
        _breakers_fail(failed, now)
        for webhook_id, reason in disable.items():
            if webhook_deactivate(webhook=OutboundWebhook(pk=webhook_id), reason=reason):
                webhook_stopped_notify(webhook_id=webhook_id, kind=WebhookNotice.Kind.GONE, reason=reason)
        webhooks_failing_enqueue(webhook_ids=failed_for_good - disable.keys())
    metrics.deliveries_observe(results)  # in memory only: counters for /metrics


@functools.cache
def _outcomes_write_sql():
    """PostgreSQL: the deliveries' outcomes in one UPDATE (the rows as one JSON parameter,
    each written only while its claim (`claim_token`) still holds it), their attempt rows
    rewritten (`instances_insert_statement`'s text is the same for any number) and the
    breakers of endpoints that answered closed, as one statement."""
    quote = connection.ops.quote_name
    fields = [Delivery._meta.get_field(name) for name in ("id", "claim_token", *OUTCOME_FIELDS)]
    record = ", ".join(f"{quote(field.column)} {field.rel_db_type(connection)}" for field in fields)
    sets = ", ".join(f"{quote(field.column)} = o.{quote(field.column)}" for field in fields[2:])
    sql = f"""WITH outcomes AS (
    UPDATE {quote(Delivery._meta.db_table)} d
    SET claim_token = NULL, claimed_until = NULL, {sets}
    FROM json_to_recordset(%s::json) AS o({record})
    WHERE d.id = o.id AND d.claim_token = o.claim_token
), breakers AS (
    UPDATE {quote(OutboundWebhook._meta.db_table)} SET consecutive_failures = 0, paused_until = NULL
    WHERE id = ANY(%s::bigint[]) AND consecutive_failures > 0
)"""
    return sql, fields


def _outcomes_write(deliveries, started, answered):
    """Each delivery's `claim_token` names the claim whose hold its outcome needs."""
    if connection.vendor == "postgresql":
        sql, fields = _outcomes_write_sql()
        params = [json_rows(deliveries, fields), list(answered)]
        if started:
            attempts, rows = instances_insert_statement(started, update_fields=_ATTEMPT_OUTCOME_FIELDS)
            sql = f"{sql}, attempts AS ({attempts}) SELECT 1"
            params.append(rows)
        else:
            sql += " SELECT 1"
        with connection.cursor() as cursor:
            server_prepared(cursor)
            cursor.execute(sql, params)
    else:
        groups = defaultdict(list)
        for delivery in deliveries:
            key = (delivery.claim_token, *(getattr(delivery, name) for name in OUTCOME_FIELDS))
            groups[key].append(delivery.pk)
        for (token, *values), ids in groups.items():
            Delivery.objects.filter(pk__in=ids, claim_token=token).update(
                claim_token=None, claimed_until=None, **dict(zip(OUTCOME_FIELDS, values, strict=True))
            )
        if started:
            instances_insert(started, update_fields=_ATTEMPT_OUTCOME_FIELDS)
        if answered:
            OutboundWebhook.objects.filter(pk__in=answered, consecutive_failures__gt=0).update(
                consecutive_failures=0, paused_until=None
            )
    for delivery in deliveries:  # as the rows their claims still held now are
        delivery.claim_token = delivery.claimed_until = None


def _failed_for_good(delivery, result):
    """A real delivery with no attempt left (retries spent, or an answer not worth retrying);
    one not sent because its webhook is disabled says nothing new about the endpoint."""
    return (
        delivery.status == Delivery.Status.FAILED
        and not delivery.is_test
        and result.error_class != "WebhookDisabled"
    )


_ATTEMPT_OUTCOME_FIELDS = [
    field.name for field in DeliveryAttempt._meta.concrete_fields if not field.primary_key
]


def attempt_row(delivery, result):
    """The attempt's row as its outcome left it: the row `deliveries_start` wrote, if any."""
    return DeliveryAttempt(
        pk=getattr(delivery, "started_attempt_id", None),
        delivery_id=delivery.pk,
        number=delivery.attempt_count,
        started_at=result.started_at,
        duration_ms=result.duration_ms,
        request_url=result.request_url[:2000],
        status_code=result.status_code,
        response_headers=result.response_headers,
        response_body=result.response_body,
        error_class=result.error_class,
        error_message=result.error_message[:1000],
    )


def _breaker_news(results):
    """The circuit breaker's inputs: the endpoints that answered (their breakers close) and
    each other endpoint's network failures in a row (`_breakers_fail`).

    Network failures in a row hold an endpoint back; any answer from it closes the breaker.
    An HTTP error is an answer (the endpoint is up and quick to say no), so only timeouts and
    connection failures count: they are what ties up senders."""
    answered, failed = set(), defaultdict(int)
    for delivery, result in results:
        if result.status_code is not None:
            answered.add(delivery.webhook_id)
        elif result.network_failure:
            failed[delivery.webhook_id] += 1
    return answered, {webhook_id: count for webhook_id, count in failed.items() if webhook_id not in answered}


def _breakers_fail(failed, now):
    for webhook_id, count in failed.items():
        webhook = (
            OutboundWebhook.objects.filter(pk=webhook_id).only("consecutive_failures", "paused_until").first()
        )
        if webhook is None:
            continue
        # Requests in flight together fail together: they open the breaker once (the first
        # pause), and those still in flight when it opened change nothing; only failed
        # probes (sent once a pause is over), one at a time, double it.
        if webhook.is_paused(now):
            continue
        failures = webhook.consecutive_failures + count
        if not webhook.breaker_open:
            failures = min(failures, BREAKER_THRESHOLD)
        changes = {"consecutive_failures": failures}
        if failures >= BREAKER_THRESHOLD:
            changes["paused_until"] = now + breaker_pause(failures)
        OutboundWebhook.objects.filter(pk=webhook_id).update(**changes)


@transaction.atomic
def deliveries_release(token, deliveries):
    """Give claimed but unsent deliveries back at once: the claim counted their attempts and
    wrote their rows, so both are undone (no request left, no attempt was used)."""
    held = Delivery.objects.filter(pk__in=[d.pk for d in deliveries], claim_token=token)
    DeliveryAttempt.objects.filter(delivery__in=held, in_progress=True).delete()
    held.update(
        status=Delivery.Status.PENDING,
        claim_token=None,
        claimed_until=None,
        attempt_count=F("attempt_count") - 1,
    )


def leases_renew(tokens):
    """The sender's heartbeat: its claims stay its own while it is alive."""
    if tokens:
        Delivery.objects.filter(claim_token__in=list(tokens), status=Delivery.Status.IN_FLIGHT).update(
            claimed_until=timezone.now() + lease_length()
        )


def webhook_deactivate(*, webhook, reason):
    """Returns whether this call deactivated it (False: it already was)."""
    return bool(
        OutboundWebhook.objects.filter(pk=webhook.pk, is_active=True).update(
            is_active=False, disabled_reason=reason[:500], disabled_at=timezone.now()
        )
    )
