import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from leadengine.models import ApiKey, Workspace
from leads.catalogue import DEDUPE_FIELD_KEYS, DEFAULT_FIELDS, DEFAULT_FIELDS_BY_KEY, WRITABLE_FIELD_KEYS
from leads.models import CustomField, List

from .mapping import split_path
from .sender_auth import BearerKeyAuth

# What a new webhook starts with: the usual lead form's keys that equal default field names,
# plus the three common aliases (email, phone, date).
SUGGESTED_MAPPINGS = (
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("name", "name"),
    ("business_email", "email"),
    ("mobile_phone", "phone"),
    ("city", "city"),
    ("state", "state"),
    ("country", "country"),
    ("created_date", "date"),
)


def new_public_id():
    # 24 random bytes = 192 bits, URL-safe, never derived from the primary key.
    return secrets.token_urlsafe(24)


def writable_field_choices(custom_fields=()):
    """(key, label) of every field a mapping may write: the writable catalogue + custom fields."""
    choices = [(key, key) for key in WRITABLE_FIELD_KEYS]
    choices += [
        (field.key, f"{field.key} (custom, {field.get_type_display().lower()})") for field in custom_fields
    ]
    return choices


def dedupe_field_choices(custom_fields=()):
    choices = [(key, key) for key in DEDUPE_FIELD_KEYS]
    choices += [(field.key, f"{field.key} (custom)") for field in custom_fields]
    return choices


def mapping_errors(*, rows=(), dedupe_field=None, custom_field_keys=frozenset()):
    """What is wrong with a webhook's mapping: the one rule behind the admin, the REST API
    and the endpoint (which meets rows saved before a rule existed, or whose custom field
    was deleted since).

    `rows` are (field, source path) pairs; `custom_field_keys` the keys of the webhook's
    workspace. Returns {"dedupe_field": [message, ...], "rows": [{name: [message, ...]}, ...]},
    one dict per row, empty when the row is fine.
    """
    dedupe_errors = []
    if dedupe_field is not None and dedupe_field not in (*DEDUPE_FIELD_KEYS, *custom_field_keys):
        dedupe_errors.append(
            f"{dedupe_field!r} is neither a dedupe field ({', '.join(sorted(DEDUPE_FIELD_KEYS))}) "
            "nor a custom field of this workspace."
        )
    row_errors, seen = [], set()
    for field, source_path in rows:
        errors = {}
        if field not in WRITABLE_FIELD_KEYS and field not in custom_field_keys:
            errors["field"] = [f"{field!r} is not a writable field of this workspace."]
        elif field in seen:
            errors["field"] = [f"{field!r} is mapped twice: one row per field."]
        if not split_path(source_path or ""):
            # An empty path (or `/`) would resolve to the whole document.
            errors["source_path"] = ["A source path needs at least one key."]
        seen.add(field)
        row_errors.append(errors)
    return {"dedupe_field": dedupe_errors, "rows": row_errors}


class InboundWebhook(models.Model):
    """A "Receive Data" action: a public URL whose POSTs create or update leads."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="inbound_webhooks")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    public_id = models.CharField(max_length=64, unique=True, default=new_public_id, editable=False)
    target_list = models.ForeignKey(
        List,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Every lead received is added to this list.",
    )
    dedupe_field = models.CharField(
        max_length=100,
        default="business_email",
        help_text="A lead with the same value of this field is updated instead of created.",
    )
    is_active = models.BooleanField("active", default=True)
    strict = models.BooleanField(
        default=False,
        help_text="Reject a record (422) when any mapped value can't be used. Off: only the dedupe "
        "field must be valid; other bad values are skipped and reported as warnings, and the lead is saved.",
    )
    capture_next = models.BooleanField(
        "capture the next request",
        default=False,
        help_text="Store the next request's body as the sample to map from (it is still processed).",
    )
    sample_body = models.TextField(blank=True, default="", editable=False)
    sample_content_type = models.CharField(max_length=200, blank=True, default="", editable=False)
    sample_captured_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "inbound webhook"

    def __str__(self):
        return self.name

    @property
    def url(self):
        return f"{settings.WEBHOOKS_BASE_URL}/{self.public_id}"

    def clean(self):
        if self.workspace_id is None:
            return  # the form reports the missing workspace
        errors = mapping_errors(dedupe_field=self.dedupe_field, custom_field_keys=self.custom_field_keys())
        if errors["dedupe_field"]:
            raise ValidationError({"dedupe_field": errors["dedupe_field"]})

    def sender_auth(self):
        """How senders prove who they are; one mode per webhook, today a Bearer API key of the
        webhook's workspace."""
        return BearerKeyAuth(workspace_id=self.workspace_id)

    def custom_fields(self):
        return list(CustomField.objects.filter(workspace_id=self.workspace_id))

    def custom_field_keys(self):
        return set(CustomField.objects.filter(workspace_id=self.workspace_id).values_list("key", flat=True))

    def field_types(self, custom_fields=None):
        """key -> (kind, type) for every writable field: ("default", FieldType) or ("custom", type)."""
        custom_fields = self.custom_fields() if custom_fields is None else custom_fields
        types = {spec.key: ("default", spec.type) for spec in DEFAULT_FIELDS if spec.writable}
        types.update({field.key: ("custom", field.type) for field in custom_fields})
        return types


class FieldMapping(models.Model):
    """One row of the mapping editor: LeadEngine field ← source path."""

    webhook = models.ForeignKey(InboundWebhook, on_delete=models.CASCADE, related_name="mappings")
    field = models.CharField("LeadEngine field", max_length=100)
    source_path = models.CharField(
        max_length=500,
        help_text="Key or /-separated path: email, contact/work/email, answers/0/email, tags/*/name, "
        "field_data/[name=email]/values/0",
    )

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["webhook", "field"], name="unique_mapping_field")]

    def __str__(self):
        return f"{self.field} ← {self.source_path}"

    def clean(self):
        try:
            workspace_id = self.webhook.workspace_id
        except InboundWebhook.DoesNotExist:
            workspace_id = None
        if workspace_id is None:
            return  # the webhook's own form reports the missing workspace; nothing is saved
        keys = self.webhook.custom_field_keys()
        errors = mapping_errors(rows=[(self.field, self.source_path)], custom_field_keys=keys)["rows"][0]
        if errors:
            raise ValidationError(errors)

    @property
    def is_default_field(self):
        return self.field in DEFAULT_FIELDS_BY_KEY


class InboundRequest(models.Model):
    """One received request, kept for troubleshooting whatever its outcome."""

    BODY_LIMIT = 64 * 1024

    webhook = models.ForeignKey(
        InboundWebhook, on_delete=models.SET_NULL, null=True, blank=True, related_name="requests"
    )
    # Kept apart from the webhook so the log stays scoped when a webhook is deleted; null for
    # requests to unknown ids, which only superusers see.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    public_id = models.CharField(max_length=200, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    api_key_prefix = models.CharField(max_length=32, blank=True, default="")
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField(default=dict)
    content_type = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField(blank=True, default="")
    body_size = models.PositiveIntegerField(default=0)
    body_truncated = models.BooleanField(default=False)
    missing_paths = models.JSONField(default=list, blank=True)
    unmapped_keys = models.JSONField(default=list, blank=True)
    # Values skipped from saved records: [{field, path, message}], plus `index` in a batch.
    warnings = models.JSONField(default=list, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "inbound request"
        # The webhook page's log link lists one webhook's requests, newest first.
        indexes = [
            models.Index(fields=["webhook", "-received_at"], name="inbound_request_by_webhook"),
            # Retention empties bodies past their period: only rows still holding one are
            # indexed, so the rows it already emptied are never read again.
            models.Index(
                fields=["received_at"], condition=~models.Q(body=""), name="inbound_request_with_body"
            ),
        ]

    def __str__(self):
        return f"{self.status_code} at {self.received_at:%Y-%m-%d %H:%M:%S}"
