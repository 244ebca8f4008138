"""Mapping that real payloads need: bracket-aware selectors, fallback and combining rows,
transforms, clear-on-empty, phones in E.164, and the preview's steps."""

import pytest
from django.urls import reverse

from leads.models import Lead, LeadStatus
from tests.factories import CustomFieldFactory, FieldMappingFactory, LeadFactory, operator_of
from webhooks.inbound.mapping import MISSING, resolve, split_path
from webhooks.inbound.models import FieldMapping, mapping_errors
from webhooks.inbound.transforms import TransformContext, TransformError, steps_apply, steps_from_text

from .conftest import Sender, make_webhook

TYPEFORM = {
    "form_response": {
        "answers": [
            {"type": "text", "text": "Grace", "field": {"id": "JwWggjAKtOkA", "type": "short_text"}},
            {"type": "text", "text": "Hopper", "field": {"id": "SMEUb7VJz92Q", "type": "short_text"}},
            {"type": "email", "email": "grace@navy.example", "field": {"id": "Em41lF13ld", "type": "email"}},
        ]
    }
}


def apply(value, text, document=None, region=""):
    context = TransformContext(document=document, phone_region=region, resolve=resolve)
    return steps_apply(value, steps_from_text(text), context)[0]


def receive(webhook, secret, body):
    response = Sender(webhook, secret).post(body)
    assert response.status_code in (200, 201), response.json()
    return Lead.objects.get(pk=response.json()["lead_id"]), response.json()


def row(webhook, field, source_path="", **kwargs):
    return FieldMappingFactory(webhook=webhook, field=field, source_path=source_path, **kwargs)


# --- Paths and selectors -----------------------------------------------------------------


def test_a_slash_inside_brackets_does_not_split_the_path():
    assert split_path("answers/[field/id=JwWggjAKtOkA]/text") == [
        "answers",
        "[field/id=JwWggjAKtOkA]",
        "text",
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("form_response/answers/[field/id=JwWggjAKtOkA]/text", "Grace"),
        ("form_response/answers/[field/id=SMEUb7VJz92Q]/text", "Hopper"),
        ("form_response/answers/[type=email]/email", "grace@navy.example"),
        ("form_response/answers/[type!=text]/email", "grace@navy.example"),
        ("form_response/answers/[field/type!=short_text]/field/id", "Em41lF13ld"),
    ],
)
def test_selectors_test_nested_keys_and_inequality(path, expected):
    assert resolve(TYPEFORM, path) == expected


def test_a_selector_on_a_nested_key_no_element_has_is_missing():
    assert resolve(TYPEFORM, "form_response/answers/[field/id=nope]/text") is MISSING
    assert resolve(TYPEFORM, "form_response/answers/[field=x]/text") is MISSING  # an object is never equal


# --- Transforms --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "steps", "expected"),
    [
        ("  Ada  ", "trim", "Ada"),
        ("Ada LOVELACE", "lower", "ada lovelace"),
        ("ada", "upper", "ADA"),
        ("ada lovelace", "title", "Ada Lovelace"),
        ("option_1;option2", "split ;", ["option_1", "option2"]),
        ("a, b,,c", "split", ["a", "b", "c"]),
        (["a", "b"], 'join " / "', "a / b"),
        (["a", "", "b"], "join", "a, b"),
        ("Ada King Lovelace", "first_name_of", "Ada"),
        ("Ada King Lovelace", "last_name_of", "King Lovelace"),
        ("Cher", "last_name_of", ""),
        ("", "default Web form", "Web form"),
        ("given", "default Web form", "given"),
        ("anything", "constant 42", 42),
        ("31/12/2024", "date %d/%m/%Y", "2024-12-31"),
        ("31/12/2024 17:05", "date %d/%m/%Y %H:%M", "2024-12-31T17:05:00"),
        ("closedwon", 'map {"closedwon": "Opportunity", "closedlost": "Not Interested"}', "Opportunity"),
        ("  CLOSEDLOST ", 'map {"closedlost": "Not Interested"}', "Not Interested"),
        ("yes", 'map {"yes": true}', True),
        ("unknown", 'map {"yes": true}', "unknown"),
        ("Order #12345 paid", r"regex #(\d+)", "12345"),
        ("no digits", r"regex \d+", None),
        ("  Option_1 ; option2 ", "split ;\ntrim\nlower", ["option_1", "option2"]),
    ],
)
def test_each_transform_is_a_pure_function_of_the_value(value, steps, expected):
    assert apply(value, steps) == expected


def test_phone_e164_uses_the_argument_or_the_webhook_region():
    assert apply("+1 555 0100", "phone_e164") == "+15550100"
    assert apply("020 7946 0018", "phone_e164 GB") == "+442079460018"
    assert apply("(555) 555-0100", "phone_e164", region="US") == "+15555550100"


def test_phone_e164_refuses_a_national_number_without_a_region():
    with pytest.raises(TransformError, match=r"step 1 \(phone_e164\).*without a country code"):
        apply("555 0100", "phone_e164")


def test_template_reads_source_paths_and_the_value():
    document = {"first": "Ada", "last": "Lovelace", "contact": {"city": "London"}}
    assert apply(None, "template {first} {last}", document) == "Ada Lovelace"
    assert apply("x", "template {value} from {contact/city}", document) == "x from London"
    assert apply(None, "template {first} {middle} {last}", document) == "Ada Lovelace"


def test_a_date_that_does_not_match_its_format_names_the_step():
    with pytest.raises(TransformError, match=r"step 2 \(date\): “2024-12-31” does not match"):
        apply(" 2024-12-31", "trim\ndate %d/%m/%Y")


# --- Validation: one rule, naming the row and the problem ----------------------------------


@pytest.mark.parametrize(
    ("transforms", "message"),
    [
        ([{"op": "explode"}], "Transform step 1 (explode): unknown operation"),
        ([{"op": "trim", "arg": "x"}], "Transform step 1 (trim): takes no argument"),
        ([{"op": "trim"}, {"op": "map"}], "Transform step 2 (map): needs an argument"),
        ([{"op": "map", "arg": "won"}], "Transform step 1 (map): needs an object"),
        ([{"op": "regex", "arg": "(a+)+$"}], "can take forever"),
        ([{"op": "regex", "arg": "x" * 201}], "maximum is 200"),
        ([{"op": "regex", "arg": "("}], "not a valid regular expression"),
        ([{"op": "phone_e164", "arg": "ZZ"}], "not a two-letter country code"),
        ([{"op": "date", "arg": "dd/mm"}], "strptime format"),
        ([{"op": "template", "arg": "{first!r}"}], "no “:” or “!”"),
        ("trim", "must be a list"),
    ],
)
def test_mapping_errors_name_the_bad_transform_step(transforms, message):
    rows = [("business_email", "email"), ("first_name", "name", "first", transforms)]

    errors = mapping_errors(rows=rows)["rows"]

    assert errors[0] == {}
    assert message in " ".join(errors[1]["transforms"])


def test_a_row_without_a_path_needs_a_transform_that_makes_the_value():
    errors = mapping_errors(
        rows=[
            ("lead_source", "", "first", [{"op": "constant", "arg": "Webflow"}]),
            ("first_name", "", "first", [{"op": "trim"}]),
            ("last_name", "a | / "),
        ]
    )["rows"]

    assert errors[0] == {}
    assert "at least one key" in errors[1]["source_path"][0]
    assert "at least one key" in errors[2]["source_path"][0]


def test_status_and_relations_cannot_be_set_to_clear():
    errors = mapping_errors(
        rows=[("lead_status", "stage", "first", [], True), ("city", "city", "first", [], True)]
    )

    assert "can't be cleared" in errors["rows"][0]["clear_when_empty"][0]
    assert errors["rows"][1] == {}


# --- Rows at the endpoint ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_first_non_empty_path_of_a_row_wins(workspace, secret):
    webhook = make_webhook(workspace, [("business_email", "email | contact/email")])

    lead, body = receive(webhook, secret, {"email": "", "contact": {"email": "b@example.com"}})

    assert lead.business_email == "b@example.com"
    assert body["missing_paths"] == []


@pytest.mark.django_db
def test_a_combining_row_joins_two_answers_into_one_field(workspace, secret):
    webhook = make_webhook(workspace, [("business_email", "email")])
    row(
        webhook,
        "name",
        "first | last",
        combine=FieldMapping.Combine.ALL,
        transforms=[{"op": "join", "arg": " "}],
    )
    row(webhook, "tags", "interest | source | missing", combine=FieldMapping.Combine.ALL)

    lead, body = receive(
        webhook,
        secret,
        {
            "email": "a@example.com",
            "first": "Ada",
            "last": "Lovelace",
            "interest": ["AI", "Math"],
            "source": "ads",
        },
    )

    assert lead.name == "Ada Lovelace"
    assert lead.tags == ["AI", "Math", "ads"]
    assert body["missing_paths"] == []


@pytest.mark.django_db
def test_typeform_answers_by_field_id_and_a_split_full_name(workspace, secret):
    webhook = make_webhook(workspace, [("business_email", "form_response/answers/[type=email]/email")])
    row(webhook, "first_name", "form_response/answers/[field/id=JwWggjAKtOkA]/text")
    row(
        webhook,
        "name",
        "",
        transforms=[
            {"op": "template", "arg": "{form_response/answers/0/text} {form_response/answers/1/text}"}
        ],
    )
    row(webhook, "last_name", "full", transforms=[{"op": "last_name_of"}])

    lead, _ = receive(webhook, secret, {**TYPEFORM, "full": "Grace Brewster Hopper"})

    assert (lead.first_name, lead.last_name, lead.name) == ("Grace", "Brewster Hopper", "Grace Hopper")


@pytest.mark.django_db
def test_hubspot_multi_select_becomes_tags_and_a_stage_becomes_a_status(workspace, secret):
    webhook = make_webhook(workspace, [("business_email", "email")])
    row(webhook, "tags", "interests", transforms=[{"op": "split", "arg": ";"}])
    row(webhook, "lead_status", "dealstage", transforms=[{"op": "map", "arg": {"closedwon": "Opportunity"}}])

    lead, _ = receive(
        webhook, secret, {"email": "a@example.com", "interests": "option_1;option2", "dealstage": "closedwon"}
    )

    assert lead.tags == ["option_1", "option2"]
    assert lead.lead_status == LeadStatus.OPPORTUNITY


@pytest.mark.django_db
def test_a_transform_that_fails_is_a_warning_naming_the_row_and_the_lead_is_saved(workspace, secret):
    webhook = make_webhook(workspace, [("business_email", "email")])
    row(webhook, "created_date", "signed_up", transforms=[{"op": "date", "arg": "%d/%m/%Y"}])

    lead, body = receive(webhook, secret, {"email": "a@example.com", "signed_up": "tomorrow"})

    assert lead.business_email == "a@example.com"
    [warning] = body["warnings"]
    assert warning["field"] == "created_date" and warning["path"] == "signed_up"
    assert "step 1 (date)" in warning["message"]


# --- Clearing ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_empty_value_clears_a_field_only_on_rows_that_say_so(workspace, secret):
    CustomFieldFactory(workspace=workspace, key="score", type="number")
    LeadFactory(
        workspace=workspace,
        business_email="a@example.com",
        city="Paris",
        state="IDF",
        tags=["x"],
        custom_fields={"score": 3},
    )
    webhook = make_webhook(workspace, [("business_email", "email"), ("state", "state")])
    row(webhook, "city", "city", clear_when_empty=True)
    row(webhook, "tags", "tags", clear_when_empty=True)
    row(webhook, "score", "score", clear_when_empty=True)
    row(webhook, "job_title", "title", clear_when_empty=True)

    lead, _ = receive(
        webhook, secret, {"email": "a@example.com", "city": "", "state": "", "tags": [], "score": None}
    )

    assert (lead.city, lead.state, lead.tags) == ("", "IDF", [])
    assert lead.custom_fields["score"] is None


@pytest.mark.django_db
def test_a_missing_key_never_clears_the_field(workspace, secret):
    LeadFactory(workspace=workspace, business_email="a@example.com", city="Paris")
    webhook = make_webhook(workspace, [("business_email", "email")])
    row(webhook, "city", "city", clear_when_empty=True)

    lead, _ = receive(webhook, secret, {"email": "a@example.com"})

    assert lead.city == "Paris"


# --- Phones --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_two_spellings_of_one_phone_dedupe_to_one_lead(workspace, secret):
    webhook = make_webhook(
        workspace, [("mobile_phone", "phone"), ("first_name", "name")], dedupe_field="mobile_phone"
    )

    first, created = receive(webhook, secret, {"phone": "+1 555 0100", "name": "Ada"})
    second, updated = receive(webhook, secret, {"phone": "+15550100", "name": "Grace"})

    assert first.pk == second.pk and Lead.objects.count() == 1
    assert (created["created"], updated["created"]) == (True, False)
    assert second.mobile_phone == "+15550100" and second.first_name == "Grace"


@pytest.mark.django_db
def test_national_numbers_dedupe_with_the_webhooks_default_region(workspace, secret):
    webhook = make_webhook(
        workspace, [("mobile_phone", "phone")], dedupe_field="mobile_phone", default_phone_region="GB"
    )

    first, _ = receive(webhook, secret, {"phone": "020 7946 0018"})
    second, _ = receive(webhook, secret, {"phone": "+44 20 7946 0018"})

    assert first.pk == second.pk
    assert second.mobile_phone == "+442079460018"


@pytest.mark.django_db
def test_a_phone_that_is_not_a_readable_number_is_kept_as_sent(workspace, secret):
    webhook = make_webhook(workspace, [("business_email", "email"), ("office_phone", "phone")])

    lead, body = receive(webhook, secret, {"email": "a@example.com", "phone": "555 0100 ext. 12"})

    assert lead.office_phone == "555 0100 ext. 12"
    assert body["warnings"] == []


# --- Preview -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_preview_shows_each_transform_steps_result(client, workspace):
    client.force_login(operator_of(workspace))
    webhook = make_webhook(workspace, [("business_email", "email")])
    row(webhook, "tags", "interests", transforms=[{"op": "split", "arg": ";"}, {"op": "upper"}])

    response = client.post(
        reverse("admin:inbound_inboundwebhook_preview", args=[webhook.pk]),
        {"body": '{"email": "a@example.com", "interests": "ai;math"}'},
    )

    content = response.content.decode()
    assert "<code>from interests</code> → ai;math" in content
    assert "<code>split ;</code> → [&quot;ai&quot;, &quot;math&quot;]" in content
    assert "<code>upper</code> → [&quot;AI&quot;, &quot;MATH&quot;]" in content
    assert "<code>stored as</code> → [&quot;AI&quot;, &quot;MATH&quot;]" in content


# --- The admin editor ----------------------------------------------------------------------


def editor_post(client, workspace, **row):
    data = {
        "workspace": workspace.pk,
        "name": "HubSpot",
        "dedupe_field": "business_email",
        "is_active": "on",
        "default_phone_region": "US",
        "mappings-TOTAL_FORMS": "2",
        "mappings-INITIAL_FORMS": "0",
        "mappings-MIN_NUM_FORMS": "0",
        "mappings-MAX_NUM_FORMS": "1000",
        "mappings-0-field": "business_email",
        "mappings-0-source_path": "email | properties/email/value",
    }
    data.update({f"mappings-1-{name}": value for name, value in row.items()})
    return client.post(reverse("admin:inbound_inboundwebhook_add"), data)


@pytest.mark.django_db
def test_the_editor_saves_transform_lines_as_steps_and_shows_them_back(client, workspace):
    client.force_login(operator_of(workspace))

    editor_post(
        client,
        workspace,
        field="tags",
        source_path="interests",
        combine="first",
        transforms='split ;\ntrim\nmap {"option_1": "Pricing"}',
        clear_when_empty="on",
    )

    saved = FieldMapping.objects.get(field="tags")
    assert saved.transforms == [
        {"op": "split", "arg": ";"},
        {"op": "trim"},
        {"op": "map", "arg": {"option_1": "Pricing"}},
    ]
    assert saved.clear_when_empty and saved.webhook.default_phone_region == "US"
    page = client.get(
        reverse("admin:inbound_inboundwebhook_change", args=[saved.webhook.pk])
    ).content.decode()
    assert "split ;\ntrim\nmap {&quot;option_1&quot;: &quot;Pricing&quot;}" in page


@pytest.mark.django_db
def test_the_editor_refuses_a_bad_step_and_names_it(client, workspace):
    client.force_login(operator_of(workspace))

    response = editor_post(
        client, workspace, field="tags", source_path="interests", transforms="split ;\nexplode"
    )

    assert response.status_code == 200
    assert "Transform step 2 (explode): unknown operation" in response.content.decode()
    assert not FieldMapping.objects.exists()
