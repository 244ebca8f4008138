"""The "Lead Status Updated" payload, shaped like the help article's sample.

Top-level keys are the article's, in its order, plus these documented extras:
`event_id` (also the `webhook-id` header), `event_type` ("lead.status_updated"),
`occurred_at` (ISO 8601 UTC) and `lead_id`.

Built once per event, whatever the number of matching webhooks, with a fixed number of
queries for any number of events (`leads_for_payload`: one), and serialized once: the bytes
stored on each Delivery are the bytes every attempt sends and signs.
"""

import copy
import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import OuterRef
from django.utils import timezone

from leadengine.expressions import JSONRows
from leadengine.prepared import IdsIn, PreparedQuery, column_names
from leads.catalogue import DEFAULT_FIELDS, PAYLOAD_KEYS, FieldType
from leads.models import Campaign, CustomField, Lead, List, Message, isoformat_utc

from .models import EVENT_TYPE_STATUS_UPDATED as EVENT_TYPE


def payload_serialize(payload):
    """Compact UTF-8 JSON: the exact bytes that are stored, signed and sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


_EMPTY_VALUES = (None, "", [], {})


def _has_value(value):
    return value not in _EMPTY_VALUES


@dataclass
class PayloadLead:
    """A lead with what its payload and the webhook filters read: its campaigns and lists
    (by name, as the lead page orders them), its thread (oldest first) and its workspace's
    custom field keys (in payload order)."""

    lead: Lead
    workspace_name: str = ""
    campaigns: list = field(default_factory=list)
    lists: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    custom_field_keys: list = field(default_factory=list)


# A thread message's columns as `leads_for_payload` reads them (`Message.as_thread_entry`'s).
_THREAD_COLUMNS = (
    "id",
    "campaign_id",
    "campaign__name",
    "type",
    "subject",
    "body",
    "from_name",
    "from_address",
    "to_name",
    "to_address",
    "date",
    "angle",
    "framework",
    "test",
    "tone",
    "campaign_step",
    "word_limit",
)


def _datetime_from_json(value):
    """A timestamp as JSON carries it: ISO 8601 with an offset (PostgreSQL), or naive UTC
    text (SQLite's storage)."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@functools.cache
def _snapshot_lead_columns():
    """The lead's columns a payload or a filter reads: its histories (JSON that grows with
    every change, never sent: `INTERNAL_FIELDS`) are neither fetched nor parsed."""
    histories = {spec.key for spec in DEFAULT_FIELDS if spec.type == FieldType.HISTORY}
    return [name for name in column_names(Lead) if name not in histories]


def _snapshot_query():
    """A lead's row with its workspace's name, and as JSON columns its campaigns, lists,
    thread and the workspace's custom field keys (in `ORDER BY key` order, as before)."""
    return (
        Lead.objects.filter(IdsIn("pk", PreparedQuery.IDS))
        .order_by()
        .values_list(
            *_snapshot_lead_columns(),
            "workspace__name",
            JSONRows(
                Lead.campaigns.through.objects.filter(lead_id=OuterRef("pk")),
                "campaign_id",
                "campaign__name",
                "campaign__created_at",
            ),
            JSONRows(Lead.lists.through.objects.filter(lead_id=OuterRef("pk")), "list_id", "list__name"),
            JSONRows(Message.objects.filter(lead_id=OuterRef("pk")), *_THREAD_COLUMNS),
            JSONRows(CustomField.objects.filter(workspace_id=OuterRef("workspace_id")), "key", ordered=True),
        )
    )


# `rows(lead_ids)`: the rows `leads_from_snapshots` reads.
lead_snapshots = PreparedQuery(_snapshot_query, server_prepared=True)


def leads_for_payload(lead_ids):
    """PayloadLead by lead id: ONE query for any number of leads (`_snapshot_query`), compiled
    once per process. A status change with matching webhooks pays one round trip for its whole
    snapshot, a bulk change of 10,000 leads the same one statement; no per-lead querysets
    (`prefetch_related`'s cost more than the queries for 10,000 leads: profiled)."""
    return leads_from_snapshots(lead_snapshots.rows(list(lead_ids)))


def leads_from_snapshots(rows):
    """PayloadLead by lead id from `lead_snapshots`' rows."""
    campaigns, lists, loaded = {}, {}, {}
    columns = _snapshot_lead_columns()
    width = len(columns)
    for row in rows:
        lead = Lead.from_loaded_row("default", columns, row[:width])  # the histories stay deferred
        workspace_name, campaign_rows, list_rows, thread_rows, custom_field_keys = row[width:]
        payload_lead = loaded[lead.pk] = PayloadLead(
            lead, workspace_name=workspace_name, custom_field_keys=custom_field_keys
        )
        for pk, name, created_at in campaign_rows:
            if pk not in campaigns:
                campaigns[pk] = Campaign(id=pk, name=name, created_at=_datetime_from_json(created_at))
            payload_lead.campaigns.append(campaigns[pk])
        for pk, name in list_rows:
            if pk not in lists:
                lists[pk] = List(id=pk, name=name)
            payload_lead.lists.append(lists[pk])
        payload_lead.campaigns.sort(key=lambda item: (item.name, item.pk))
        payload_lead.lists.sort(key=lambda item: (item.name, item.pk))
        for values in thread_rows:
            values = dict(zip(_THREAD_COLUMNS, values, strict=True))
            campaign_id, campaign_name = values.pop("campaign_id"), values.pop("campaign__name")
            values["date"] = _datetime_from_json(values["date"])
            campaign = None
            if campaign_id is not None:
                campaign = campaigns.get(campaign_id) or Campaign(id=campaign_id, name=campaign_name)
            payload_lead.messages.append(Message(lead_id=lead.pk, campaign=campaign, **values))
        payload_lead.messages.sort(key=lambda message: (message.date, message.pk))
    return loaded


def lead_for_payload(lead_id):
    """One lead as `leads_for_payload` loads it."""
    try:
        return leads_for_payload([lead_id])[lead_id]
    except KeyError:
        raise Lead.DoesNotExist(f"No lead {lead_id}.") from None


def _campaign_name(payload_lead, event_campaign):
    """The campaign the change happened in, else the lead's most recent one, else None."""
    if event_campaign is not None:
        return event_campaign.name
    for message in reversed(payload_lead.messages):
        if message.campaign_id:
            return message.campaign.name
    campaigns = sorted(payload_lead.campaigns, key=lambda campaign: (campaign.created_at, campaign.pk))
    return campaigns[-1].name if campaigns else None


# The default fields the article's sample shows, in its order (`email` is personal_email).
# A lead's other default fields follow in catalogue order, then the workspace's custom fields.
ARTICLE_FIELD_ORDER = (
    "name",
    "first_name",
    "last_name",
    "personal_email",
    "business_email",
    "tags",
    "created_date",
    "campaigns",
    "email_provider",
)
# Kept by LeadEngine for its own screens, never sent: the new status is top-level already,
# and the histories and modification stamp are bookkeeping the article's sample never shows.
INTERNAL_FIELDS = frozenset(
    {"lead_status", "modified_date"} | {spec.key for spec in DEFAULT_FIELDS if spec.type == FieldType.HISTORY}
)
_DEFAULT_FIELDS_IN_PAYLOAD_ORDER = sorted(
    (spec for spec in DEFAULT_FIELDS if spec.key not in INTERNAL_FIELDS),
    key=lambda spec: (
        ARTICLE_FIELD_ORDER.index(spec.key) if spec.key in ARTICLE_FIELD_ORDER else len(ARTICLE_FIELD_ORDER)
    ),
)


# (payload key, spec, kind) of the default fields in payload order, resolved once: the
# entries are built for every lead of a bulk change (10,000 a call; the spec's type compared
# per field and lead was a third of the payload's time, profiled).
_RELATION, _COUNTER, _COLUMN = "relation", "counter", "column"
_PAYLOAD_DEFAULT_FIELDS = [
    (
        PAYLOAD_KEYS.get(spec.key, spec.key),
        spec,
        {FieldType.RELATION_LIST: _RELATION, FieldType.INTEGER: _COUNTER}.get(spec.type, _COLUMN),
    )
    for spec in _DEFAULT_FIELDS_IN_PAYLOAD_ORDER
]


_PAYLOAD_COLUMN_VALUES = Lead.column_values_reader(
    [spec for _, spec, kind in _PAYLOAD_DEFAULT_FIELDS if kind is not _RELATION]
)


def custom_fields_entries(payload_lead):
    """`customFields` as the article shows it: see "Payload" in webhooks/outbound/README.md."""
    lead = payload_lead.lead
    column_values = iter(_PAYLOAD_COLUMN_VALUES(lead))
    entries = []
    for payload_key, spec, kind in _PAYLOAD_DEFAULT_FIELDS:
        if kind is _RELATION:  # loaded with the lead: names, in name order
            value = [related.name for related in getattr(payload_lead, spec.key)]
        else:
            value = next(column_values)
            if kind is _COUNTER and value == 0:
                # Counters start at 0 on every lead: 0 there means "nothing counted", like an
                # empty field. A custom field's 0 is a value the workspace set, so it is sent.
                continue
        if value not in _EMPTY_VALUES:
            entries.append({"value": value, "key": payload_key})
    entries += [
        {"value": value, "key": key}
        for key in payload_lead.custom_field_keys
        if _has_value(value := lead.custom_fields.get(key))
    ]
    return entries


def lead_status_payload_build(*, event, lead):
    """The payload dict for a LeadStatusChanged event; `lead` is a PayloadLead from
    leads_for_payload()."""
    payload_lead, lead = lead, lead.lead
    payload = {
        "event_id": str(event.event_id),
        "event_type": EVENT_TYPE,
        "occurred_at": isoformat_utc(event.occurred_at),
        "lead_id": lead.pk,
        "new_lead_status": event.new_status,
        "previous_lead_status": event.previous_status,
        "lead_name": lead.display_name,
        "lead_email_address": lead.email or None,
        "workspace_name": payload_lead.workspace_name,
        "campaign_name": _campaign_name(payload_lead, event.campaign),
        "customFields": custom_fields_entries(payload_lead),
        "messages": [message.as_thread_entry() for message in payload_lead.messages],
    }
    return payload


# The help article's sample payload (docs: the help article §2.3), the body of Send Test.
SAMPLE_PAYLOAD = {
    "new_lead_status": "Needs Info",
    "previous_lead_status": "Conversation",
    "lead_name": "Elon Musk",
    "lead_email_address": "elon@x.com",
    "workspace_name": "My Default Workspace",
    "campaign_name": "My Super Performing Campaign",
    "customFields": [
        {"value": "Elon Musk", "key": "name"},
        {"value": "Elon", "key": "first_name"},
        {"value": "Musk", "key": "last_name"},
        {"value": "elon@gmail.com", "key": "email"},
        {"value": "elon@x.com", "key": "business_email"},
        {"value": ["Prospect", "Cars", "Space"], "key": "tags"},
        {"value": "2024-12-02T14:05:38Z", "key": "created_date"},
        {"value": ["My Super Performing Campaign", "Newsletter"], "key": "campaigns"},
        {"value": "Gmail", "key": "email_provider"},
        {"value": 1, "key": "my_custom_number_field"},
    ],
    "messages": [
        {
            "angle": "Autogrow",
            "framework": "Problem, Solution, Proof, CTA",
            "test": "a",
            "body": "Full body of the first threaded message.",
            "tone": "Informal",
            "from": {"name": "LeadEngineUser", "address": "user@leadengine.ai"},
            "campaign_step": 1,
            "word_limit": 225,
            "type": "outbound",
            "subject": "First message subject",
            "to": {"name": "Elon Musk", "address": "elon@x.com"},
            "date": "2025-05-06T08:58:10Z",
        },
        {
            "body": "Full body of the message response",
            "from": {"address": "elon@x.com", "name": "Elon Musk"},
            "type": "inbound",
            "subject": "Re: First message subject",
            "to": {"address": "user@leadengine.ai", "name": "LeadEngineUser"},
            "date": "2025-05-06T08:59:17Z",
        },
        {
            "body": "Autoreply message body",
            "from": {"address": "elon@x.com", "name": "Elon Musk"},
            "type": "auto_reply",
            "subject": "Auto: First message subject",
            "to": {"name": "LeadEngineUser", "address": "user@leadengine.ai"},
            "date": "2025-05-06T08:59:22Z",
        },
    ],
}


# Send Test has no lead; ids start at 1, so 0 never names one, and typed receivers still
# get an integer.
SAMPLE_LEAD_ID = 0


def sample_payload_build(*, workspace, event_id, now=None):
    """A real event's shape (the same top-level keys) carrying the article's sample values,
    with the workspace's real name."""
    payload = copy.deepcopy(SAMPLE_PAYLOAD)
    payload["workspace_name"] = workspace.name
    return {
        "event_id": str(event_id),
        "event_type": EVENT_TYPE,
        "occurred_at": isoformat_utc(now or timezone.now()),
        "lead_id": SAMPLE_LEAD_ID,
        **payload,
    }
