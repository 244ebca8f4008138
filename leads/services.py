import hashlib
from dataclasses import dataclass

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from .catalogue import DEFAULT_FIELDS_BY_KEY
from .events import LeadStatusChanged, lead_status_changed
from .metrics import LEAD_UPSERT_DURATION
from .models import Campaign, Lead, LeadStatus, List, isoformat_utc


@transaction.atomic
def lead_set_status(*, lead, status, actor=None, campaign=None):
    """The one place a lead's status changes.

    Appends to `lead_status_history` and publishes `lead_status_changed` in the same
    transaction. Setting the current status again is not a change: nothing is recorded
    and None is returned. Raises ValueError for a status outside the 14 of the article.
    """
    status = LeadStatus(status).value
    # Lock the row so two concurrent changes are ordered and each sees the other's result.
    current = Lead.objects.select_for_update().only("lead_status", "lead_status_history").get(pk=lead.pk)
    if current.lead_status == status:
        lead.lead_status = status
        lead._remember_persisted_state()
        return None
    now = timezone.now()
    lead.lead_status = status
    lead.lead_status_history = [
        *current.lead_status_history,
        {"value": status, "changed_at": isoformat_utc(now)},
    ]
    lead._status_change_authorized = True
    lead.save(update_fields=["lead_status", "lead_status_history", "modified_date"])
    event = LeadStatusChanged(
        lead=lead,
        previous_status=current.lead_status,
        new_status=status,
        occurred_at=now,
        actor=actor,
        campaign=campaign,
    )
    lead_status_changed.send(sender=Lead, event=event)
    return event


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
