import datetime

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from leads.api.serializers import LeadSerializer
from leads.models import Lead
from leads.services import lead_set_status
from tests.factories import (
    CampaignFactory,
    CustomFieldFactory,
    LeadFactory,
    ListFactory,
    MembershipFactory,
    MessageFactory,
    UserFactory,
)

from .conftest import signed_in

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"


def detail(lead):
    return f"{LEADS}{lead.pk}/"


def test_create_lead_in_the_members_only_workspace(api, workspace):
    campaign = CampaignFactory(workspace=workspace)
    a_list = ListFactory(workspace=workspace)

    response = api.post(
        LEADS,
        {
            "name": "Ada Lovelace",
            "business_email": "  Ada@Example.COM ",
            "tags": ["vip"],
            "campaigns": [campaign.pk],
            "lists": [a_list.pk],
            "number_of_employees": 12,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["workspace"] == "acme"
    assert body["business_email"] == "ada@example.com"
    assert (body["campaigns"], body["lists"], body["tags"]) == ([campaign.pk], [a_list.pk], ["vip"])
    lead = Lead.objects.get(pk=body["id"])
    assert lead.workspace == workspace
    assert list(lead.campaigns.all()) == [campaign]


def test_create_with_a_status_goes_through_the_status_service(
    api, member, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(LEADS, {"name": "Bo", "lead_status": "Opportunity"}, format="json")

    assert response.status_code == 201, response.json()
    assert [entry["value"] for entry in response.json()["lead_status_history"]] == ["Opportunity"]
    assert [(event.previous_status, event.new_status, event.actor) for event in published] == [
        (None, "Opportunity", member)
    ]


def test_patch_lead_status_records_history_and_publishes_the_event(
    api, member, workspace, published, django_capture_on_commit_callbacks
):
    lead = LeadFactory(workspace=workspace)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(detail(lead), {"lead_status": "Meeting Booked", "city": "Paris"}, format="json")

    assert response.status_code == 200, response.json()
    lead.refresh_from_db()
    assert (lead.lead_status, lead.city) == ("Meeting Booked", "Paris")
    assert [entry["value"] for entry in lead.lead_status_history] == ["Meeting Booked"]
    assert response.json()["lead_status_history"] == lead.lead_status_history
    assert len(published) == 1
    event = published[0]
    assert (event.lead.pk, event.previous_status, event.new_status, event.actor) == (
        lead.pk,
        None,
        "Meeting Booked",
        member,
    )


def test_patching_the_same_status_again_is_not_a_change(
    api, workspace, published, django_capture_on_commit_callbacks
):
    lead = LeadFactory(workspace=workspace)
    api.patch(detail(lead), {"lead_status": "Follow Up"}, format="json")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(detail(lead), {"lead_status": "Follow Up"}, format="json")

    assert response.status_code == 200
    assert len(response.json()["lead_status_history"]) == 1
    assert published == []


def test_an_unknown_status_is_a_400_naming_lead_status_and_changes_nothing(api, workspace):
    lead = LeadFactory(workspace=workspace, city="Oslo")

    response = api.patch(detail(lead), {"lead_status": "Hot", "city": "Rome"}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["lead_status"]
    lead.refresh_from_db()
    assert (lead.lead_status, lead.city) == (None, "Oslo")


def test_a_status_cannot_be_cleared(api, workspace):
    lead = LeadFactory(workspace=workspace)
    api.patch(detail(lead), {"lead_status": "Unknown"}, format="json")

    response = api.patch(detail(lead), {"lead_status": None}, format="json")

    assert response.status_code == 400
    assert "lead_status" in response.json()["error"]["fields"]


def test_history_and_modified_date_are_read_only(api, workspace):
    lead = LeadFactory(workspace=workspace)
    forged = [{"value": "Opportunity", "changed_at": "2020-01-01T00:00:00Z"}]

    response = api.patch(
        detail(lead),
        {"lead_status_history": forged, "sentiment_history": forged, "modified_date": "2020-01-01T00:00:00Z"},
        format="json",
    )

    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.lead_status_history, lead.sentiment_history) == ([], [])
    assert lead.modified_date.year != 2020


def test_put_updates_the_fields_sent(api, workspace):
    lead = LeadFactory(workspace=workspace, city="Oslo")

    response = api.put(detail(lead), {"name": "Renamed", "business_email": "new@example.com"}, format="json")

    assert response.status_code == 200, response.json()
    lead.refresh_from_db()
    assert (lead.name, lead.business_email) == ("Renamed", "new@example.com")


def test_delete_lead(api, workspace):
    lead = LeadFactory(workspace=workspace)

    response = api.delete(detail(lead))

    assert response.status_code == 204
    assert not Lead.objects.filter(pk=lead.pk).exists()


def test_invalid_and_duplicate_emails_are_400s(api, workspace):
    LeadFactory(workspace=workspace, business_email="taken@example.com")

    invalid = api.post(LEADS, {"business_email": "not an email"}, format="json")
    duplicate = api.post(LEADS, {"business_email": "TAKEN@example.com"}, format="json")

    assert invalid.status_code == 400
    assert list(invalid.json()["error"]["fields"]) == ["business_email"]
    assert duplicate.status_code == 400
    assert "already has business_email" in duplicate.json()["error"]["fields"]["business_email"][0]


def test_the_same_business_email_is_fine_in_another_workspace(api, other_workspace):
    LeadFactory(workspace=other_workspace, business_email="shared@example.com")

    response = api.post(LEADS, {"business_email": "shared@example.com"}, format="json")

    assert response.status_code == 201


class TestCustomFields:
    @pytest.fixture(autouse=True)
    def definitions(self, workspace):
        for key, type_ in [
            ("seats", "number"),
            ("renewal", "date"),
            ("trial", "boolean"),
            ("stack", "list"),
            ("note", "text"),
        ]:
            CustomFieldFactory(workspace=workspace, key=key, type=type_)

    def test_typed_values_are_stored(self, api):
        values = {"seats": 12.5, "renewal": "2026-12-01", "trial": True, "stack": ["django"], "note": "hi"}

        response = api.post(LEADS, {"custom_fields": values}, format="json")

        assert response.status_code == 201, response.json()
        assert Lead.objects.get(pk=response.json()["id"]).custom_fields == values

    def test_an_unknown_key_is_a_400_naming_it(self, api):
        response = api.post(LEADS, {"custom_fields": {"seats": 3, "shoe_size": 44}}, format="json")

        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]["custom_fields"]) == ["shoe_size"]

    @pytest.mark.parametrize(
        "key, bad_value",
        [
            ("seats", "twelve"),
            ("seats", True),
            ("renewal", "next week"),
            ("trial", "yes"),
            ("stack", "django"),
            ("stack", [1, 2]),
            ("note", 5),
        ],
    )
    def test_a_value_of_the_wrong_type_is_a_400_naming_the_key(self, api, key, bad_value):
        response = api.post(LEADS, {"custom_fields": {key: bad_value}}, format="json")

        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]["custom_fields"]) == [key]

    def test_patch_merges_and_null_removes_a_key(self, api, workspace):
        lead = LeadFactory(workspace=workspace, custom_fields={"seats": 3, "note": "keep me", "trial": False})

        response = api.patch(detail(lead), {"custom_fields": {"seats": 4, "trial": None}}, format="json")

        assert response.status_code == 200, response.json()
        lead.refresh_from_db()
        assert lead.custom_fields == {"seats": 4, "note": "keep me"}

    def test_a_key_of_another_workspace_is_unknown(self, api, other_workspace):
        CustomFieldFactory(workspace=other_workspace, key="secret_score", type="number")

        response = api.post(LEADS, {"custom_fields": {"secret_score": 1}}, format="json")

        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]["custom_fields"]) == ["secret_score"]


def test_retrieve_shows_the_thread_oldest_first(api, workspace):
    lead = LeadFactory(workspace=workspace)
    campaign = CampaignFactory(workspace=workspace, name="Spring")
    now = datetime.datetime(2026, 5, 1, 12, tzinfo=datetime.UTC)
    newer = MessageFactory(lead=lead, date=now, subject="Re: hello", type="inbound")
    older = MessageFactory(
        lead=lead, date=now - datetime.timedelta(days=1), campaign=campaign, campaign_step=1
    )

    response = api.get(detail(lead))

    assert response.status_code == 200
    assert response.json()["messages"] == [older.as_thread_entry(), newer.as_thread_entry()]
    assert response.json()["messages"][0]["campaign"] == "Spring"
    assert "messages" not in api.get(LEADS).json()["results"][0]


class TestListFilters:
    @pytest.fixture
    def leads(self, workspace):
        campaign = CampaignFactory(workspace=workspace)
        a_list = ListFactory(workspace=workspace)
        in_campaign = LeadFactory(workspace=workspace, name="Grace Hopper", company_name="Navy")
        in_campaign.campaigns.add(campaign)
        in_list = LeadFactory(
            workspace=workspace, name="Alan Turing", business_email="alan@bletchley.example"
        )
        in_list.lists.add(a_list)
        return {"campaign": campaign, "list": a_list, "in_campaign": in_campaign, "in_list": in_list}

    def names(self, api, query):
        response = api.get(LEADS, query)
        assert response.status_code == 200, response.json()
        return {lead["name"] for lead in response.json()["results"]}

    def test_filter_by_campaign_list_and_search(self, api, leads):
        assert self.names(api, {"campaign": leads["campaign"].pk}) == {"Grace Hopper"}
        assert self.names(api, {"list": leads["list"].pk}) == {"Alan Turing"}
        assert self.names(api, {"search": "navy"}) == {"Grace Hopper"}
        assert self.names(api, {"search": "BLETCHLEY"}) == {"Alan Turing"}

    def test_filter_by_status(self, api, leads):
        api.patch(detail(leads["in_list"]), {"lead_status": "Hard Bounce"}, format="json")

        assert self.names(api, {"status": "Hard Bounce"}) == {"Alan Turing"}

    @pytest.mark.parametrize(
        "parameter, value",
        [("status", "Hot"), ("list", "abc"), ("campaign", "-1"), ("list", "³"), ("campaign", "9" * 30)],
    )
    def test_a_malformed_filter_is_a_400_naming_it(self, api, parameter, value):
        response = api.get(LEADS, {parameter: value})

        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == [parameter]


class TestWorkspaceResolution:
    def test_a_member_of_several_workspaces_must_name_one(self, member, other_workspace):
        MembershipFactory(workspace=other_workspace, user=member)
        api = signed_in(member)

        unnamed = api.post(LEADS, {"name": "X"}, format="json")
        by_slug = api.post(LEADS, {"name": "X", "workspace": "globex"}, format="json")
        by_id = api.post(LEADS, {"name": "Y", "workspace": other_workspace.pk}, format="json")

        assert unnamed.status_code == 400
        assert "several workspaces" in unnamed.json()["error"]["fields"]["workspace"][0]
        assert (by_slug.status_code, by_slug.json()["workspace"]) == (201, "globex")
        assert (by_id.status_code, by_id.json()["workspace"]) == (201, "globex")

    def test_workspace_query_parameter_narrows_a_list(self, member, workspace, other_workspace):
        MembershipFactory(workspace=other_workspace, user=member)
        LeadFactory(workspace=workspace, name="In acme")
        LeadFactory(workspace=other_workspace, name="In globex")

        response = signed_in(member).get(LEADS, {"workspace": "globex"})

        assert [lead["name"] for lead in response.json()["results"]] == ["In globex"]

    def test_a_workspace_reference_that_is_not_ascii_digits_is_not_found(self, api):
        response = api.post(LEADS, {"name": "X", "workspace": "³"}, format="json")

        assert response.status_code == 400
        assert "does not exist" in response.json()["error"]["fields"]["workspace"][0]

    def test_a_lead_cannot_move_to_another_workspace(self, member, workspace, other_workspace):
        MembershipFactory(workspace=other_workspace, user=member)
        lead = LeadFactory(workspace=workspace)

        response = signed_in(member).patch(detail(lead), {"workspace": "globex"}, format="json")

        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == ["workspace"]

    def test_a_superuser_sees_every_workspace(self, workspace, other_workspace):
        LeadFactory(workspace=workspace)
        LeadFactory(workspace=other_workspace)
        admin = UserFactory(is_superuser=True)

        response = signed_in(admin).get(LEADS)

        assert response.json()["count"] == 2

    def test_a_user_of_no_workspace_is_refused(self):
        response = signed_in(UserFactory()).get(LEADS)

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"


def test_an_update_never_overwrites_a_status_changed_since_the_lead_was_read(member, workspace):
    """The API writes only the fields sent, so a stale copy cannot revert a concurrent change."""
    lead = LeadFactory(workspace=workspace)
    stale_copy = Lead.objects.get(pk=lead.pk)
    lead_set_status(lead=lead, status="Opportunity")
    request = Request(APIRequestFactory().patch("/"))
    request.user = member

    serializer = LeadSerializer(stale_copy, data={"city": "Lyon"}, partial=True, context={"request": request})
    assert serializer.is_valid(), serializer.errors
    serializer.save()

    lead.refresh_from_db()
    assert (lead.city, lead.lead_status) == ("Lyon", "Opportunity")
