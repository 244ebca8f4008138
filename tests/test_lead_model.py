import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import signals

from leads.catalogue import DEFAULT_FIELDS, FieldType
from leads.models import Lead, LeadStatus
from tests.factories import CampaignFactory, CustomFieldFactory, LeadFactory, ListFactory, MessageFactory

pytestmark = pytest.mark.django_db

ARTICLE_FIELDS = """about, business_email, campaigns, city, company_facebook, company_linkedin, company_name,
company_x, contact_owner, country, created_date, business_email, personal_email, email_bounce_status,
email_bounce_sub_status, email_provider, email_provider_type, email_subscription,
email_validation, first_name, gender, import_tags, industry, job_department,
job_title, last_contacted, last_email_click_date, last_email_open_date,
last_email_reply_date, last_name, lead_source, lead_status, lead_status_history,
lead_type, life_cycle, life_cycle_history, person_linkedin, linkedin_summary, lists,
mobile_phone, modified_date, name, number_of_email_clicks, number_of_email_opens,
number_of_email_replies, number_of_emails, number_of_employees,
number_of_phone_calls, number_of_sms_replies, number_of_sms_sent,
number_of_times_contacted, office_phone, person_facebook, person_x, phone_country,
phone_validation, postal_code, sentiment, sentiment_history, sms_subscription,
state, street_address, tags, time_zone, website, website_summary"""


def test_catalogue_lists_every_default_field_of_the_article_once():
    article = [key.strip() for key in ARTICLE_FIELDS.replace("\n", " ").split(",")]
    assert sorted(spec.key for spec in DEFAULT_FIELDS) == sorted(set(article))


def test_every_catalogue_field_is_a_typed_lead_column():
    column_types = {
        FieldType.INTEGER: {"PositiveIntegerField", "IntegerField"},
        FieldType.DATETIME: {"DateTimeField"},
        FieldType.STRING_LIST: {"JSONField"},
        FieldType.HISTORY: {"JSONField"},
        FieldType.RELATION_LIST: {"ManyToManyField"},
        FieldType.EMAIL: {"EmailField"},
        FieldType.URL: {"URLField"},
    }
    for spec in DEFAULT_FIELDS:
        field = Lead._meta.get_field(spec.key)
        expected = column_types.get(spec.type, {"CharField", "TextField"})
        assert type(field).__name__ in expected, spec.key


def test_lead_statuses_are_the_fourteen_of_the_article():
    assert list(LeadStatus.values) == [
        "Follow Up",
        "Needs Info",
        "Conversation",
        "Opportunity",
        "Not Interested",
        "Do Not Contact",
        "Unsubscribe",
        "Auto Reply",
        "Hard Bounce",
        "Soft Bounce",
        "Out of Office",
        "Unknown",
        "Wrong Contact",
        "Meeting Booked",
    ]


def test_emails_are_stored_normalized_and_lower_cased():
    lead = LeadFactory(business_email="  Elon@X.COM ", personal_email="Ｅlon@Gmail.com")
    lead.refresh_from_db()
    assert lead.business_email == "elon@x.com"
    assert lead.personal_email == "elon@gmail.com"


def test_invalid_email_is_a_validation_error_naming_the_field():
    lead = LeadFactory.build(business_email="not-an-email")
    with pytest.raises(ValidationError) as error:
        lead.full_clean(exclude=["workspace"])
    assert "business_email" in error.value.message_dict


def test_business_email_is_unique_per_workspace_but_not_across_workspaces():
    lead = LeadFactory(business_email="dup@example.com")
    LeadFactory(business_email="dup@example.com")  # another workspace
    with pytest.raises(IntegrityError), transaction.atomic():
        LeadFactory(workspace=lead.workspace, business_email="DUP@example.com")
    LeadFactory(workspace=lead.workspace, business_email="")
    LeadFactory(workspace=lead.workspace, business_email="")  # leads without an email are allowed


def test_life_cycle_and_sentiment_changes_are_kept_as_history():
    lead = LeadFactory(life_cycle="Lead")
    lead.life_cycle = "Customer"
    lead.sentiment = "Positive"
    lead.save()
    lead.refresh_from_db()
    assert [entry["value"] for entry in lead.life_cycle_history] == ["Lead", "Customer"]
    assert [entry["value"] for entry in lead.sentiment_history] == ["Positive"]
    assert all(entry["changed_at"].endswith("Z") for entry in lead.life_cycle_history)


def test_field_value_types_default_and_custom_fields():
    lead = LeadFactory(tags=["Prospect", "Cars"], number_of_emails=3, custom_fields={"score": 7})
    lead.campaigns.add(CampaignFactory(workspace=lead.workspace, name="Newsletter"))
    lead.lists.add(ListFactory(workspace=lead.workspace, name="Founders"))
    CustomFieldFactory(workspace=lead.workspace, key="score")

    assert lead.field_value("tags") == ["Prospect", "Cars"]
    assert lead.field_value("number_of_emails") == 3
    assert lead.field_value("campaigns") == ["Newsletter"]
    assert lead.field_value("lists") == ["Founders"]
    assert lead.field_value("created_date").endswith("Z")
    assert lead.field_value("score") == 7


def test_custom_field_key_cannot_clash_with_a_default_field():
    field = CustomFieldFactory.build(key="business_email")
    with pytest.raises(ValidationError) as error:
        field.full_clean(exclude=["workspace"])
    assert "key" in error.value.message_dict


def test_custom_field_key_cannot_take_the_payload_key_of_a_default_field():
    field = CustomFieldFactory.build(key="email")  # the payload's key for personal_email
    with pytest.raises(ValidationError) as error:
        field.full_clean(exclude=["workspace"])
    assert "key" in error.value.message_dict


def test_message_thread_entry_has_the_article_shape_without_empty_attributes():
    message = MessageFactory(angle="Autogrow", campaign_step=1, word_limit=225)
    entry = message.as_thread_entry()
    assert set(entry) == {
        "type",
        "subject",
        "body",
        "from",
        "to",
        "date",
        "angle",
        "campaign_step",
        "word_limit",
    }
    assert set(entry["from"]) == {"name", "address"}
    assert entry["date"].endswith("Z")


def test_thread_is_ordered_oldest_first():
    lead = LeadFactory()
    later = MessageFactory(lead=lead)
    earlier = MessageFactory(lead=lead, date=later.date.replace(year=later.date.year - 1))
    assert list(lead.messages.all()) == [earlier, later]


@pytest.mark.django_db
def test_a_lead_built_from_a_loaded_row_is_the_lead_from_db_builds():
    """The payload snapshot's fast constructor: same values, same deferred fields, same
    loaded state (a save after it writes and tracks history as usual)."""
    lead = LeadFactory(first_name="Ada", tags=["vip"], custom_fields={"plan": "pro"})
    histories = {spec.key for spec in DEFAULT_FIELDS if spec.type == FieldType.HISTORY}
    attnames = [field.attname for field in Lead._meta.concrete_fields if field.attname not in histories]
    row = Lead.objects.filter(pk=lead.pk).values_list(*attnames).get()

    built = Lead.from_loaded_row("default", attnames, row)
    loaded = Lead.from_db("default", attnames, row)

    assert {key: value for key, value in built.__dict__.items() if key != "_state"} == {
        key: value for key, value in loaded.__dict__.items() if key != "_state"
    }
    assert built.get_deferred_fields() == loaded.get_deferred_fields() == histories
    assert (built._state.adding, built._state.db) == (loaded._state.adding, loaded._state.db)
    # It skips Model.__init__, so it would skip init signal receivers: there must be none.
    assert not signals.pre_init.has_listeners(Lead) and not signals.post_init.has_listeners(Lead)
    built.life_cycle = "customer"
    built.save()
    lead.refresh_from_db()
    assert lead.life_cycle == "customer" and lead.life_cycle_history[-1]["value"] == "customer"


@pytest.mark.django_db
def test_column_values_reader_gives_each_columns_json_value_as_column_value_does():
    lead = LeadFactory(first_name="Ada", number_of_emails=3)
    specs = [spec for spec in DEFAULT_FIELDS if spec.type not in (FieldType.RELATION_LIST, FieldType.HISTORY)]

    values = Lead.column_values_reader(specs)(lead)

    assert values == [lead.column_value(spec) for spec in specs]
    assert Lead.column_values_reader(specs[:1])(lead) == [lead.column_value(specs[0])]
    assert any(spec.type == FieldType.DATETIME for spec in specs)  # the conversion is covered
    assert values[[spec.key for spec in specs].index("first_name")] == "Ada"
