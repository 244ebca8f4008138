"""Turning received documents into leads, and keeping the request log."""

import dataclasses
import functools
import json
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from django.db import DataError, IntegrityError, OperationalError, connection, transaction
from django.db.models import OuterRef
from django.utils import timezone

from leadengine.expressions import JSONRows
from leadengine.models import Workspace
from leadengine.prepared import IdsIn, PreparedQuery, column_names, instance_from_row, instance_insert
from leads.coercion import CoercionError, coerce_custom, coerce_default
from leads.models import CustomField, Lead, List
from leads.services import (
    LeadUpsertConflict,
    LeadUpsertError,
    lead_upsert,
    leads_lock,
    leads_matching,
    leads_upsert,
    leads_upsert_supported,
)

from . import mapping
from .errors import InboundError, inbound_error_body
from .metrics import inbound_answer_count
from .models import SUGGESTED_MAPPINGS, FieldMapping, InboundRequest, InboundWebhook, mapping_errors
from .transforms import is_empty

logger = logging.getLogger(__name__)

# A record that loses a race (deadlock, serialization failure, unique value taken) is tried
# this many times in all, a short jittered pause apart, before it is answered 503.
CONFLICT_ATTEMPTS = 3
CONFLICT_PAUSE_SECONDS = 0.05  # times the attempt number, plus up to as much again at random
CONFLICT_RETRY_AFTER_SECONDS = 1


@dataclass
class PreparedRecord:
    """A record mapped and coerced, not yet saved. `errors` stop the record from being
    saved; `warnings` name values that were skipped while the rest of it is saved."""

    values: dict = field(default_factory=dict)
    custom_values: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    missing_paths: list = field(default_factory=list)
    unmapped_keys: list = field(default_factory=list)
    dedupe_path: str | None = None
    # field -> [(step label, value)]: the source, each transform, then the stored value.
    steps: dict = field(default_factory=dict)

    def value_of(self, key):
        """The record's typed value of a default or custom field (None when absent)."""
        return self.custom_values.get(key, self.values.get(key))


@dataclass
class MappingContext:
    """What processing a record needs from the database, loaded once per request."""

    webhook: InboundWebhook
    mappings: list  # mapping.MappingRow
    field_types: dict  # key -> ("default"|"custom", type)
    refused_rows: dict  # field -> why the mapping rule refuses its row

    @classmethod
    def load(cls, webhook):
        """The webhook's context: from the mapping rows and custom fields `active_webhook_load`
        read with the webhook, else from two queries. What is built from them (rows, types,
        the rule's refusals) is kept per process, keyed by their content: an edited mapping
        or custom field is a new key, so a kept context is never stale."""
        loaded = getattr(webhook, "loaded_mapping", None)
        if loaded is None:
            loaded = (
                [
                    (row.pk, row.field, row.source_path, row.combine, row.transforms, row.clear_when_empty)
                    for row in webhook.mappings.all()
                ],
                [(custom.key, custom.type) for custom in webhook.custom_fields()],
            )
        key = json.dumps(loaded)
        built = _mapping_contexts.get(key)
        if built is None:
            if len(_mapping_contexts) >= _MAPPING_CONTEXTS_KEPT:
                _mapping_contexts.clear()
            built = _mapping_contexts[key] = _mapping_context_build(webhook, *loaded)
        return cls(webhook, *built)


# Built mapping contexts by content (see MappingContext.load); a few per webhook in use.
_mapping_contexts = {}
_MAPPING_CONTEXTS_KEPT = 256


def _mapping_context_build(webhook, mapping_rows, custom_fields):
    mappings = [
        mapping.MappingRow(
            field=field_key,
            source_path=source_path,
            combine=combine,
            transforms=transforms,
            clear_when_empty=clear_when_empty,
        )
        for _pk, field_key, source_path, combine, transforms, clear_when_empty in sorted(mapping_rows)
    ]
    custom_fields = [CustomField(key=key, type=type_) for key, type_ in sorted(custom_fields)]
    # Rows saved before a rule existed, or whose custom field was deleted since, are
    # judged by the same rule as the admin and the API.
    row_errors = mapping_errors(rows=mappings, custom_field_keys={custom.key for custom in custom_fields})[
        "rows"
    ]
    refused = {
        row.field: " ".join(message for messages in errors.values() for message in messages)
        for row, errors in zip(mappings, row_errors, strict=True)
        if errors
    }
    return mappings, webhook.field_types(custom_fields), refused


def _active_webhook_query():
    """The webhook with its workspace and target list, and as JSON columns its mapping rows
    and its workspace's custom fields: everything a post needs before authenticating."""
    return InboundWebhook.objects.filter(IdsIn("public_id", PreparedQuery.IDS), is_active=True).values_list(
        *column_names(InboundWebhook),
        *[f"workspace__{column}" for column in column_names(Workspace)],
        *[f"target_list__{column}" for column in column_names(List)],
        JSONRows(
            FieldMapping.objects.filter(webhook_id=OuterRef("pk")),
            "id",
            "field",
            "source_path",
            "combine",
            "transforms",
            "clear_when_empty",
        ),
        JSONRows(CustomField.objects.filter(workspace_id=OuterRef("workspace_id")), "key", "type"),
    )


_active_webhook = PreparedQuery(_active_webhook_query, server_prepared=True)


def active_webhook_load(public_id):
    """The active webhook with this public id (its workspace and target list loaded, and its
    mapping for `MappingContext.load`), or None: ONE query, compiled once per process."""
    rows = _active_webhook.rows([public_id])
    if not rows:
        return None
    row = iter(rows[0])

    def take(model):
        return [next(row) for _column in column_names(model)]

    webhook = instance_from_row(InboundWebhook, take(InboundWebhook))
    workspace = instance_from_row(Workspace, take(Workspace))
    target_list = take(List)
    InboundWebhook.workspace.field.set_cached_value(webhook, workspace)
    InboundWebhook.target_list.field.set_cached_value(
        webhook, instance_from_row(List, target_list) if webhook.target_list_id else None
    )
    mapping_rows, custom_fields = next(row), next(row)
    webhook.loaded_mapping = ([tuple(values) for values in mapping_rows], [tuple(v) for v in custom_fields])
    return webhook


def record_prepare(*, context, document):
    """Map and coerce one record; every problem is collected with its field and path.

    Only the dedupe field's value must be valid. Any other value that can't be used is a
    warning and is skipped (the lead keeps what it had), because a sales tool that drops a
    prospect over their website field loses the one thing it exists to keep. A strict
    webhook makes every such problem an error instead, rejecting the record as a whole.
    """
    record = PreparedRecord()
    record.unmapped_keys = mapping.unmapped_keys(document, [row.source_path for row in context.mappings])
    dedupe = context.webhook.dedupe_field
    region = context.webhook.default_phone_region

    def problem(key, path, message):
        lenient = key != dedupe and not context.webhook.strict
        (record.warnings if lenient else record.errors).append(_error(key, path, message))

    for row in context.mappings:
        key, path = row.field, row.source_path
        if key in context.refused_rows:
            # Its transforms may be what is refused: only its paths are read.
            sourced = mapping.row_value(document, dataclasses.replace(row, transforms=[]))
            record.missing_paths += sourced.missing_paths
            if sourced.present and not is_empty(sourced.value):
                problem(key, path, context.refused_rows[key])
            continue
        result = mapping.row_value(document, row, phone_region=region)
        record.missing_paths += result.missing_paths
        record.steps[key] = result.steps
        if result.error:
            problem(key, path, f"{key} (from {path}): {result.error}.")
            continue
        kind, type_ = context.field_types[key]
        target = record.values if kind == "default" else record.custom_values
        if is_empty(result.value):
            # Null, an empty list or a blank string is "no value": the field is left as it
            # is (web forms send every optional field, empty ones as ""), unless the row
            # says an empty value clears it.
            if row.clear_when_empty and result.present:
                target[key] = _cleared_value(key, kind)
                record.steps[key].append(("cleared", target[key]))
            continue
        try:
            if kind == "default":
                value = coerce_default(key, result.value, phone_region=region)
            else:
                value = coerce_custom(type_, result.value)
        except CoercionError as exc:
            problem(key, path, f"{key} (from {path}): {exc}.")
            continue
        target[key] = value
        record.steps[key].append(("stored as", value))
    record.dedupe_path = next((row.source_path for row in context.mappings if row.field == dedupe), None)
    dedupe_value = record.value_of(dedupe)
    if dedupe_value in (None, "", []) and not any(error["field"] == dedupe for error in record.errors):
        where = f"path {record.dedupe_path}" if record.dedupe_path else "no mapping"
        record.errors.append(
            _error(dedupe, record.dedupe_path, f"No value for the dedupe field {dedupe} ({where}).")
        )
    return record


def _cleared_value(key, kind):
    """What an emptied field holds: the column's own empty value ("" for text, 0 for a
    counter, [] for tags, None for a date); null for a custom field."""
    if kind == "custom":
        return None
    column = Lead._meta.get_field(key)
    return None if column.null else column.get_default()


def _error(field_key, path, message):
    return {"field": field_key, "path": path, "message": message}


def record_save(*, context, record, actor=None):
    """Upsert a prepared record: (status code, result dict). Never raises for bad data."""
    if record.errors:
        return 422, _failure(record)
    webhook = context.webhook
    try:
        result = lead_upsert(
            workspace=webhook.workspace,
            dedupe_field=webhook.dedupe_field,
            values=record.values,
            custom_values=record.custom_values,
            target_list=webhook.target_list,
            actor=actor,
        )
    except LeadUpsertError as exc:
        return _record_outcome(context, record, exc)
    except DataError as exc:  # a value the database refused despite coercion
        record.errors.append(_error(None, None, f"The database refused a value: {exc}".strip()))
        return 422, _failure(record)
    except LeadUpsertConflict as exc:
        logger.warning("Inbound record conflicted with a concurrent write: %s", exc)
        return 503, _conflict()
    return _record_outcome(context, record, result)


def _record_outcome(context, record, result):
    """(status code, result dict) of a record the upsert saved or rejected."""
    if isinstance(result, LeadUpsertError):
        path = next(
            (row.source_path for row in context.mappings if row.field == result.field), record.dedupe_path
        )
        record.errors.append(_error(result.field, path, result.message))
        return 422, _failure(record)
    body = {
        "lead_id": result.lead.pk,
        "created": result.created,
        "deduped_on": context.webhook.dedupe_field,
        "warnings": record.warnings,
    }
    return (201 if result.created else 200), body


def _failure(record):
    return inbound_error_body(
        "invalid_record",
        record.errors[0]["message"],
        field_errors=record.errors,
        errors=record.errors,
        warnings=record.warnings,
    )


def _conflict():
    return inbound_error_body(
        "conflict",
        "The record conflicted with concurrent writes and was not saved; retry it.",
        retryable=True,
    )


def _dedupe_sort_key(context, record):
    value = record.value_of(context.webhook.dedupe_field)
    return str(value) if value is not None else ""


def records_process(*, webhook, document, actor=None, savepoint=True):
    """Process an object (one lead) or a list of objects (batch): (status, body, record list).
    A single record that still conflicts after its retries is an `InboundError` 503 with
    `Retry-After`; in a batch it is that record's result, and the others are saved.

    `savepoint=False` (a single record, in a transaction the caller retries): the upsert
    writes in the caller's transaction without a savepoint of its own, and a database
    error propagates instead of falling back to record by record."""
    context = MappingContext.load(webhook)
    if isinstance(document, dict):
        record = record_prepare(context=context, document=document)
        [(status, body)] = records_save(context=context, records=[record], actor=actor, savepoint=savepoint)
        if status == 503:
            retry_after = {"Retry-After": str(CONFLICT_RETRY_AFTER_SECONDS)}
            raise InboundError(
                503, body["code"], body["detail"], fields={"retryable": True}, headers=retry_after
            )
        body.update(missing_paths=record.missing_paths, unmapped_keys=record.unmapped_keys)
        return status, body, [record]
    records = [record_prepare(context=context, document=item) for item in document]
    saved = records_save(context=context, records=records, actor=actor)
    results = [{"index": index, "status": status, **body} for index, (status, body) in enumerate(saved)]
    summary = {
        "created": sum(result["status"] == 201 for result in results),
        "updated": sum(result["status"] == 200 for result in results),
        "failed": sum(result["status"] >= 400 for result in results),
    }
    return 200, {**summary, "results": results}, records


def records_warnings(records, *, batch):
    """The warnings of a request's records for its log: in a batch, each names its record."""
    if not batch:
        return [warning for record in records for warning in record.warnings]
    return [
        {"index": index, **warning} for index, record in enumerate(records) for warning in record.warnings
    ]


def records_save(*, context, records, actor=None, savepoint=True):
    """Save prepared records: one (status, body) per record, in their order.

    Records are saved in runs. A run is one transaction (one commit for a whole batch, not
    one per record) that first takes the locks of every record left (`leads_lock`: advisory
    locks in key order, then lead rows in id order; the global order that keeps two batches
    from deadlocking), then saves them in dedupe-value order (stable: a later duplicate still
    wins), each in a savepoint of its own. A record that loses a race anyway ends the run:
    the records before it are committed, which releases what the other writer waits for,
    and after a short jittered pause the next run starts with it. After CONFLICT_ATTEMPTS
    tries it is answered 503 (retryable) and the others go on.
    """
    outcomes = [None] * len(records)
    pending = sorted(range(len(records)), key=lambda index: _dedupe_sort_key(context, records[index]))
    attempts = Counter()
    while pending:
        try:
            pending = _records_save_run(context, records, pending, outcomes, attempts, actor, savepoint)
        except (OperationalError, IntegrityError) as exc:
            if not savepoint:
                raise  # the caller's transaction is spoilt: the caller rolls it back and retries
            # Taking the run's locks failed (a writer outside the lock order); nothing of
            # this run was saved. Counted against the first record left, so this ends too.
            logger.warning("Inbound batch could not take its locks: %s", exc)
            attempts[pending[0]] += 1
            if attempts[pending[0]] >= CONFLICT_ATTEMPTS:
                outcomes[pending[0]] = (503, _conflict())
                pending = pending[1:]
        if pending and attempts[pending[0]]:
            pause = CONFLICT_PAUSE_SECONDS * attempts[pending[0]]
            time.sleep(pause + random.uniform(0, pause))
    return outcomes


def _records_save_run(context, records, pending, outcomes, attempts, actor, savepoint=True):
    """Save `pending` records in one transaction; returns those left for the next run."""
    if _records_save_set_based(context, records, pending, outcomes, actor, savepoint):
        return []
    webhook = context.webhook
    with transaction.atomic():
        leads_lock(
            workspace=webhook.workspace,
            dedupe_field=webhook.dedupe_field,
            records=[(records[index].values, records[index].custom_values) for index in pending],
        )
        for position, index in enumerate(pending):
            status, body = record_save(context=context, record=records[index], actor=actor)
            if status == 503:
                attempts[index] += 1
                if attempts[index] < CONFLICT_ATTEMPTS:
                    return pending[position:]  # commit what is saved; retry from this record
            outcomes[index] = (status, body)
    return []


def _records_save_set_based(context, records, pending, outcomes, actor, savepoint=True):
    """Save the valid `pending` records with `leads_upsert` (a constant number of statements
    for the run) in one transaction (a savepoint when the caller has one open: a single
    post's request log shares it); True when done. On a database error (a writer outside
    the lock order, a value the database refuses) it is rolled back and False returned: the
    run then goes record by record, with its per-record retry and failures."""
    webhook = context.webhook
    valid = [index for index in pending if not records[index].errors]
    pairs = [(records[index].values, records[index].custom_values) for index in valid]
    if not leads_upsert_supported(dedupe_field=webhook.dedupe_field, records=pairs):
        return False
    if not valid:
        for index in pending:
            outcomes[index] = (422, _failure(records[index]))
        return True
    try:
        with transaction.atomic(savepoint=savepoint):
            results = leads_upsert(
                workspace=webhook.workspace,
                dedupe_field=webhook.dedupe_field,
                records=pairs,
                target_list=webhook.target_list,
                actor=actor,
            )
    except (OperationalError, IntegrityError, DataError) as exc:
        if not savepoint:
            raise  # the caller's transaction is spoilt: the caller rolls it back and retries
        logger.info("Set-based upsert fell back to record by record: %s", exc)
        return False
    for index in pending:
        if records[index].errors:
            outcomes[index] = (422, _failure(records[index]))
    for index, result in zip(valid, results, strict=True):
        outcomes[index] = _record_outcome(context, records[index], result)
    return True


def lead_preview(*, webhook, document):
    """What a body would do, without saving: per record the typed values, errors and the
    lead it would update (None for a new lead)."""
    context = MappingContext.load(webhook)
    previews = []
    for item in document if isinstance(document, list) else [document]:
        if not isinstance(item, dict):
            previews.append({"record": None, "errors": [_error(None, None, "Not a JSON object.")]})
            continue
        record = record_prepare(context=context, document=item)
        value = record.value_of(webhook.dedupe_field)
        existing = None
        if value not in (None, "", []) and not record.errors:
            existing = leads_matching(
                workspace=webhook.workspace, field=webhook.dedupe_field, value=value
            ).first()
        previews.append(
            {"record": record, "errors": record.errors, "warnings": record.warnings, "existing": existing}
        )
    return previews


def webhook_capture_sample(*, webhook, document, content_type):
    """Store the document as the webhook's sample if capture is on. The conditional update
    lets exactly one of several concurrent requests win."""
    if not webhook.capture_next:
        return False
    captured = InboundWebhook.objects.filter(pk=webhook.pk, capture_next=True).update(
        capture_next=False,
        sample_body=_loggable_text(json.dumps(document, ensure_ascii=False, indent=2)),
        sample_content_type=content_type[:200],
        sample_captured_at=timezone.now(),
    )
    return bool(captured)


def mappings_suggest(*, webhook):
    """Insert the suggested rows on a webhook that has none."""
    if webhook.mappings.exists():
        return []
    return FieldMapping.objects.bulk_create(
        [FieldMapping(webhook=webhook, field=key, source_path=path) for key, path in SUGGESTED_MAPPINGS]
    )


def inbound_request_log(
    *,
    webhook,
    public_id,
    api_key,
    presented_prefix="",
    status_code,
    response,
    content_type,
    body,
    body_size,
    missing_paths=(),
    unmapped_keys=(),
    warnings=(),
    remote_addr=None,
    savepoint=True,
):
    """Write one log row, in its own savepoint. It never raises for the row itself: losing a
    log line is better than losing the response the sender is waiting for; but a lost
    database connection inside the caller's transaction is raised (see below).
    `savepoint=False`: in the caller's transaction as it is, raising any error (the caller
    rolls back and writes everything again, with this savepoint)."""
    if savepoint:
        inbound_answer_count(status_code)  # /metrics: every answered request is logged here
    try:
        stored = body[: InboundRequest.BODY_LIMIT] if body is not None else b""
        with transaction.atomic(savepoint=savepoint):
            row = instance_insert(
                InboundRequest(
                    webhook=webhook,
                    workspace_id=webhook.workspace_id if webhook else None,
                    public_id=_loggable_text(public_id)[:200],
                    api_key=api_key,
                    api_key_prefix=api_key.prefix if api_key else _loggable_text(presented_prefix)[:32],
                    status_code=status_code,
                    response=_loggable_json(response),
                    content_type=_loggable_text(content_type)[:200],
                    body=_loggable_text(stored.decode("utf-8", errors="replace")),
                    body_size=body_size,
                    body_truncated=body is None or len(body) > InboundRequest.BODY_LIMIT,
                    missing_paths=_loggable_json(list(missing_paths)[:200]),
                    unmapped_keys=_loggable_json(list(unmapped_keys)[:200]),
                    warnings=_loggable_json(list(warnings)[:1000]),
                    remote_addr=remote_addr or None,
                )
            )
    except Exception:
        if not savepoint:
            raise  # not counted: the caller writes it again, and it is counted then
        if connection.in_atomic_block and (connection.closed_in_transaction or connection.needs_rollback):
            # The connection died under the caller's transaction (a single record's lead
            # commits with its log row): swallowing this would let that transaction end
            # without a commit and the sender get a 2xx for a lead that was never saved.
            raise
        logger.exception("Could not write the inbound request log for webhook %s", public_id)
        return None
    if not savepoint:
        # Counted once the first try commits: a COMMIT that fails (a deferred foreign key, a
        # serialization failure) is written again the careful way, and counted there.
        transaction.on_commit(functools.partial(inbound_answer_count, status_code))
    return row


def _loggable_text(text):
    # PostgreSQL text can't hold NUL, and UTF-8 can't hold unpaired surrogates.
    return text.replace("\x00", "\ufffd").encode("utf-8", errors="replace").decode("utf-8")


def _loggable_json(value):
    text = json.dumps(value, ensure_ascii=False, default=str)
    return json.loads(_loggable_text(text).replace("\\u0000", "\\ufffd"))


def demo_webhook_ensure(*, workspace):
    """The demo workspace's inbound webhook (suggested mapping); idempotent across re-seeds."""
    webhook, created = InboundWebhook.objects.get_or_create(
        workspace=workspace,
        name="Demo form",
        defaults={"description": "Send the help article's sample payload here with an API key."},
    )
    if created:
        mappings_suggest(webhook=webhook)
    return webhook


@transaction.atomic
def webhook_mappings_replace(*, webhook, mappings):
    """Replace every mapping row of `webhook` with `mappings`: dicts of FieldMapping's
    fields (field, source_path, and optionally combine, transforms, clear_when_empty)."""
    webhook.mappings.all().delete()
    return FieldMapping.objects.bulk_create([FieldMapping(webhook=webhook, **row) for row in mappings])


@transaction.atomic
def webhook_preset_apply(*, webhook, preset, keep=frozenset()):
    """Start `webhook` from a vendor preset (webhooks/inbound/presets/): its sender-auth mode
    and settings, dedupe field and mapping rows, replacing the webhook's rows. Fields named in
    `keep` were chosen by the caller and are left as they are. Returns the rows applied."""
    for name, value in {
        "auth_mode": preset.auth_mode,
        "dedupe_field": preset.dedupe_field,
        **preset.auth_settings,
    }.items():
        if name not in keep:
            setattr(webhook, name, value)
    webhook.preset = preset.key
    webhook.save()
    if "mappings" in keep:
        return list(webhook.mappings.all())
    pairs = preset.mapping_pairs(webhook.custom_field_keys())
    return webhook_mappings_replace(
        webhook=webhook, mappings=[{"field": field, "source_path": path} for field, path in pairs]
    )
