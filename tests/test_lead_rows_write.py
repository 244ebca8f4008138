"""A batch's set-based write (one statement for its new leads, one for its stored ones) stores
every column exactly as saving each lead on its own would."""

import datetime

import pytest

from leads.models import Lead
from leads.services import leads_upsert
from tests.factories import WorkspaceFactory

CONTACTED = datetime.datetime(2026, 11, 2, 9, 30, 15, 123456, tzinfo=datetime.UTC)


def values(email, **changes):
    return {
        "business_email": email,
        "first_name": "Ada",
        "last_name": 'O\'Brien \\ "quoted"',  # quotes and a backslash travel as they are
        "about": "Line one\nline two, ünïcödé ✓",
        "website": "https://example.com/a?b=c&d=e",
        "number_of_employees": 250,
        "number_of_emails": 0,
        "last_contacted": CONTACTED,
        "last_email_open_date": None,
        "tags": ["vip", {"nested": [1, 2.5, None, True]}],
        "life_cycle": "Lead",
        **changes,
    }


CUSTOM = {"source": "form", "score": 7, "flags": {"a": [1, "two"]}}


def columns(lead):
    skipped = {"id", "workspace", "created_date", "modified_date", "life_cycle_history"}
    return {
        field.name: getattr(lead, field.attname)
        for field in Lead._meta.concrete_fields
        if field.name not in skipped
    }


@pytest.mark.django_db
def test_a_batch_stores_new_and_stored_leads_as_saving_each_one_would():
    one_by_one, batched = WorkspaceFactory(), WorkspaceFactory()
    emails = ["ada@example.com", "bob@example.com", "cy@example.com"]
    for email in emails:
        lead = Lead(workspace=one_by_one)
        lead.values_assign(values(email), CUSTOM)
        lead.save()

    results = leads_upsert(
        workspace=batched,
        dedupe_field="business_email",
        records=[(values(email), CUSTOM) for email in emails],
    )

    assert all(result.created for result in results)
    stored = {lead.business_email: lead for lead in Lead.objects.filter(workspace=batched)}
    assert [result.lead.pk for result in results] == [stored[email].pk for email in emails]
    for lead in Lead.objects.filter(workspace=one_by_one):
        assert columns(stored[lead.business_email]) == columns(lead)

    changed = {"first_name": "Grace", "number_of_employees": None, "tags": [], "last_contacted": None}
    results = leads_upsert(
        workspace=batched,
        dedupe_field="business_email",
        records=[(values(email, **changed), {"score": 8}) for email in emails[:2]],
    )

    assert not any(result.created for result in results)
    for email in emails[:2]:
        lead = Lead.objects.get(workspace=batched, business_email=email)
        assert (lead.first_name, lead.number_of_employees, lead.tags, lead.last_contacted) == (
            "Grace",
            None,
            [],
            None,
        )
        assert lead.custom_fields == {**CUSTOM, "score": 8}
    assert Lead.objects.get(workspace=batched, business_email=emails[2]).first_name == "Ada"
