"""A batch written set-based: duplicates, failures among good records, concurrent single posts."""

import threading

import pytest

from leads.events import lead_statuses_changed
from leads.models import Lead
from tests.factories import CustomFieldFactory, LeadFactory, ListFactory

from .conftest import Sender, make_webhook
from .test_contention import ext_workspace  # noqa: F401  (fixture)
from .test_limits_and_concurrency import post_with_retries

MAPPINGS = [
    ("business_email", "email"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("life_cycle", "stage"),
    ("lead_status", "status"),
    ("campaigns", "campaign"),
    ("ext", "ext"),
]


@pytest.fixture
def batch_sender(workspace, secret):
    CustomFieldFactory(workspace=workspace, key="ext")
    return Sender(make_webhook(workspace, MAPPINGS, target_list=ListFactory(workspace=workspace)), secret)


@pytest.mark.django_db
def test_a_later_duplicate_in_a_batch_updates_the_lead_an_earlier_record_created(batch_sender):
    batches = []
    lead_statuses_changed.connect(receiver := lambda sender, events, **kwargs: batches.append(events))
    try:
        response = batch_sender.post(
            [
                {"email": "ada@example.com", "first_name": "Ada", "stage": "Lead", "status": "Follow Up"},
                {"email": "bob@example.com", "first_name": "Bob", "campaign": "Spring"},
                {
                    "email": "ADA@example.com",
                    "last_name": "Lovelace",
                    "stage": "Customer",
                    "status": "Meeting Booked",
                },
            ]
        )
    finally:
        lead_statuses_changed.disconnect(receiver)

    body = response.json()
    assert [(result["status"], result["created"]) for result in body["results"]] == [
        (201, True),
        (201, True),
        (200, False),
    ]
    assert body["results"][0]["lead_id"] == body["results"][2]["lead_id"]
    ada = Lead.objects.get(business_email="ada@example.com")
    assert (ada.first_name, ada.last_name, ada.lead_status) == ("Ada", "Lovelace", "Meeting Booked")
    assert [entry["value"] for entry in ada.life_cycle_history] == ["Lead", "Customer"]
    assert [entry["value"] for entry in ada.lead_status_history] == ["Follow Up", "Meeting Booked"]
    assert [[event.new_status for event in batch] for batch in batches] == [["Follow Up"], ["Meeting Booked"]]
    bob = Lead.objects.get(business_email="bob@example.com")
    assert list(bob.campaigns.values_list("name", flat=True)) == ["Spring"]
    assert bob.lists.get() == batch_sender.webhook.target_list
    assert Lead.objects.count() == 2


@pytest.mark.django_db
def test_a_failed_record_among_good_ones_fails_alone(workspace, secret):
    # Given a webhook deduping on `ext`, and a lead holding the business email one record wants
    CustomFieldFactory(workspace=workspace, key="ext")
    sender = Sender(make_webhook(workspace, MAPPINGS, dedupe_field="ext"), secret)
    LeadFactory(workspace=workspace, business_email="taken@example.com", custom_fields={"ext": "OTHER"})
    stored = LeadFactory(workspace=workspace, business_email="old@example.com", custom_fields={"ext": "E2"})

    # When a batch mixes good records, a record without its dedupe value and that one
    response = sender.post(
        [
            {"ext": "E1", "email": "new@example.com", "first_name": "New"},
            {"ext": "E2", "email": "moved@example.com", "first_name": "Moved"},
            {"email": "nodedupe@example.com"},
            {"ext": "E3", "email": "taken@example.com"},
            {"ext": "E4", "email": "new@example.com"},  # the email E1 just took
        ]
    )

    # Then each failure is its own 422 naming the field, and the good records are saved
    body = response.json()
    assert [result["status"] for result in body["results"]] == [201, 200, 422, 422, 422]
    assert [result["errors"][0]["field"] for result in body["results"][2:]] == [
        "ext",
        "business_email",
        "business_email",
    ]
    stored.refresh_from_db()
    assert (stored.business_email, stored.first_name) == ("moved@example.com", "Moved")
    assert Lead.objects.get(custom_fields__ext="E1").business_email == "new@example.com"
    assert not Lead.objects.filter(custom_fields__ext__in=["E3", "E4"]).exists()


@pytest.mark.production_services
def test_a_batch_and_single_posts_of_the_same_emails_at_once_make_one_lead_per_email(
    live_server,
    ext_workspace,  # noqa: F811
):
    workspace, secret = ext_workspace
    webhook = make_webhook(workspace, MAPPINGS, name="Mixed")
    url = f"{live_server.url}/webhooks/{webhook.public_id}"
    emails = [f"race{n:03}@example.com" for n in range(60)]
    statuses, errors = [], []
    barrier = threading.Barrier(7)

    def batch():
        barrier.wait()
        response = post_with_retries(
            url, [{"email": email, "first_name": "Batch"} for email in emails], secret
        )
        statuses.append(response.status_code)
        body = response.json()
        if body["failed"]:
            errors.append(body)

    def singles(offset):
        barrier.wait()
        for email in emails[offset::6]:
            statuses.append(
                post_with_retries(url, {"email": email, "first_name": "Single"}, secret).status_code
            )

    threads = [threading.Thread(target=batch)] + [
        threading.Thread(target=singles, args=(n,)) for n in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    assert set(statuses) <= {200, 201}, statuses
    assert Lead.objects.filter(workspace=workspace).count() == len(emails)
