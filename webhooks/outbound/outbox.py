"""Writing the outbox: one Delivery per matching webhook, in the status change's transaction,
and one doorbell task per committed transaction.

Delivery state lives in the database; Celery is only the doorbell. If the broker loses a
doorbell, the sweeper (`tasks.deliver_due_webhooks`) finds the committed rows.
"""

import functools
import logging
import threading
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import OuterRef
from django.utils import timezone

from leadengine.expressions import JSONRows
from leadengine.prepared import IdsIn, PreparedQuery, rows_pipelined, server_prepared

from .models import Delivery, OutboundWebhook
from .payload import (
    lead_snapshots,
    lead_status_payload_build,
    leads_for_payload,
    leads_from_snapshots,
    payload_serialize,
)

logger = logging.getLogger(__name__)


@dataclass
class _StatusWebhook:
    """An active status webhook's id and filters, the list and campaign ones as id sets
    (empty: no filter). Not the model instance: building 10 of them was 0.17 ms of a change
    with 10 webhooks, this 0.02 ms."""

    pk: int
    statuses: list
    list_ids: set = field(default_factory=set)
    campaign_ids: set = field(default_factory=set)

    def accepts(self, *, lead, new_status, event_campaign):
        """The rule the admin describes: the status filter, and at least one of the lead's
        lists / campaigns (the change's own campaign counts) when the webhook names any.
        `lead` is a PayloadLead."""
        if not OutboundWebhook.statuses_accept(self.statuses, new_status):
            return False
        if self.list_ids and not self.list_ids & {item.pk for item in lead.lists}:
            return False
        if self.campaign_ids:
            campaign_ids = {campaign.pk for campaign in lead.campaigns}
            if event_campaign is not None:
                campaign_ids.add(event_campaign.pk)
            if not self.campaign_ids & campaign_ids:
                return False
        return True


# What matching reads (`_StatusWebhook.accepts`) and a delivery row needs: the rest (the
# encrypted secrets above all) stays unloaded.
_WEBHOOK_COLUMNS = ["id", "workspace_id", "statuses"]


def _status_webhooks_query():
    return (
        OutboundWebhook.objects.filter(
            IdsIn("workspace_id", PreparedQuery.IDS),
            is_active=True,
            trigger=OutboundWebhook.Trigger.LEAD_STATUS_UPDATED,
        )
        .order_by("id")
        .values_list(
            *_WEBHOOK_COLUMNS,
            JSONRows(
                OutboundWebhook.lists.through.objects.filter(outboundwebhook_id=OuterRef("pk")), "list_id"
            ),
            JSONRows(
                OutboundWebhook.campaigns.through.objects.filter(outboundwebhook_id=OuterRef("pk")),
                "campaign_id",
            ),
        )
    )


_status_webhooks = PreparedQuery(_status_webhooks_query)


def _status_webhooks_by_workspace(rows):
    """`_status_webhooks`' rows: active status-trigger webhooks with their filters (the
    filters' ids ride along as JSON columns), by workspace id."""
    by_workspace = {}
    for pk, workspace_id, statuses, list_ids, campaign_ids in rows:
        status_webhook = _StatusWebhook(pk, statuses, list_ids=set(list_ids), campaign_ids=set(campaign_ids))
        by_workspace.setdefault(workspace_id, []).append(status_webhook)
    return by_workspace


# Workspaces whose last status change found an active status webhook, in this process: only a
# guess of whether the next change will need its snapshot. It never decides what is sent.
_workspaces_seen_with_webhooks = set()


def _status_webhooks_and_snapshots(workspace_ids, lead_ids):
    """The workspaces' status webhooks (`_status_webhooks_by_workspace`) and, when they are
    expected to have some, the leads' snapshot rows read in the same round trip; None for
    the snapshot otherwise. The webhooks query is the whole cost of a change in a workspace
    without webhooks (the common case): no snapshot is read then. A wrong guess costs one
    needless snapshot, or one more round trip, once. Elsewhere than on PostgreSQL (no
    pipeline) the two are always read one after the other."""
    expected = workspace_ids and workspace_ids <= _workspaces_seen_with_webhooks
    if expected and connection.vendor == "postgresql":
        webhook_rows, snapshot_rows = rows_pipelined(
            (_status_webhooks, [workspace_ids]), (lead_snapshots, [lead_ids])
        )
    else:
        webhook_rows, snapshot_rows = _status_webhooks.rows(workspace_ids), None
    webhooks = _status_webhooks_by_workspace(webhook_rows)
    for workspace_id in workspace_ids:
        if workspace_id in webhooks:
            _workspaces_seen_with_webhooks.add(workspace_id)
        else:
            _workspaces_seen_with_webhooks.discard(workspace_id)
    return webhooks, snapshot_rows


def deliveries_create_for_event(*, event):
    """One pending Delivery per matching webhook, in the caller's transaction; returns ids."""
    return deliveries_create_for_events(events=[event])


def deliveries_create_for_events(*, events):
    """One pending Delivery per (event, matching webhook), in the caller's transaction, in a
    constant number of queries for any number of events (a bulk status change of 10,000
    leads): webhooks with their filters (one), the leads with their relations, threads and
    custom field keys (one, usually in the webhooks' round trip), one INSERT. Each event's
    payload is serialized once and its bytes shared by its deliveries; a single change goes
    through the same code, so both produce the same bytes. Returns the ids; one doorbell
    rings for them after commit."""
    webhooks, snapshot_rows = _status_webhooks_and_snapshots(
        {event.lead.workspace_id for event in events}, [event.lead.pk for event in events]
    )
    events = [event for event in events if event.lead.workspace_id in webhooks]
    if not events:
        return []  # most workspaces, most changes: skip loading the leads and their threads
    if snapshot_rows is None:
        leads = leads_for_payload(event.lead.pk for event in events)
    else:
        leads = leads_from_snapshots(snapshot_rows)
    rows = []  # (webhook id, event id, lead id, payload): what varies between deliveries
    for event in events:
        lead = leads[event.lead.pk]
        workspace_id = lead.lead.workspace_id
        matching = [
            candidate
            for candidate in webhooks[workspace_id]
            if candidate.accepts(lead=lead, new_status=event.new_status, event_campaign=event.campaign)
        ]
        if not matching:
            continue
        body = payload_serialize(lead_status_payload_build(event=event, lead=lead))
        event_id = str(event.event_id)
        rows += [(webhook.pk, event_id, lead.lead.pk, body) for webhook in matching]
    if not rows:
        return []
    ids = _deliveries_insert(rows, now=timezone.now())
    deliveries_enqueue_after_commit(ids=ids)
    return ids


_DELIVERY_FIELDS = [field for field in Delivery._meta.concrete_fields if not field.primary_key]


@functools.cache
def _deliveries_insert_statement(constant, payload_column):
    """`INSERT … SELECT … FROM unnest(<one array per varying column>)`: a column whose value is
    the same on every row (`constant`) is sent once, the payloads as one array of the distinct
    ones, each row naming its payload by number. Cached per shape of the columns.

    The payloads' array travels in binary (`%b`) when the statement is prepared: as text,
    psycopg escaped every byte of 10,000 payloads into the array's literal (1.4–2.5 s of a
    bulk change's INSERT, against 0.67–0.99 s in binary). A client-side cursor
    (`DATABASE_PREPARED_STATEMENTS` off) quotes it as before."""
    quote = connection.ops.quote_name
    selected, arrays = [], []
    for index, (column, is_constant) in enumerate(zip(_DELIVERY_FIELDS, constant, strict=True)):
        db_type = column.db_type(connection)
        if index == payload_column:
            selected.append(f"(%b::{db_type}[])[rows.payload_number]")
        elif is_constant:
            selected.append(f"%s::{db_type}")
        else:
            selected.append(f"rows.c{index}")
            arrays.append((f"%s::{db_type}[]", f"c{index}"))
    arrays.append(("%s::integer[]", "payload_number"))
    columns = ", ".join(quote(column.column) for column in _DELIVERY_FIELDS)
    return (
        f"INSERT INTO {quote(Delivery._meta.db_table)} ({columns})"
        f" SELECT {', '.join(selected)} FROM unnest({', '.join(sql for sql, _name in arrays)})"
        f" AS rows({', '.join(name for _sql, name in arrays)}) RETURNING id"
    )


_VARYING = ("webhook_id", "event_id", "lead_id", "payload")  # the attnames of a row's values


def _deliveries_insert(rows, *, now):
    """INSERT new pending deliveries, due `now`, from (webhook id, event id, lead id, payload)
    rows; their ids, in order. On PostgreSQL one statement of a fixed text for any number of
    rows (`_deliveries_insert_statement`): a bulk change of 10,000 leads writes 10,000 rows,
    and `bulk_create`'s 16 placeholders a row made psycopg spend seconds splitting the query
    text alone (profiled: `_split_query`); for the 10 rows of one change (one payload, 10
    webhooks), compiling `bulk_create` and quoting the payload 10 times cost more than the
    database's insert. No model instance is built per row (a tenth of a bulk change's time,
    profiled): every other column is a new Delivery's own value, prepared once."""
    if connection.vendor != "postgresql":
        deliveries = [
            Delivery(**dict(zip(_VARYING, row, strict=True)), next_attempt_at=now, created_at=now)
            for row in rows
        ]
        return [delivery.pk for delivery in Delivery.objects.bulk_create(deliveries)]
    db = connections[DEFAULT_DB_ALIAS]  # not the `connection` proxy: ~25 lookups here
    new = Delivery(next_attempt_at=now, created_at=now)
    varying = dict(zip(_VARYING, zip(*rows, strict=True), strict=True))
    numbers, payloads, payload_numbers = {}, [], []
    for payload in varying["payload"]:  # one event's deliveries share its payload: sent once
        if payload not in numbers:
            numbers[payload] = len(payloads) + 1
            payloads.append(payload)
        payload_numbers.append(numbers[payload])
    constant, selected, arrays = [], [], []
    for column in _DELIVERY_FIELDS:
        if column.attname == "payload":
            constant.append(False)
            selected.append([column.get_db_prep_save(payload, db) for payload in payloads])
        elif column.attname in varying:
            values = varying[column.attname]
            constant.append(all(value == values[0] for value in values))
            if constant[-1]:
                selected.append(column.get_db_prep_save(values[0], db))
            else:
                arrays.append([column.get_db_prep_save(value, db) for value in values])
        else:
            constant.append(True)
            selected.append(column.get_db_prep_save(column.pre_save(new, True), db))
    payload_column = next(i for i, column in enumerate(_DELIVERY_FIELDS) if column.attname == "payload")
    with db.cursor() as cursor:
        server_prepared(cursor)
        cursor.execute(
            _deliveries_insert_statement(tuple(constant), payload_column),
            [*selected, *arrays, payload_numbers],
        )
        return [row[0] for row in cursor.fetchall()]


class _Doorbell(threading.local):
    """The ids a thread's current transaction created, rung once after it commits.

    Every call registers its own `on_commit` callback (public API only); the callbacks pour
    their ids into one buffer and the one registered last rings the bell for all of them.
    A rolled-back transaction discards its callbacks, so its ids never reach the buffer. If a
    savepoint rollback discarded the last callback, the buffer waits for the next commit:
    the rows are committed either way, and the sweeper would find them.
    """

    def __init__(self):
        self.buffer = []
        self.last_registered = 0
        self.counter = 0

    def add(self, ids):
        self.counter += 1
        number = self.last_registered = self.counter
        transaction.on_commit(lambda: self._committed(number, ids))

    def _committed(self, number, ids):
        self.buffer.extend(ids)
        if number == self.last_registered:
            ids, self.buffer = self.buffer, []
            deliveries_ring_doorbell(ids=ids)


_doorbell = _Doorbell()


def deliveries_enqueue_after_commit(*, ids):
    """Ring the doorbell once per committed transaction, with every delivery id it created."""
    _doorbell.add(list(ids))


# Set while a published doorbell waits for a worker (`WEBHOOK_DOORBELL_COALESCE`); expires on
# its own, so a doorbell the broker lost holds back later ones for this long at most.
DOORBELL_WAITING_KEY = "outbound:doorbell-waiting"
DOORBELL_WAITING_SECONDS = 2


def deliveries_ring_doorbell(*, ids):
    """Hand ids to a worker. A broker failure is logged, not raised: the rows are committed
    and the sweeper sends them within one interval, so the caller's request still succeeds.

    One doorbell waiting is enough: a worker that takes it claims its ids, then any due
    delivery until none is left, so rows committed while it waits are sent by that run.
    With `WEBHOOK_DOORBELL_COALESCE` a flag in the shared cache says one waits; a commit then
    publishes nothing: a Redis SET (~1.5 ms under the profiler, P4) instead of a Celery
    publish (~5 ms), and no task per change for the workers to take. An empty doorbell (the
    sweeper waking another worker for a backlog) is always published."""
    from .tasks import deliver_webhooks

    if ids and not _doorbell_wanted():
        return
    try:
        deliver_webhooks.delay(ids)
    except Exception:
        logger.warning("Broker unavailable: %d deliveries left to the sweeper", len(ids), exc_info=True)
        doorbell_taken()  # none waits: the next commit tries again


def _doorbell_wanted():
    if not settings.WEBHOOK_DOORBELL_COALESCE:
        return True
    try:
        return cache.add(DOORBELL_WAITING_KEY, 1, timeout=DOORBELL_WAITING_SECONDS)
    except Exception:  # the cache is down: ring, as without the flag
        logger.warning("Cache unavailable: doorbell rung without the waiting flag", exc_info=True)
        return True


def doorbell_taken():
    """A worker took a doorbell (and claimed its rows; it claims any due ones after this):
    the next commit rings again. Returns whether doorbells are shared, so that this one may
    stand for rows of other commits."""
    if not settings.WEBHOOK_DOORBELL_COALESCE:
        return False
    try:
        cache.delete(DOORBELL_WAITING_KEY)
    except Exception:  # the flag expires on its own
        logger.warning("Cache unavailable: the doorbell flag expires on its own", exc_info=True)
    return True
