"""The bytes a status change stores are the bytes it has always stored (PRODUCT.md §3).

`payloads/status_change_bytes.json` was written by the snapshot code before the payload's
relations were loaded in one query (issue #12); any change to how the lead, its campaigns,
lists, thread and custom fields are loaded must keep these bytes, on SQLite and PostgreSQL.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.db import transaction

from leads.models import LeadStatus, Message
from leads.services import leads_set_status
from tests.factories import CampaignFactory, CustomFieldFactory, LeadFactory, ListFactory, MessageFactory
from webhooks.outbound.models import Delivery

from .conftest import make_webhook

pytestmark = pytest.mark.django_db

EXPECTED = Path(__file__).parent / "payloads" / "status_change_bytes.json"


def at(*parts):
    return datetime(*parts, tzinfo=UTC)


def two_leads(workspace):
    """A lead with a thread (one message outside any campaign, dates with microseconds) and a
    lead with campaigns but no thread (its campaign is the most recently created one)."""
    for key, kind in (("score", "number"), ("plan", "text"), ("seats", "text"), ("zeta", "text")):
        CustomFieldFactory(workspace=workspace, key=key, type=kind)
    with time_machine.travel(at(2025, 1, 1, 9, 0, 0, 500), tick=False):
        later_named_first = CampaignFactory(workspace=workspace, name="Alpha drip")
    with time_machine.travel(at(2025, 1, 1, 8, 0, 0), tick=False):
        newsletter = CampaignFactory(workspace=workspace, name="Zeta newsletter")
    lists = [ListFactory(workspace=workspace, name=name) for name in ("VIP", "Événements", "Abc")]
    threaded = LeadFactory(
        workspace=workspace,
        name="",
        first_name="Zoë",
        last_name="Ångström",
        business_email="zoe@example.com",
        personal_email="zoe@home.example",
        company_name='Ünïcode "Quotes" & Co',
        tags=["b", "a"],
        number_of_emails=3,
        number_of_sms_sent=0,
        last_contacted=at(2025, 5, 6, 8, 58, 10, 123456),
        created_date=at(2024, 12, 2, 14, 5, 38),
        custom_fields={"score": 0, "plan": "Pro", "seats": [1, 2], "undeclared": "x", "zeta": ""},
    )
    threaded.campaigns.add(newsletter, later_named_first)
    threaded.lists.add(*lists)
    MessageFactory(
        lead=threaded,
        campaign=newsletter,
        to_name="Zoë",
        date=at(2025, 5, 6, 8, 58, 10, 999999),
        subject="Hi 👋",
        body='Line 1\nLine 2\t"quoted"',
        angle="Autogrow",
        campaign_step=1,
        word_limit=0,
    )
    MessageFactory(lead=threaded, type=Message.Type.INBOUND, date=at(2025, 5, 6, 8, 58, 10), subject="")
    MessageFactory(
        lead=threaded,
        type=Message.Type.AUTO_REPLY,
        date=at(2025, 5, 6, 8, 59),
        from_name="",
        subject="Auto: Hi",
    )
    bare = LeadFactory(
        workspace=workspace,
        name="Plain Lead",
        first_name="Plain",
        last_name="Lead",
        business_email="",
        personal_email="plain@example.com",
        company_name="",
        created_date=at(2023, 1, 1),
    )
    bare.campaigns.add(later_named_first, newsletter)
    return {"threaded": threaded, "bare": bare}


def stored_bytes(delivery, lead):
    """The stored payload with the two values a run can't fix (event id, lead id) replaced."""
    return (
        bytes(delivery.payload)
        .replace(delivery.event_id.encode(), b"EVENT-ID")
        .replace(f'"lead_id":{lead.pk},'.encode(), b'"lead_id":1,')
        .decode()
    )


def test_a_status_change_stores_the_same_payload_bytes_as_before_on_every_database(workspace):
    make_webhook(workspace, "https://example.com/hook")
    leads = two_leads(workspace)
    with time_machine.travel(at(2026, 2, 3, 4, 5, 6, 789012), tick=False), transaction.atomic():
        leads_set_status(leads=[leads["threaded"]], status=LeadStatus.OPPORTUNITY)
        leads_set_status(leads=[leads["bare"]], status=LeadStatus.OPPORTUNITY)

    stored = {name: stored_bytes(Delivery.objects.get(lead=lead), lead) for name, lead in leads.items()}
    assert stored == json.loads(EXPECTED.read_text())
