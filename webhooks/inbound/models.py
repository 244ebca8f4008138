import secrets

from django.conf import settings
from django.db import models

from leadengine.models import ApiKey, Workspace
from leads.catalogue import DEFAULT_FIELDS, DEFAULT_FIELDS_BY_KEY
from leads.models import CustomField, List

# The article's §3.3 sample: keys equal to default field names, plus its three aliases.
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
    choices = [(spec.key, spec.key) for spec in DEFAULT_FIELDS if spec.writable]
    choices += [
        (field.key, f"{field.key} (custom, {field.get_type_display().lower()})") for field in custom_fields
    ]
    return choices


def dedupe_field_choices(custom_fields=()):
    choices = [(spec.key, spec.key) for spec in DEFAULT_FIELDS if spec.dedupe]
    choices += [(field.key, f"{field.key} (custom)") for field in custom_fields]
    return choices


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

    def custom_fields(self):
        return list(CustomField.objects.filter(workspace_id=self.workspace_id))

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
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "inbound request"
        # The webhook page's log link lists one webhook's requests, newest first.
        indexes = [models.Index(fields=["webhook", "-received_at"], name="inbound_request_by_webhook")]

    def __str__(self):
        return f"{self.status_code} at {self.received_at:%Y-%m-%d %H:%M:%S}"
