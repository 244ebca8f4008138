"""The catalogue of LeadEngine's default lead fields: the columns every lead has.

One list, read by the lead model's `field_value()`, the outbound payload builder, the
inbound mapping editor and the REST API's `fields` endpoint. A test keeps it in step with
the `Lead` model.
"""

from dataclasses import dataclass

from django.db import models


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    LONG_TEXT = "long_text", "Long text"
    EMAIL = "email", "Email"
    URL = "url", "URL"
    PHONE = "phone", "Phone"
    INTEGER = "integer", "Integer"
    DATETIME = "datetime", "Date and time (UTC)"
    STRING_LIST = "string_list", "List of strings"
    RELATION_LIST = "relation_list", "Names of related objects"
    STATUS = "status", "Lead status"
    HISTORY = "history", "History (kept by LeadEngine)"


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    type: str
    # History and modification stamps are kept by the app; nobody maps into them.
    writable: bool = True
    # Fields whose value identifies one lead, usable to dedupe inbound records.
    dedupe: bool = False


def _spec(key, type_=FieldType.TEXT, **kwargs):
    return FieldSpec(key=key, label=key.replace("_", " ").capitalize(), type=type_, **kwargs)


T = FieldType
DEFAULT_FIELDS = (
    _spec("about", T.LONG_TEXT),
    _spec("business_email", T.EMAIL, dedupe=True),
    _spec("campaigns", T.RELATION_LIST),
    _spec("city"),
    _spec("company_facebook", T.URL),
    _spec("company_linkedin", T.URL),
    _spec("company_name"),
    _spec("company_x", T.URL),
    _spec("contact_owner"),
    _spec("country"),
    _spec("created_date", T.DATETIME),
    _spec("personal_email", T.EMAIL, dedupe=True),
    _spec("email_bounce_status"),
    _spec("email_bounce_sub_status"),
    _spec("email_provider"),
    _spec("email_provider_type"),
    _spec("email_subscription"),
    _spec("email_validation"),
    _spec("first_name"),
    _spec("gender"),
    _spec("import_tags", T.STRING_LIST),
    _spec("industry"),
    _spec("job_department"),
    _spec("job_title"),
    _spec("last_contacted", T.DATETIME),
    _spec("last_email_click_date", T.DATETIME),
    _spec("last_email_open_date", T.DATETIME),
    _spec("last_email_reply_date", T.DATETIME),
    _spec("last_name"),
    _spec("lead_source"),
    _spec("lead_status", T.STATUS),
    _spec("lead_status_history", T.HISTORY, writable=False),
    _spec("lead_type"),
    _spec("life_cycle"),
    _spec("life_cycle_history", T.HISTORY, writable=False),
    _spec("person_linkedin", T.URL, dedupe=True),
    _spec("linkedin_summary", T.LONG_TEXT),
    _spec("lists", T.RELATION_LIST),
    _spec("mobile_phone", T.PHONE, dedupe=True),
    _spec("modified_date", T.DATETIME, writable=False),
    _spec("name"),
    _spec("number_of_email_clicks", T.INTEGER),
    _spec("number_of_email_opens", T.INTEGER),
    _spec("number_of_email_replies", T.INTEGER),
    _spec("number_of_emails", T.INTEGER),
    _spec("number_of_employees", T.INTEGER),
    _spec("number_of_phone_calls", T.INTEGER),
    _spec("number_of_sms_replies", T.INTEGER),
    _spec("number_of_sms_sent", T.INTEGER),
    _spec("number_of_times_contacted", T.INTEGER),
    _spec("office_phone", T.PHONE),
    _spec("person_facebook", T.URL),
    _spec("person_x", T.URL),
    _spec("phone_country"),
    _spec("phone_validation"),
    _spec("postal_code"),
    _spec("sentiment"),
    _spec("sentiment_history", T.HISTORY, writable=False),
    _spec("sms_subscription"),
    _spec("state"),
    _spec("street_address"),
    _spec("tags", T.STRING_LIST),
    _spec("time_zone"),
    _spec("website", T.URL),
    _spec("website_summary", T.LONG_TEXT),
)
del T

DEFAULT_FIELDS_BY_KEY = {spec.key: spec for spec in DEFAULT_FIELDS}
DEFAULT_FIELD_KEYS = frozenset(DEFAULT_FIELDS_BY_KEY)
# The fields an inbound mapping may write, and those that can dedupe inbound records.
WRITABLE_FIELD_KEYS = tuple(spec.key for spec in DEFAULT_FIELDS if spec.writable)
DEDUPE_FIELD_KEYS = tuple(spec.key for spec in DEFAULT_FIELDS if spec.dedupe)
# Default fields the help article's payload sample (§2.3) names differently: the personal
# email is `email` there. A custom field may not take such a key either.
PAYLOAD_KEYS = {"personal_email": "email"}
