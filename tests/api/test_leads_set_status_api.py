"""`POST /api/v1/leads/set-status/`: many leads, one call, through the status service."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadengine.models import ApiKeyScope
from leadengine.services import api_key_create
from leads.models import Lead, LeadStatus
from tests.factories import LeadFactory, ListFactory

from .conftest import bearer

pytestmark = pytest.mark.django_db
URL = "/api/v1/leads/set-status/"


def test_ids_get_the_status_and_their_history(key_api, workspace):
    leads = LeadFactory.create_batch(3, workspace=workspace)

    response = key_api.post(
        URL, {"status": "Opportunity", "ids": [lead.pk for lead in leads[:2]]}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "Opportunity", "matched": 2, "changed": 2}
    assert sorted(Lead.objects.filter(lead_status="Opportunity").values_list("pk", flat=True)) == [
        lead.pk for lead in leads[:2]
    ]
    assert Lead.objects.get(pk=leads[0].pk).lead_status_history[0]["value"] == "Opportunity"


def queries_to_set(key_api, body):
    with CaptureQueriesContext(connection) as queries:
        response = key_api.post(URL, body, format="json")
    assert response.status_code == 200, response.json()
    return len(queries)


@pytest.mark.parametrize("by", ["ids", "filter"])
def test_the_same_queries_for_3_or_30_leads(key_api, workspace, by):
    """The leads are loaded once, with only what the status service needs: reading any other
    field of one would cost a query per lead."""
    counts = []  # the first call also stamps the key's last use: not counted
    for count, status in ((1, "Unknown"), (3, "Opportunity"), (30, "Follow Up")):
        a_list = ListFactory(workspace=workspace)
        leads = LeadFactory.create_batch(count, workspace=workspace)
        a_list.leads.add(*leads)
        selector = {"ids": [lead.pk for lead in leads]} if by == "ids" else {"filter": {"list": a_list.pk}}
        counts.append(queries_to_set(key_api, {"status": status, **selector}))

    assert counts[1] == counts[2], counts


def test_a_filter_selects_the_leads_of_a_list(key_api, workspace):
    a_list = ListFactory(workspace=workspace)
    listed = LeadFactory(workspace=workspace)
    listed.lists.add(a_list)
    LeadFactory(workspace=workspace)

    response = key_api.post(URL, {"status": "Follow Up", "filter": {"list": a_list.pk}}, format="json")

    assert response.json() == {"status": "Follow Up", "matched": 1, "changed": 1}
    assert list(Lead.objects.filter(lead_status=LeadStatus.FOLLOW_UP)) == [listed]


def test_another_workspaces_lead_is_a_400_naming_its_id(key_api, other_workspace):
    foreign = LeadFactory(workspace=other_workspace)

    response = key_api.post(URL, {"status": "Opportunity", "ids": [foreign.pk]}, format="json")

    assert response.status_code == 400
    assert str(foreign.pk) in str(response.json())
    assert Lead.objects.get(pk=foreign.pk).lead_status is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "Opportunity"}, "ids"),
        ({"status": "Opportunity", "ids": [1], "filter": {}}, "ids"),
        ({"status": "Hot", "ids": [1]}, "status"),
        ({"status": "Opportunity", "filter": {"status": "Hot"}}, "filter"),
        ({"status": "Opportunity", "ids": list(range(1, 10_002))}, "ids"),
    ],
)
def test_bad_bodies_are_400_json_naming_the_field(key_api, body, field):
    response = key_api.post(URL, body, format="json")

    assert response.status_code == 400
    assert field in str(response.json())


def test_a_key_without_api_write_is_refused(workspace):
    _key, secret = api_key_create(workspace=workspace, name="reader", scopes=[ApiKeyScope.API_READ])
    lead = LeadFactory(workspace=workspace)

    response = bearer(secret).post(URL, {"status": "Opportunity", "ids": [lead.pk]}, format="json")

    assert response.status_code == 403
    assert ApiKeyScope.API_WRITE in str(response.json())
