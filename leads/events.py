"""Events the lead code publishes. Consumers (webhooks, ...) subscribe; `leads` never imports them.

`lead_status_changed` is sent *inside* the transaction that changed the status, so a
subscriber can write its own rows atomically with the change (the outbound webhook outbox).
A subscriber with side effects outside the database must defer them with
`transaction.on_commit`, so a rolled-back change has none.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.dispatch import Signal

lead_status_changed = Signal()  # sent with event=LeadStatusChanged, once per change
# Sent once per `leads_set_status` call (a single change too) with events=[LeadStatusChanged],
# after the per-change signals: a subscriber that writes rows for many changes (the outbound
# outbox) does it in a constant number of queries instead of once per lead.
lead_statuses_changed = Signal()


@dataclass(frozen=True)
class LeadStatusChanged:
    lead: object
    previous_status: str | None
    new_status: str
    occurred_at: datetime
    actor: object = None
    campaign: object = None
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


# Sent by `manage.py seed_demo` after the demo workspace's leads exist, so apps above
# `leads` (webhooks) can add their own demo objects. Sent with workspace=Workspace.
demo_workspace_seeded = Signal()
