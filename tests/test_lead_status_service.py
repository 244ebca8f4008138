import pytest
from django.db import transaction

from leads.models import Lead, LeadStatus, LeadStatusChangeError
from leads.services import lead_set_status
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_status_change_appends_history_and_publishes_event(published, django_capture_on_commit_callbacks):
    lead = LeadFactory()
    actor = UserFactory()
    campaign = CampaignFactory(workspace=lead.workspace)

    with django_capture_on_commit_callbacks(execute=True):
        event = lead_set_status(lead=lead, status="Needs Info", actor=actor, campaign=campaign)

    lead.refresh_from_db()
    assert lead.lead_status == LeadStatus.NEEDS_INFO
    assert [entry["value"] for entry in lead.lead_status_history] == ["Needs Info"]
    assert lead.lead_status_history[0]["changed_at"].endswith("Z")
    assert published == [event]
    assert (event.previous_status, event.new_status, event.actor, event.campaign) == (
        None,
        "Needs Info",
        actor,
        campaign,
    )


def test_second_change_records_previous_status(published, django_capture_on_commit_callbacks):
    lead = LeadFactory()
    with django_capture_on_commit_callbacks(execute=True):
        lead_set_status(lead=lead, status="Conversation")
        lead_set_status(lead=lead, status="Needs Info")

    assert [(e.previous_status, e.new_status) for e in published] == [
        (None, "Conversation"),
        ("Conversation", "Needs Info"),
    ]
    lead.refresh_from_db()
    assert [entry["value"] for entry in lead.lead_status_history] == ["Conversation", "Needs Info"]


def test_setting_the_same_status_again_records_and_publishes_nothing(
    published, django_capture_on_commit_callbacks
):
    lead = LeadFactory()
    lead_set_status(lead=lead, status="Opportunity")
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        result = lead_set_status(lead=Lead.objects.get(pk=lead.pk), status="Opportunity")

    assert result is None
    assert published == []
    assert len(Lead.objects.get(pk=lead.pk).lead_status_history) == 1


@pytest.mark.django_db(transaction=True)
def test_rolled_back_status_change_publishes_nothing(published):
    lead = LeadFactory()

    with pytest.raises(RuntimeError), transaction.atomic():
        lead_set_status(lead=lead, status="Meeting Booked")
        raise RuntimeError("the caller fails after the change")

    assert published == []
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.lead_status is None
    assert lead.lead_status_history == []


@pytest.mark.django_db(transaction=True)
def test_committed_status_change_is_published_after_commit(published):
    lead = LeadFactory()
    with transaction.atomic():
        lead_set_status(lead=lead, status="Meeting Booked")
        assert published == []  # not before the commit

    assert [event.new_status for event in published] == ["Meeting Booked"]


def test_unknown_status_is_rejected():
    lead = LeadFactory()
    with pytest.raises(ValueError):
        lead_set_status(lead=lead, status="Hot Lead")


def test_saving_a_changed_status_without_the_service_raises():
    lead = LeadFactory()
    lead.lead_status = LeadStatus.OPPORTUNITY
    with pytest.raises(LeadStatusChangeError):
        lead.save()
    assert Lead.objects.get(pk=lead.pk).lead_status is None


def test_creating_a_lead_with_a_status_without_the_service_raises():
    with pytest.raises(LeadStatusChangeError):
        LeadFactory(lead_status=LeadStatus.OPPORTUNITY)


def test_queryset_update_of_status_raises():
    LeadFactory()
    with pytest.raises(LeadStatusChangeError):
        Lead.objects.update(lead_status=LeadStatus.UNKNOWN)
    with pytest.raises(LeadStatusChangeError):
        Lead.objects.bulk_update(list(Lead.objects.all()), ["lead_status"])


def test_saving_other_fields_of_a_lead_with_a_status_is_allowed():
    lead = LeadFactory()
    lead_set_status(lead=lead, status="Follow Up")
    lead = Lead.objects.get(pk=lead.pk)
    lead.city = "Lisbon"
    lead.save()
    assert Lead.objects.get(pk=lead.pk).city == "Lisbon"


def test_deferred_status_does_not_block_saving_other_fields():
    lead = LeadFactory()
    lead_set_status(lead=lead, status="Follow Up")
    lead = Lead.objects.defer("lead_status").get(pk=lead.pk)
    lead.city = "Berlin"
    lead.save()
    assert Lead.objects.get(pk=lead.pk).lead_status == "Follow Up"
