import contextlib
import datetime
import operator
import unicodedata

import idna
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, validate_email
from django.db import models
from django.db.models.base import ModelState
from django.utils import timezone

from leadengine.models import Workspace

from .catalogue import DEFAULT_FIELD_KEYS, DEFAULT_FIELDS_BY_KEY, PAYLOAD_KEYS, FieldType


def normalize_email(value):
    """Emails are compared and stored NFKC-normalized, trimmed and lower-cased, with an
    internationalised domain in its ASCII form (IDNA 2008 A-labels, "punycode"), so
    `a@bü.de` and `a@xn--b-eha.de` are one address. ASCII because that form is the one DNS
    and SMTP use, every CRM and mail tool accepts, and it is unambiguous: the Unicode form
    of a domain with ß or ς is a different domain under IDNA 2003 (Python's own codec, which
    Django uses to send mail). A domain IDNA refuses is left as it is, for validation to report.
    """
    if not value:
        return ""
    value = unicodedata.normalize("NFKC", value).strip().lower()
    local, at, domain = value.rpartition("@")
    if at and not domain.isascii():
        with contextlib.suppress(idna.IDNAError):
            domain = idna.encode(domain, uts46=True).decode("ascii")
    return f"{local}{at}{domain}"


def isoformat_utc(moment):
    """ISO 8601 in UTC with a trailing Z, as the help article's samples show."""
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_NOT_LOADED = object()


class LeadStatus(models.TextChoices):
    """The 14 statuses a lead can have (or none yet), spelled exactly as our users read them."""

    FOLLOW_UP = "Follow Up"
    NEEDS_INFO = "Needs Info"
    CONVERSATION = "Conversation"
    OPPORTUNITY = "Opportunity"
    NOT_INTERESTED = "Not Interested"
    DO_NOT_CONTACT = "Do Not Contact"
    UNSUBSCRIBE = "Unsubscribe"
    AUTO_REPLY = "Auto Reply"
    HARD_BOUNCE = "Hard Bounce"
    SOFT_BOUNCE = "Soft Bounce"
    OUT_OF_OFFICE = "Out of Office"
    UNKNOWN = "Unknown"
    WRONG_CONTACT = "Wrong Contact"
    MEETING_BOOKED = "Meeting Booked"


class Campaign(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_campaign_name"),
        ]

    def __str__(self):
        return self.name


class List(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="lists")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_list_name"),
        ]

    def __str__(self):
        return self.name


_custom_field_key_format = RegexValidator(
    r"^[a-z][a-z0-9_]*\Z", "Use lower-case letters, digits and underscores, starting with a letter."
)


def validate_custom_field_key(value):
    """A custom field key: a lower-case identifier that names no default field (leads store
    custom values under their key, next to the default fields)."""
    _custom_field_key_format(value)
    if value in DEFAULT_FIELD_KEYS or value in PAYLOAD_KEYS.values():
        raise ValidationError(f"“{value}” is a default LeadEngine field.", code="default_field")


class CustomField(models.Model):
    class Type(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        BOOLEAN = "boolean", "Boolean"
        LIST = "list", "List"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="custom_fields")
    key = models.SlugField(
        max_length=100,
        validators=[validate_custom_field_key],
        help_text="Lower-case letters, digits and underscores, starting with a letter; cannot change later.",
    )
    label = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.TEXT)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="unique_custom_field_key"),
        ]

    def __str__(self):
        return self.label or self.key


class LeadStatusChangeError(RuntimeError):
    """Raised when code changes a lead's status without `leads.services.lead_set_status`."""

    def __init__(self):
        super().__init__(
            "A lead's status changes only through leads.services.lead_set_status(), "
            "which records the history and publishes the event."
        )


class LeadQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if "lead_status" in kwargs:
            raise LeadStatusChangeError
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        if "lead_status" in fields:
            raise LeadStatusChangeError
        return super().bulk_update(objs, fields, *args, **kwargs)

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        if "lead_status" in (kwargs.get("update_fields") or ()):
            raise LeadStatusChangeError
        # Rewriting stored leads (ON CONFLICT on the id, `update_fields` only): their stored
        # status is carried along in the INSERT part, never written.
        rewriting_stored = kwargs.get("update_conflicts") and all(obj.pk for obj in objs)
        if not rewriting_stored and any(obj.lead_status for obj in objs):
            raise LeadStatusChangeError
        return super().bulk_create(objs, *args, **kwargs)

    def for_workspaces(self, workspace_ids):
        return self.filter(workspace__in=workspace_ids)


def _text(**kwargs):
    return models.CharField(max_length=255, blank=True, default="", **kwargs)


def _count():
    return models.PositiveIntegerField(default=0)


def filled(field):
    """The rows of a dedupe field's index (its empty value is no key): a lookup by that field
    says it too. PostgreSQL proves a list of values non-empty only up to 100 of them, so
    without it a batch's lookup of 1,000 values could not use the index and read every lead
    of the workspace (measured: 6.7 ms at 10,000 leads, growing with the workspace)."""
    return ~models.Q(**{field: ""})


BUSINESS_EMAIL_SET = filled("business_email")
# `unique_lead_business_email` (below) as the conflict target of an `INSERT … ON CONFLICT`:
# the partial unique index's columns and predicate, by which PostgreSQL picks the index. Kept
# beside the constraint: a mismatch is an error on every such INSERT (the upsert's tests run it).
BUSINESS_EMAIL_CONFLICT_TARGET = "(workspace_id, business_email) WHERE NOT (business_email = '')"
# The other dedupe fields (`leads.catalogue.DEDUPE_FIELD_KEYS`), each with its index: without
# one, every post deduped on them read all the leads of its workspace.
OTHER_DEDUPE_FIELDS = ("personal_email", "person_linkedin", "mobile_phone")


class Lead(models.Model):
    """A person in a workspace, with every default field of `leads/catalogue.py` as a column."""

    # Fields kept as `{value, changed_at}` arrays whenever the tracked field changes.
    HISTORY_OF = {"life_cycle": "life_cycle_history", "sentiment": "sentiment_history"}

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="leads")

    name = _text()
    first_name = _text()
    last_name = _text()
    business_email = models.EmailField(blank=True, default="")
    personal_email = models.EmailField(blank=True, default="")
    gender = _text()
    about = models.TextField(blank=True, default="")
    job_title = _text()
    job_department = _text()
    contact_owner = _text()
    lead_source = _text()
    lead_type = _text()
    life_cycle = _text()
    life_cycle_history = models.JSONField(default=list, blank=True, editable=False)
    sentiment = _text()
    sentiment_history = models.JSONField(default=list, blank=True, editable=False)
    lead_status = models.CharField(
        max_length=20, choices=LeadStatus.choices, null=True, blank=True, db_index=True
    )
    lead_status_history = models.JSONField(default=list, blank=True, editable=False)
    tags = models.JSONField(default=list, blank=True)
    import_tags = models.JSONField(default=list, blank=True)
    campaigns = models.ManyToManyField(Campaign, blank=True, related_name="leads")
    lists = models.ManyToManyField(List, blank=True, related_name="leads")

    company_name = _text()
    industry = _text()
    number_of_employees = models.PositiveIntegerField(null=True, blank=True)
    website = models.URLField(max_length=500, blank=True, default="")
    website_summary = models.TextField(blank=True, default="")
    company_linkedin = models.URLField(max_length=500, blank=True, default="")
    company_facebook = models.URLField(max_length=500, blank=True, default="")
    company_x = models.URLField(max_length=500, blank=True, default="")
    person_linkedin = models.URLField(max_length=500, blank=True, default="")
    linkedin_summary = models.TextField(blank=True, default="")
    person_facebook = models.URLField(max_length=500, blank=True, default="")
    person_x = models.URLField(max_length=500, blank=True, default="")

    mobile_phone = _text()
    office_phone = _text()
    phone_country = _text()
    phone_validation = _text()
    street_address = _text()
    city = _text()
    state = _text()
    postal_code = _text()
    country = _text()
    time_zone = _text()

    email_provider = _text()
    email_provider_type = _text()
    email_validation = _text()
    email_bounce_status = _text()
    email_bounce_sub_status = _text()
    email_subscription = _text()
    sms_subscription = _text()

    number_of_emails = _count()
    number_of_email_opens = _count()
    number_of_email_clicks = _count()
    number_of_email_replies = _count()
    number_of_phone_calls = _count()
    number_of_sms_sent = _count()
    number_of_sms_replies = _count()
    number_of_times_contacted = _count()
    last_contacted = models.DateTimeField(null=True, blank=True)
    last_email_open_date = models.DateTimeField(null=True, blank=True)
    last_email_click_date = models.DateTimeField(null=True, blank=True)
    last_email_reply_date = models.DateTimeField(null=True, blank=True)

    custom_fields = models.JSONField(
        default=dict, blank=True, help_text="Values of the workspace's custom fields, by key."
    )
    created_date = models.DateTimeField(default=timezone.now, db_index=True)
    modified_date = models.DateTimeField(auto_now=True)

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_date", "-id"]
        constraints = [
            # The default dedupe key is unique per workspace, enforced by the database so
            # concurrent inbound requests can never create two leads for one address.
            models.UniqueConstraint(
                fields=["workspace", "business_email"],
                condition=BUSINESS_EMAIL_SET,
                name="unique_lead_business_email",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "lead_status"]),
            *(
                models.Index(fields=["workspace", key], condition=filled(key), name=f"lead_dedupe_{key}")
                for key in OTHER_DEDUPE_FIELDS
            ),
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._remember_persisted_state()

    def __str__(self):
        return self.display_name or f"Lead {self.pk}"

    def save(self, *args, **kwargs):
        if self._status_changed() and not self._status_change_authorized:
            raise LeadStatusChangeError
        self.business_email = normalize_email(self.business_email)
        self.personal_email = normalize_email(self.personal_email)
        update_fields = self._append_tracked_history(kwargs.get("update_fields"))
        if update_fields is not None:
            kwargs["update_fields"] = update_fields
        super().save(*args, **kwargs)
        self._remember_persisted_state()

    def values_assign(self, values, custom_values=None):
        """Assign typed values of plain default fields and merge custom values, appending the
        tracked histories as `save()` would: for set-based writes that never call `save()`.
        Relations and the status are not plain fields (the status has its own service)."""
        for key, value in values.items():
            setattr(self, key, value)
        if custom_values:
            self.custom_fields = {**self.custom_fields, **custom_values}
        self.business_email = normalize_email(self.business_email)
        self.personal_email = normalize_email(self.personal_email)
        now = isoformat_utc(timezone.now())
        for field, history_field in self.HISTORY_OF.items():
            value = getattr(self, field)
            if value and value != self._persisted[field]:
                setattr(
                    self, history_field, [*getattr(self, history_field), {"value": value, "changed_at": now}]
                )
            # The next assignment (a later record of the same batch) compares with this one.
            self._persisted[field] = value

    def _remember_persisted_state(self):
        # A deferred field is not in __dict__; remember that we don't know its value.
        self._persisted = {
            field: self.__dict__.get(field, _NOT_LOADED) for field in ("lead_status", *self.HISTORY_OF)
        }
        self._status_change_authorized = False

    @property
    def display_name(self):
        return self.name or " ".join(filter(None, [self.first_name, self.last_name])) or self.email

    @property
    def email(self):
        """The address receivers see: the business email, else the personal one."""
        return self.business_email or self.personal_email

    @property
    def persisted_status(self):
        return self._persisted["lead_status"]

    def clean(self):
        errors = {}
        for field in ("business_email", "personal_email"):
            value = normalize_email(getattr(self, field))
            setattr(self, field, value)
            if value:
                try:
                    validate_email(value)
                except ValidationError as exc:
                    errors[field] = exc.messages
        if errors:
            raise ValidationError(errors)

    def _status_changed(self):
        if self._state.adding:
            return self.lead_status is not None
        persisted = self.persisted_status
        if persisted is _NOT_LOADED:
            if "lead_status" not in self.__dict__:
                return False
            persisted = type(self).objects.filter(pk=self.pk).values_list("lead_status", flat=True).first()
        return self.lead_status != persisted

    def _append_tracked_history(self, update_fields):
        now = isoformat_utc(timezone.now())
        for field, history_field in self.HISTORY_OF.items():
            if field not in self.__dict__:
                continue
            value = getattr(self, field)
            if value and (self._state.adding or value != self._persisted[field]):
                history = [*getattr(self, history_field), {"value": value, "changed_at": now}]
                setattr(self, history_field, history)
                if update_fields is not None and field in update_fields:
                    update_fields = [*update_fields, history_field]
        return update_fields

    def field_value(self, key):
        """The JSON value of a default field (by catalogue key) or a custom field."""
        spec = DEFAULT_FIELDS_BY_KEY.get(key)
        if spec is None:
            return self.custom_fields.get(key)
        if spec.type == FieldType.RELATION_LIST:
            # Uses prefetched names when the caller prefetched them.
            return [related.name for related in getattr(self, key).all()]
        return self.column_value(spec)

    # How a column's value becomes its JSON value, by field type; the others are as stored.
    _JSON_OF_TYPE = {FieldType.DATETIME: isoformat_utc}

    def column_value(self, spec):
        """The JSON value of a default field stored in a column (not a relation), by its spec."""
        value = getattr(self, spec.key)
        to_json = self._JSON_OF_TYPE.get(spec.type)
        return value if to_json is None else to_json(value)

    @staticmethod
    def column_values_reader(specs):
        """`lead -> [column_value(spec) for spec in specs]` for many specs at once: one
        attrgetter call reads every column (a bulk change's payloads read 56 columns of
        10,000 leads, where a call per column was a third of their time: profiled)."""
        read = operator.attrgetter(*(spec.key for spec in specs))
        single = len(specs) == 1  # attrgetter of one name gives the value, not a tuple
        converted = [
            (index, Lead._JSON_OF_TYPE[spec.type])
            for index, spec in enumerate(specs)
            if spec.type in Lead._JSON_OF_TYPE
        ]

        def values(lead):
            row = [read(lead)] if single else list(read(lead))
            for index, to_json in converted:
                row[index] = to_json(row[index])
            return row

        return values

    @classmethod
    def from_loaded_row(cls, db, attnames, values):
        """What `from_db(db, attnames, values)` returns, built without `Model.__init__`'s
        pass over every field (15 → 5 µs a lead: a bulk change's snapshot builds 10,000).
        Fields not in `attnames` are deferred, as `from_db` leaves them; Lead has no
        init signal receivers to miss."""
        lead = cls.__new__(cls)
        lead.__dict__.update(zip(attnames, values, strict=True))
        lead._state = ModelState()
        lead._state.adding, lead._state.db = False, db
        lead._remember_persisted_state()
        return lead


class Message(models.Model):
    """One message of a lead's thread (outbound, inbound or auto-reply) with its sending attributes."""

    class Type(models.TextChoices):
        OUTBOUND = "outbound", "Outbound"
        INBOUND = "inbound", "Inbound"
        AUTO_REPLY = "auto_reply", "Auto reply"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="messages")
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    type = models.CharField(max_length=20, choices=Type.choices)
    subject = models.CharField(max_length=500, blank=True, default="")
    body = models.TextField(blank=True, default="")
    from_name = models.CharField(max_length=200, blank=True, default="")
    from_address = models.EmailField(blank=True, default="")
    to_name = models.CharField(max_length=200, blank=True, default="")
    to_address = models.EmailField(blank=True, default="")
    date = models.DateTimeField(default=timezone.now)
    angle = models.CharField(max_length=200, blank=True, default="")
    framework = models.CharField(max_length=200, blank=True, default="")
    test = models.CharField(max_length=50, blank=True, default="", help_text="A/B test variant.")
    tone = models.CharField(max_length=100, blank=True, default="")
    campaign_step = models.PositiveIntegerField(null=True, blank=True)
    word_limit = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["date", "id"]
        indexes = [models.Index(fields=["lead", "date"])]

    def __str__(self):
        return self.subject or f"{self.get_type_display()} message"

    def as_thread_entry(self):
        """The message as an outbound payload's `messages` entry, shaped like the help article's
        sample: type and date always; every other attribute (subject, body, from, to, angle,
        framework, test, tone, campaign_step, word_limit, campaign) only when it has a value,
        so receivers never see `"subject": ""` or a `from` with empty name and address."""

        def party(name, address):
            return {key: value for key, value in (("name", name), ("address", address)) if value} or None

        attributes = {
            "type": self.type,
            "subject": self.subject,
            "body": self.body,
            "from": party(self.from_name, self.from_address),
            "to": party(self.to_name, self.to_address),
            "date": isoformat_utc(self.date),
            "angle": self.angle,
            "framework": self.framework,
            "test": self.test,
            "tone": self.tone,
            "campaign_step": self.campaign_step,
            "word_limit": self.word_limit,
            # Uses the select_related campaign when the caller joined it.
            "campaign": self.campaign.name if self.campaign_id else None,
        }
        return {key: value for key, value in attributes.items() if value not in (None, "")}
