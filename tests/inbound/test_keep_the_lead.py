"""Receive Data keeps the lead: only the dedupe field must be valid; any other value that
can't be used is skipped and reported as a warning, unless the webhook is strict. Values are
read the way a person would read them (a website without a scheme, `$1,200`, `Checked`)."""

import json

import pytest

from leads.models import Lead
from tests.factories import CustomFieldFactory, LeadFactory
from webhooks.inbound.models import FieldMapping, InboundRequest

from .conftest import make_webhook

pytestmark = pytest.mark.django_db

TALLY_MAPPINGS = (
    ("business_email", "email"),
    ("first_name", "first_name"),
    ("website", "website"),
    ("number_of_employees", "employees"),
)


@pytest.fixture
def webhook(workspace):
    return make_webhook(workspace, mappings=TALLY_MAPPINGS)


def map_custom(webhook, key, field_type):
    CustomFieldFactory(workspace=webhook.workspace, key=key, type=field_type)
    FieldMapping.objects.create(webhook=webhook, field=key, source_path=key)


def test_website_without_a_scheme_is_saved_as_an_https_url(sender):
    response = sender.post({"email": "ada@example.com", "website": "example.com"})

    assert response.status_code == 201
    assert response.json()["warnings"] == []
    assert Lead.objects.get().website == "https://example.com"


def test_number_field_holding_n_a_is_skipped_with_a_warning_and_the_lead_is_saved(sender):
    response = sender.post({"email": "ada@example.com", "first_name": "Ada", "employees": "n/a"})

    assert response.status_code == 201
    body = response.json()
    assert body["warnings"] == [
        {
            "field": "number_of_employees",
            "path": "employees",
            "message": "number_of_employees (from employees): “n/a” is not a number.",
        }
    ]
    lead = Lead.objects.get(pk=body["lead_id"])
    assert (lead.first_name, lead.number_of_employees) == ("Ada", None)
    logged = InboundRequest.objects.get()
    assert (logged.status_code, logged.warnings) == (201, body["warnings"])


def test_a_skipped_value_leaves_the_stored_value_of_an_existing_lead(sender, workspace):
    lead = LeadFactory(workspace=workspace, business_email="ada@example.com", number_of_employees=40)

    response = sender.post({"email": "ada@example.com", "first_name": "Ada", "employees": "lots"})

    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.first_name, lead.number_of_employees) == ("Ada", 40)


def test_batch_record_with_a_bad_side_field_succeeds_with_warnings_in_its_result_and_the_log(sender):
    response = sender.post(
        [
            {"email": "ada@example.com", "employees": "12"},
            {"email": "bo@example.com", "employees": "n/a", "website": "not a url"},
        ]
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["failed"]) == (2, 0)
    first, second = body["results"]
    assert first["warnings"] == []
    assert [warning["field"] for warning in second["warnings"]] == ["website", "number_of_employees"]
    logged = InboundRequest.objects.get()
    assert [(warning["index"], warning["field"]) for warning in logged.warnings] == [
        (1, "website"),
        (1, "number_of_employees"),
    ]


def test_strict_webhook_rejects_the_record_with_422_as_before(sender):
    sender.webhook.strict = True
    sender.webhook.save()

    response = sender.post({"email": "ada@example.com", "employees": "n/a"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "number_of_employees"
    assert not Lead.objects.exists()


def test_strict_webhook_fails_only_the_bad_record_of_a_batch(sender):
    sender.webhook.strict = True
    sender.webhook.save()

    response = sender.post([{"email": "ada@example.com"}, {"email": "bo@example.com", "employees": "n/a"}])

    body = response.json()
    assert (body["created"], body["failed"]) == (1, 1)
    assert body["results"][1]["errors"][0]["field"] == "number_of_employees"


def test_an_invalid_dedupe_value_is_still_an_error_and_side_field_problems_come_as_warnings(sender):
    response = sender.post({"email": "not-an-email", "employees": "n/a"})

    assert response.status_code == 422
    body = response.json()
    assert [error["field"] for error in body["errors"]] == ["business_email"]
    assert [warning["field"] for warning in body["warnings"]] == ["number_of_employees"]
    assert not Lead.objects.exists()


def test_an_invalid_custom_dedupe_value_is_an_error(workspace, secret):
    from .conftest import Sender

    CustomFieldFactory(workspace=workspace, key="seats", type="number")
    webhook = make_webhook(workspace, mappings=(("seats", "seats"),), dedupe_field="seats")

    response = Sender(webhook, secret).post({"seats": "several"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "seats"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1,200", 1200), ("1 200", 1200), ("$1,200", 1200), ("€ 99", 99), ("1\u00a0200", 1200)],
)
def test_integers_with_thousands_separators_or_currency_signs_parse(sender, raw, expected):
    response = sender.post({"email": "ada@example.com", "employees": raw})

    assert response.json()["warnings"] == []
    assert Lead.objects.get().number_of_employees == expected


def test_custom_numbers_with_currency_and_separators_parse(sender):
    map_custom(sender.webhook, "deal_size", "number")

    sender.post({"email": "ada@example.com", "deal_size": "$1,200.50"})

    assert Lead.objects.get().custom_fields["deal_size"] == 1200.5


@pytest.mark.parametrize("raw", ["1,2", "1.200,50", "12 3"])
def test_ambiguous_number_formats_are_not_guessed(sender, raw):
    response = sender.post({"email": "ada@example.com", "employees": raw})

    assert response.json()["warnings"][0]["field"] == "number_of_employees"
    assert Lead.objects.get().number_of_employees is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Yes", True),
        ("no", False),
        ("Y", True),
        ("n", False),
        ("TRUE", True),
        ("false", False),
        ("On", True),
        ("off", False),
        ("1", True),
        ("0", False),
        ("Checked", True),
        ("unchecked", False),
    ],
)
def test_boolean_words_parse_case_insensitively(sender, raw, expected):
    map_custom(sender.webhook, "consent", "boolean")

    response = sender.post({"email": "ada@example.com", "consent": raw})

    assert response.json()["warnings"] == []
    assert Lead.objects.get().custom_fields["consent"] is expected


def test_unicode_and_punycode_forms_of_an_email_are_one_lead(sender):
    # bü.de is xn--b-eha.de (the xn--b-xga.de is bô.de, another domain).
    first = sender.post({"email": "Ada@Bü.de", "first_name": "Ada"})
    second = sender.post({"email": "ada@xn--b-eha.de", "first_name": "Ada L."})

    assert (first.status_code, second.status_code) == (201, 200)
    lead = Lead.objects.get()
    assert (lead.business_email, lead.first_name) == ("ada@xn--b-eha.de", "Ada L.")


def test_an_email_whose_punycode_domain_does_not_decode_is_refused(sender):
    response = sender.post({"email": "ada@xn--zzzz.de"})

    assert response.status_code == 422
    assert "internationalised domain" in response.json()["detail"]


def test_a_4301_digit_number_is_reported_in_our_words_and_the_lead_is_kept(sender):
    body = '{"email": "ada@example.com", "employees": ' + "1" * 4301 + "}"

    response = sender.post(body)

    assert response.status_code == 201
    assert b"set_int_max_str_digits" not in response.content
    [warning] = response.json()["warnings"]
    assert "out of range (a number of 4301 digits)" in warning["message"]
    assert len(warning["message"]) < 200  # the number is not echoed back


def test_a_4301_digit_number_in_a_form_body_is_reported_in_our_words(sender):
    response = sender.post(
        "email=ada%40example.com&employees=" + "9" * 4301, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 201
    assert "set_int_max_str_digits" not in json.dumps(response.json())
    assert "out of range" in response.json()["warnings"][0]["message"]
