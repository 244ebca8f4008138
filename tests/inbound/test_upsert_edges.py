import pytest

from leads.models import Lead
from tests.factories import LeadFactory

from .conftest import Sender, make_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def phone_sender(workspace, secret):
    webhook = make_webhook(
        workspace,
        mappings=[("mobile_phone", "phone"), ("business_email", "contact/email"), ("city", "city")],
        dedupe_field="mobile_phone",
    )
    return Sender(webhook, secret)


def test_a_new_record_whose_email_belongs_to_another_lead_is_a_422_naming_field_and_path(
    phone_sender, workspace
):
    LeadFactory(workspace=workspace, business_email="taken@example.com", mobile_phone="111")

    response = phone_sender.post({"phone": "222", "contact": {"email": "Taken@example.com"}})

    assert response.status_code == 422
    assert response["Content-Type"] == "application/json"
    [error] = response.json()["errors"]
    assert (error["field"], error["path"]) == ("business_email", "contact/email")
    assert Lead.objects.count() == 1


def test_an_update_taking_another_leads_email_is_a_422_and_changes_nothing(phone_sender, workspace):
    LeadFactory(workspace=workspace, business_email="taken@example.com", mobile_phone="111")
    other = LeadFactory(
        workspace=workspace, business_email="mine@example.com", mobile_phone="222", city="Oslo"
    )

    response = phone_sender.post({"phone": "222", "contact": {"email": "taken@example.com"}, "city": "Rome"})

    assert response.status_code == 422
    other.refresh_from_db()
    assert (other.business_email, other.city) == ("mine@example.com", "Oslo")


def test_blank_form_fields_are_no_value_not_an_error(workspace, secret):
    webhook = make_webhook(
        workspace,
        mappings=[("business_email", "email"), ("number_of_employees", "employees"), ("city", "city")],
    )
    sender = Sender(webhook, secret)
    sender.post({"email": "ada@example.com", "city": "Lisbon"})

    response = sender.post("email=ada%40example.com&employees=&city=", "application/x-www-form-urlencoded")

    assert response.status_code == 200, response.json()
    lead = Lead.objects.get()
    assert (lead.number_of_employees, lead.city) == (None, "Lisbon")


def test_another_workspaces_key_is_answered_exactly_like_a_wrong_key(sender):
    from leadengine.services import api_key_create
    from tests.factories import WorkspaceFactory

    _key, foreign_secret = api_key_create(workspace=WorkspaceFactory(), name="Elsewhere")

    foreign = sender.post({"email": "a@example.com"}, secret=foreign_secret)
    wrong = sender.post({"email": "a@example.com"}, secret=foreign_secret[:-4] + "abcd")

    assert foreign.status_code == wrong.status_code == 401
    assert foreign.json() == wrong.json()
    assert Lead.objects.count() == 0
