import hashlib
import json
import time
from dataclasses import dataclass

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from leadengine.collector import collector_paused
from leadengine.prepared import (
    IdsIn,
    PreparedQuery,
    column_names,
    instance_from_row,
    instance_insert,
    instances_insert,
)

from .catalogue import DEFAULT_FIELDS_BY_KEY
from .events import LeadStatusChanged, lead_status_changed, lead_statuses_changed
from .metrics import LEAD_UPSERT_DURATION
from .models import (
    BUSINESS_EMAIL_CONFLICT_TARGET,
    BUSINESS_EMAIL_SET,
    Campaign,
    Lead,
    LeadStatus,
    LeadStatusChangeError,
    List,
    filled,
    isoformat_utc,
)


def lead_set_status(*, lead, status, actor=None, campaign=None):
    """The one place a lead's status changes (one lead; see `leads_set_status`).

    Setting the current status again is not a change: nothing is recorded and None is
    returned; otherwise the LeadStatusChanged event. Raises ValueError for a status outside
    the 14 of the article.
    """
    events = leads_set_status(leads=[lead], status=status, actor=actor, campaign=campaign)
    return events[0] if events else None


# Leads per statement of a bulk status change (the REST endpoint's cap is the same).
LEADS_SET_STATUS_MAX = 10_000


@transaction.atomic
@collector_paused()
def leads_set_status(*, leads, status, actor=None, campaign=None):
    """Set `status` on every lead of `leads` in one transaction: the one home of status changes.

    Locks the rows in id order (concurrent changes of a lead are ordered, and two bulk
    changes never wait on each other in a cycle), updates the status of those that change
    and appends to their `lead_status_history` in one statement, then publishes
    `lead_status_changed` per change and `lead_statuses_changed` ONCE with every change, in
    the same transaction. A constant number of queries for any number of leads. Leads that
    already have the status are left alone. Returns the events, in id order.
    """
    status = LeadStatus(status).value
    by_id = {}
    for lead in leads:
        by_id.setdefault(lead.pk, []).append(lead)
    # The ids as one parameter: `pk__in` of 10,000 ids took 0.26 s to lock, this 0.06 s.
    current = list(
        Lead.objects.select_for_update()
        .filter(IdsIn("pk", list(by_id)))
        .order_by("id")
        .values_list("id", "lead_status", "lead_status_history")
    )
    now = timezone.now()
    entry = {"value": status, "changed_at": isoformat_utc(now)}
    changed = [(pk, previous, history) for pk, previous, history in current if previous != status]
    _statuses_write([pk for pk, _previous, _history in changed], status, entry, now)
    events = []
    previous_of = {pk: (previous, history) for pk, previous, history in changed}
    for pk, copies in by_id.items():
        for lead in copies:
            lead.lead_status = status
            if pk in previous_of:
                lead.lead_status_history = [*previous_of[pk][1], entry]
                lead.modified_date = now
            lead._remember_persisted_state()
        if pk in previous_of:
            events.append(
                LeadStatusChanged(
                    lead=copies[0],
                    previous_status=previous_of[pk][0],
                    new_status=status,
                    occurred_at=now,
                    actor=actor,
                    campaign=campaign,
                )
            )
    events.sort(key=lambda event: event.lead.pk)
    for event in events:
        lead_status_changed.send(sender=Lead, event=event)
    if events:
        lead_statuses_changed.send(sender=Lead, events=events)
    return events


def _statuses_write(ids, status, entry, now):
    """One UPDATE for every changed lead: the status, the stamp, and the history entry
    appended by the database (each lead's own history, no per-row CASE). This is the write
    `LeadQuerySet` refuses to everyone else, hence raw SQL here and nowhere else."""
    if not ids:
        return
    table = connection.ops.quote_name(Lead._meta.db_table)
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET lead_status = %s, modified_date = %s,"
                " lead_status_history = lead_status_history || %s::jsonb WHERE id = ANY(%s)",
                [status, stamp, json.dumps([entry]), ids],
            )
        else:
            cursor.execute(
                f"UPDATE {table} SET lead_status = %s, modified_date = %s,"
                " lead_status_history = json_insert(lead_status_history, '$[#]', json(%s))"
                " WHERE id IN (SELECT value FROM json_each(%s))",
                [status, stamp, json.dumps(entry), json.dumps(ids)],
            )


class LeadUpsertError(ValueError):
    """A record that can't be upserted; `field` names the LeadEngine field at fault."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


class LeadUpsertConflict(Exception):
    """A record that lost a race with a concurrent writer (deadlock, serialization failure, a
    unique value taken in between). Its savepoint has been rolled back: retrying it once the
    other transaction has ended is safe."""


@dataclass(frozen=True)
class LeadUpsertResult:
    lead: Lead
    created: bool
    status_event: object = None


# Fields lead_upsert writes through relations or the status service, not as plain columns.
_RELATION_FIELDS = {"campaigns": Campaign, "lists": List}


@LEAD_UPSERT_DURATION.time()
def lead_upsert(*, workspace, dedupe_field, values, custom_values=None, target_list=None, actor=None):
    """Find the workspace's lead whose `dedupe_field` equals the record's value; update it,
    else create it. Atomic: all of the record is saved or nothing is.

    `values` holds typed values of default fields (see `leads.coercion`), `custom_values`
    those of custom fields. Campaign and list names are looked up in the workspace and
    created when missing (senders name them; asking operators to pre-create every one
    would drop data). A `lead_status` goes through `lead_set_status`.

    Concurrency (PostgreSQL): the record's advisory locks (`leads_lock`) are taken in key
    order before its row lock; the partial unique constraint on `business_email` is the last
    word. SQLite's single writer (BEGIN IMMEDIATE) serializes writers on the embedded default.
    A race lost anyway raises `LeadUpsertConflict` with the record rolled back.
    """
    custom_values = custom_values or {}
    dedupe_value = _dedupe_value(dedupe_field, values, custom_values)
    if dedupe_value in (None, "", []):
        raise LeadUpsertError(dedupe_field, f"No value for the dedupe field {dedupe_field}.")
    try:
        with transaction.atomic():
            return _upsert(workspace, dedupe_field, dedupe_value, values, custom_values, target_list, actor)
    except (OperationalError, IntegrityError) as exc:
        # Deadlock, serialization failure, lock timeout, SQLite's "database is locked", or a
        # unique value taken by a writer the locks didn't cover: transient, not the record's fault.
        raise LeadUpsertConflict(f"The record conflicted with a concurrent write: {exc}".strip()) from exc


def _upsert(workspace, dedupe_field, dedupe_value, values, custom_values, target_list, actor):
    _advisory_lock(_lock_keys(workspace.pk, dedupe_field, values, custom_values))
    matching = leads_matching(workspace=workspace, field=dedupe_field, value=dedupe_value)
    lead = matching.select_for_update().first()
    created = lead is None
    try:
        with transaction.atomic():
            lead = _save_values(lead or Lead(workspace=workspace), values, custom_values)
    except IntegrityError:
        if not (created and dedupe_field == "business_email"):
            # Deduping on another field, the record's business email belongs to a
            # different lead of the workspace: two leads can't share it.
            raise LeadUpsertError(
                "business_email", "Another lead in this workspace already has this business email."
            ) from None
        # Lost a race the lock didn't cover: the other writer's lead is the one to update.
        lead = matching.select_for_update().first()
        if lead is None:
            raise  # not that race (or its lead is gone already): a conflict, retried by the caller
        created = False
        lead = _save_values(lead, values, custom_values)
    _add_related(lead, workspace, values, target_list)
    status_event = None
    if values.get("lead_status"):
        status_event = lead_set_status(lead=lead, status=values["lead_status"], actor=actor)
    return LeadUpsertResult(lead=lead, created=created, status_event=status_event)


def leads_upsert_supported(*, dedupe_field, records):
    """Whether `leads_upsert` can take these records: every dedupe value is a scalar (a list
    value, a list custom field used for dedupe, goes record by record through `lead_upsert`)."""
    return not any(
        isinstance(_dedupe_value(dedupe_field, values, custom_values), list | dict)
        for values, custom_values in records
    )


def leads_upsert(*, workspace, dedupe_field, records, target_list=None, actor=None):
    """The set-based upsert of a batch (see `_leads_upsert`), timed for the metrics: each record
    written observes its share of the call, so the histogram stays "time per lead record written"
    whichever path wrote it."""
    started = time.perf_counter()
    results = _leads_upsert(
        workspace=workspace, dedupe_field=dedupe_field, records=records, target_list=target_list, actor=actor
    )
    share = (time.perf_counter() - started) / max(len(records), 1)
    for _record in records:
        LEAD_UPSERT_DURATION.observe(share)
    return results


def _leads_upsert(*, workspace, dedupe_field, records, target_list=None, actor=None):
    """`lead_upsert` for many records ((values, custom_values) pairs) in a constant number of
    statements, whatever their number: one result per record, in their order, a
    `LeadUpsertResult` or the `LeadUpsertError` that rejects that record alone.

    Records are applied in order to the leads in memory, so a later record with the same
    dedupe value updates the lead an earlier one created or updated (the rule of the
    record-by-record path), and a business email taken by another lead (in the database or
    earlier in the batch) rejects its record only. Then: the advisory locks and the matching
    rows (`leads_lock`'s order) with the rows themselves in one query, one query for the
    owners of the batch's business emails, one INSERT for new leads, one INSERT … ON
    CONFLICT (id) DO UPDATE for the others, three per relation (names, missing names,
    memberships), and one `leads_set_status` per status set. Runs in the caller's
    transaction; a database error (a writer outside the lock order, a value the database
    refuses) propagates, and the caller rolls back and goes record by record.
    """
    keys, dedupe_values, status_steps = set(), [], {}
    for values, custom_values in records:
        keys.update(_lock_keys(workspace.pk, dedupe_field, values, custom_values))
        dedupe_values.append(_dedupe_value(dedupe_field, values, custom_values))
    if len(records) > 1 or dedupe_field != "business_email":
        _advisory_lock(keys)
    # else one record deduped on the business email: its one unique value is guarded by the
    # database's unique constraint (a lost race is an IntegrityError the caller retries the
    # careful way), and one lock cannot be taken out of order; a round trip saved per post.
    elif dedupe_values[0] and (new := _lead_insert_if_new(workspace, *records[0])):
        outcomes = [LeadUpsertResult(lead=new, created=True)]
        status = records[0][0].get("lead_status")
        steps = {id(new): [(0, status)]} if status else {}
        return _related_and_statuses(workspace, outcomes, [(new, records[0][0])], steps, target_list, actor)
    leads_by_value = _leads_by_dedupe_value(workspace, dedupe_field, dedupe_values)
    owners = _business_email_owners(workspace, dedupe_field, records, leads_by_value)
    outcomes, touched, relations = [], {}, []
    for (values, custom_values), value in zip(records, dedupe_values, strict=True):
        if value in (None, "", []):
            outcomes.append(LeadUpsertError(dedupe_field, f"No value for the dedupe field {dedupe_field}."))
            continue
        lead = leads_by_value.get(value)
        created = lead is None  # a later duplicate finds the lead an earlier record made
        lead = lead or Lead(workspace=workspace)
        email = values.get("business_email")
        if email and owners.get(email, lead) is not lead:
            outcomes.append(
                LeadUpsertError(
                    "business_email", "Another lead in this workspace already has this business email."
                )
            )
            continue
        owners.pop(lead.business_email, None)
        _values_assign(lead, values, custom_values)
        if lead.business_email:
            owners[lead.business_email] = lead
        leads_by_value[value] = touched[id(lead)] = lead
        relations.append((lead, values))
        if values.get("lead_status"):
            status_steps.setdefault(id(lead), []).append((len(outcomes), values["lead_status"]))
        outcomes.append(LeadUpsertResult(lead=lead, created=created))
    _leads_write(list(touched.values()))
    return _related_and_statuses(workspace, outcomes, relations, status_steps, target_list, actor)


def _values_assign(lead, values, custom_values):
    lead.values_assign(
        {key: item for key, item in values.items() if key not in _RELATION_FIELDS and key != "lead_status"},
        custom_values,
    )


def _lead_insert_if_new(workspace, values, custom_values):
    """One record deduped on its business email, on PostgreSQL: INSERT … ON CONFLICT DO
    NOTHING before any lookup. A single post mostly brings a new lead (a form, a booking), and
    the lookup that found nothing was one of its 7 round trips. A taken email writes nothing
    and returns None: the caller looks the lead up and updates it as before (a writer that
    took the email a moment ago has committed by then: the INSERT waited for it)."""
    if connection.vendor != "postgresql":
        return None
    lead = Lead(workspace=workspace)
    _values_assign(lead, values, custom_values)
    if instance_insert(lead, unless_taken=BUSINESS_EMAIL_CONFLICT_TARGET) is None:
        return None
    lead._remember_persisted_state()
    return lead


def _related_and_statuses(workspace, outcomes, relations, status_steps, target_list, actor):
    """After the leads' rows: their campaigns and lists, then their statuses in record order."""
    _relations_add(workspace, relations, target_list)
    for index, event in _statuses_apply(outcomes, status_steps, actor).items():
        outcomes[index] = LeadUpsertResult(
            lead=outcomes[index].lead, created=outcomes[index].created, status_event=event
        )
    return outcomes


def _leads_by_dedupe_value(workspace, dedupe_field, dedupe_values):
    """The workspace's leads matching the dedupe values, locked in id order (the oldest wins
    a value shared by several leads, as in `leads_matching`). On a default field: one query
    compiled once per process and field (every single inbound post runs it)."""
    wanted = {value for value in dedupe_values if value not in (None, "", [])}
    if not wanted:
        return {}
    custom = dedupe_field not in DEFAULT_FIELDS_BY_KEY
    if custom:
        rows = (
            Lead.objects.filter(workspace=workspace, **{f"custom_fields__{dedupe_field}__in": list(wanted)})
            .order_by("id")
            .select_for_update()
        )
    else:
        query = _dedupe_queries.get(dedupe_field) or _dedupe_queries.setdefault(
            dedupe_field, PreparedQuery(lambda: _dedupe_query(dedupe_field))
        )
        rows = (instance_from_row(Lead, row) for row in query.rows([workspace.pk], list(wanted)))
    found = {}
    for lead in rows:
        value = lead.custom_fields.get(dedupe_field) if custom else getattr(lead, dedupe_field)
        found.setdefault(value, lead)
    return found


_dedupe_queries = {}  # default dedupe field -> PreparedQuery


def _dedupe_query(dedupe_field):
    return (
        Lead.objects.filter(
            filled(dedupe_field),
            IdsIn("workspace_id", PreparedQuery.param(0)),
            IdsIn(dedupe_field, PreparedQuery.param(1)),
        )
        .order_by("id")
        .select_for_update()
        .values_list(*column_names(Lead))
    )


def _business_email_owners(workspace, dedupe_field, records, leads_by_value):
    """business email -> the lead holding it, for the emails the records set."""
    if dedupe_field == "business_email":
        return dict(leads_by_value)  # the dedupe query found every holder already
    emails = {values["business_email"] for values, _custom in records if values.get("business_email")}
    if not emails:
        return {}
    by_id = {lead.pk: lead for lead in leads_by_value.values()}
    rows = Lead.objects.filter(
        BUSINESS_EMAIL_SET, workspace=workspace, business_email__in=emails
    ).values_list("business_email", "id")
    # A lead the batch doesn't touch is represented by its id: never `is` a record's lead.
    return {email: by_id.get(pk, pk) for email, pk in rows}


# Columns an upsert never rewrites on a stored lead (the status has its own service).
_NOT_REWRITTEN = {
    "id",
    "workspace",
    "created_date",
    "lead_status",
    "lead_status_history",
    "campaigns",
    "lists",
}

_REWRITTEN = [field.name for field in Lead._meta.concrete_fields if field.name not in _NOT_REWRITTEN]


def _leads_write(leads):
    new = [lead for lead in leads if lead.pk is None]
    stored = [lead for lead in leads if lead.pk is not None]
    if any(lead.lead_status for lead in new):
        raise LeadStatusChangeError  # a status is set by its own service, never written here
    if len(new) == 1:
        instance_insert(new[0])  # a single post's new lead: no per-call query compilation
    elif new:
        instances_insert(new)  # one statement, the rows as one JSON parameter
    if stored:
        instances_insert(stored, update_fields=_REWRITTEN)  # their stored status is never written
    for lead in new:
        lead._state.adding = False
    for lead in leads:
        lead._remember_persisted_state()


def _relations_add(workspace, relations, target_list):
    """Campaign and list memberships the records name (created when missing), plus the
    webhook's target list: a few queries per relation for the whole batch."""
    for key, model in _RELATION_FIELDS.items():
        names = {name for _lead, values in relations for name in values.get(key) or ()}
        objects = _objects_named_many(model, workspace, names)
        through = getattr(Lead, key).through
        column = f"{model._meta.model_name}_id"
        rows = {(lead.pk, objects[name].pk) for lead, values in relations for name in values.get(key) or ()}
        if key == "lists" and target_list is not None:
            rows.update((lead.pk, target_list.pk) for lead, _values in relations)
        if rows:
            through.objects.bulk_create(
                [through(lead_id=lead_id, **{column: related_id}) for lead_id, related_id in rows],
                ignore_conflicts=True,
            )


def _objects_named_many(model, workspace, names):
    if not names:
        return {}
    existing = {obj.name: obj for obj in model.objects.filter(workspace=workspace, name__in=names)}
    missing = names - existing.keys()
    if missing:
        model.objects.bulk_create(
            [model(workspace=workspace, name=name) for name in missing], ignore_conflicts=True
        )
        existing.update(
            {obj.name: obj for obj in model.objects.filter(workspace=workspace, name__in=missing)}
        )
    return existing


def _statuses_apply(outcomes, status_steps, actor):
    """Each lead's statuses in record order, one `leads_set_status` per (step, status): a
    lead named by two records with two statuses changes twice, as it would record by record.
    Returns record index -> the event its status caused."""
    steps = {}
    for changes in status_steps.values():
        for step, (index, status) in enumerate(changes):
            steps.setdefault((step, status), []).append(index)
    events = {}
    for (_step, status), indexes in sorted(steps.items(), key=lambda item: item[0][0]):
        index_of = {outcomes[index].lead.pk: index for index in indexes}
        changed = leads_set_status(
            leads=[outcomes[index].lead for index in indexes], status=status, actor=actor
        )
        events.update({index_of[event.lead.pk]: event for event in changed})
    return events


def leads_lock(*, workspace, dedupe_field, records):
    """Take every lock that upserting `records` ((values, custom_values) pairs) will need, in
    one global order, so writers holding several (a batch in one transaction) never wait on
    each other in a cycle: first the advisory locks of every unique value the records touch
    (their dedupe values and business emails) in key order, then the rows of the leads their
    dedupe values match, in id order. Transaction-scoped: call it in the transaction that
    writes. No-op on SQLite, whose writers already take turns (BEGIN IMMEDIATE)."""
    if connection.vendor != "postgresql":
        return
    keys, dedupe_values = set(), []
    for values, custom_values in records:
        keys.update(_lock_keys(workspace.pk, dedupe_field, values, custom_values))
        value = _dedupe_value(dedupe_field, values, custom_values)
        if value is not None and not isinstance(value, list | dict):  # lists: advisory lock only
            dedupe_values.append(value)
    _advisory_lock(keys)
    if dedupe_values:
        lookup = dedupe_field if dedupe_field in DEFAULT_FIELDS_BY_KEY else f"custom_fields__{dedupe_field}"
        rows = Lead.objects.filter(workspace=workspace, **{f"{lookup}__in": dedupe_values})
        list(rows.order_by("id").select_for_update().values_list("id", flat=True))


def _dedupe_value(dedupe_field, values, custom_values):
    return custom_values.get(dedupe_field) if dedupe_field in custom_values else values.get(dedupe_field)


def _lock_keys(workspace_id, dedupe_field, values, custom_values):
    """The advisory lock keys of the unique values a record touches: its dedupe value and
    its business email (the one unique column); a custom dedupe value is unique by use."""
    touched = [
        (dedupe_field, _dedupe_value(dedupe_field, values, custom_values)),
        ("business_email", values.get("business_email")),
    ]
    return {_lock_key(workspace_id, field, value) for field, value in touched if value not in (None, "", [])}


def _lock_key(workspace_id, field, value):
    digest = hashlib.blake2b(f"{workspace_id}\x1f{field}\x1f{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _advisory_lock(keys):
    """Transaction-scoped advisory locks on `keys`, taken in ascending order (the global
    order: two writers wanting overlapping sets never each hold what the other waits for)."""
    if connection.vendor != "postgresql" or not keys:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(key)"
            " FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(key, n) ORDER BY n",
            [sorted(keys)],
        )


def leads_matching(*, workspace, field, value):
    """The workspace's leads whose default or custom `field` equals `value` (oldest first)."""
    if field in DEFAULT_FIELDS_BY_KEY:
        return Lead.objects.filter(workspace=workspace, **{field: value}).order_by("id")
    return Lead.objects.filter(workspace=workspace, **{f"custom_fields__{field}": value}).order_by("id")


def _save_values(lead, values, custom_values):
    for key, value in values.items():
        if key not in _RELATION_FIELDS and key != "lead_status":
            setattr(lead, key, value)
    if custom_values:
        lead.custom_fields = {**lead.custom_fields, **custom_values}
    lead.save()
    return lead


def _add_related(lead, workspace, values, target_list):
    for key, model in _RELATION_FIELDS.items():
        names = values.get(key)
        if names:
            getattr(lead, key).add(*_objects_named(model, workspace, names))
    if target_list is not None:
        lead.lists.add(target_list)


def _objects_named(model, workspace, names):
    existing = {obj.name: obj for obj in model.objects.filter(workspace=workspace, name__in=names)}
    for name in names:
        if name not in existing:
            existing[name], _ = model.objects.get_or_create(workspace=workspace, name=name)
    return [existing[name] for name in names]
