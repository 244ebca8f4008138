import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from leadengine.encryption import EncryptedTextField
from leadengine.models import ApiKey, Workspace
from leads.catalogue import DEDUPE_FIELD_KEYS, DEFAULT_FIELDS, DEFAULT_FIELDS_BY_KEY, WRITABLE_FIELD_KEYS
from leads.models import CustomField, List

from .mapping import Combine, MappingRow, split_path, split_sources
from .sender_auth import SCHEMES, sender_auth_for
from .transforms import VALUE_MAKERS, steps_errors

# One choice per scheme class, labelled by the class, so a new scheme is one class.
SenderAuthMode = models.TextChoices(
    "SenderAuthMode", [(scheme.mode.upper(), (scheme.mode, scheme.label)) for scheme in SCHEMES]
)


class HmacAlgorithm(models.TextChoices):
    SHA1 = "sha1", "SHA-1"
    SHA256 = "sha256", "SHA-256"
    SHA512 = "sha512", "SHA-512"


class HmacEncoding(models.TextChoices):
    HEX = "hex", "hex"
    BASE64 = "base64", "base64"


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


def new_url_token():
    # 32 random bytes: the token is the whole credential of a URL-token webhook.
    return secrets.token_urlsafe(32)


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


# Fields a webhook can set but never empty: names are only ever added to campaigns and
# lists, and a status changes only to another of the 14 (lead_set_status).
UNCLEARABLE_FIELDS = {"campaigns", "lists", "lead_status"}


def mapping_errors(*, rows=(), dedupe_field=None, custom_field_keys=frozenset()):
    """What is wrong with a webhook's mapping: the one rule behind the admin, the REST API
    and the endpoint (which meets rows saved before a rule existed, or whose custom field
    was deleted since).

    `rows` are MappingRow objects (or (field, source path) pairs); `custom_field_keys` the
    keys of the webhook's workspace. Returns {"dedupe_field": [message, ...], "rows":
    [{name: [message, ...]}, ...]}, one dict per row, empty when the row is fine.
    """
    dedupe_errors = []
    if dedupe_field is not None and dedupe_field not in (*DEDUPE_FIELD_KEYS, *custom_field_keys):
        dedupe_errors.append(
            f"{dedupe_field!r} is neither a dedupe field ({', '.join(sorted(DEDUPE_FIELD_KEYS))}) "
            "nor a custom field of this workspace."
        )
    row_errors, seen = [], set()
    for row in rows:
        row = row if isinstance(row, MappingRow) else MappingRow(*row)
        errors = _row_errors(row, custom_field_keys)
        if "field" not in errors and row.field in seen:
            errors["field"] = [f"{row.field!r} is mapped twice: one row per field."]
        seen.add(row.field)
        row_errors.append(errors)
    return {"dedupe_field": dedupe_errors, "rows": row_errors}


def _row_errors(row, custom_field_keys):
    errors = {}
    if row.field not in WRITABLE_FIELD_KEYS and row.field not in custom_field_keys:
        errors["field"] = [f"{row.field!r} is not a writable field of this workspace."]
    transform_errors = steps_errors(row.transforms)
    if transform_errors:
        errors["transforms"] = transform_errors
    makes_value = isinstance(row.transforms, list) and any(
        isinstance(step, dict) and step.get("op") in VALUE_MAKERS for step in row.transforms
    )
    paths = split_sources(row.source_path)
    if any(not split_path(path) for path in paths) or (not paths and not makes_value):
        # An empty path (or `/`) would resolve to the whole document.
        errors["source_path"] = [
            "A source path needs at least one key (none only with a constant, template or default transform)."
        ]
    if row.combine not in (Combine.FIRST, Combine.ALL):
        errors["combine"] = [f"{row.combine!r} is not a way to combine paths (first or all)."]
    if row.clear_when_empty and row.field in UNCLEARABLE_FIELDS:
        errors["clear_when_empty"] = [
            f"{row.field} can't be cleared: its values are only ever added or changed."
        ]
    return errors


def validate_phone_region(value):
    from phonenumbers import SUPPORTED_REGIONS

    if value and value not in SUPPORTED_REGIONS:
        raise ValidationError(f"{value!r} is not a two-letter country code in capitals (US, GB, DE…).")


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
    default_phone_region = models.CharField(
        max_length=2,
        blank=True,
        default="",
        validators=[validate_phone_region],
        help_text="Country of phone numbers sent without a country code (US, GB, DE…), so they can be "
        "stored in E.164 (+15550100) and deduped. Blank: only numbers with a + country code are converted.",
    )
    # Sender authentication (webhooks/inbound/sender_auth/): one mode, and the settings it reads.
    auth_mode = models.CharField(
        "sender authentication",
        max_length=32,
        choices=SenderAuthMode.choices,
        default=SenderAuthMode.BEARER,
        help_text="How senders prove who they are: an API key, a secret URL, or the vendor's own signature.",
    )
    auth_header = models.CharField(
        "header name",
        max_length=100,
        blank=True,
        default="",
        help_text="API key in a header: its name (X-API-Key when blank). Generic HMAC: the signature header.",
    )
    # Encrypted at rest, like outbound secrets: an HMAC needs the secret itself.
    signing_secret = EncryptedTextField(
        blank=True,
        default="",
        help_text="The vendor's signing secret (signature modes). Never shown in lists or the API.",
    )
    url_token = EncryptedTextField(blank=True, default="", editable=False)
    verify_token = models.CharField(
        "Meta verify token",
        max_length=200,
        blank=True,
        default="",
        help_text="Meta answers its subscription check (GET ?hub.verify_token=…) only when this matches.",
    )
    signature_tolerance_seconds = models.PositiveIntegerField(
        "timestamp tolerance (s)",
        default=300,
        validators=[MinValueValidator(1), MaxValueValidator(86400)],
        help_text="Signed timestamps further than this from now are refused (replay protection).",
    )
    hmac_algorithm = models.CharField(
        max_length=10, choices=HmacAlgorithm.choices, default=HmacAlgorithm.SHA256
    )
    hmac_encoding = models.CharField(max_length=10, choices=HmacEncoding.choices, default=HmacEncoding.HEX)
    hmac_prefix = models.CharField(
        max_length=50, blank=True, default="", help_text="Text before the digest in the header, e.g. sha256="
    )
    hmac_signed_content = models.CharField(
        max_length=200,
        default="{body}",
        help_text="What is signed: {body}, or e.g. {timestamp}.{body} with the timestamp header below.",
    )
    hmac_timestamp_header = models.CharField(max_length=100, blank=True, default="")
    body_key_field = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="Key in the body: the top-level JSON field holding the key (google_key when blank); "
        "the key itself is the signing secret.",
    )
    # The vendor preset the webhook started from, so its page can keep showing the setup steps.
    preset = models.CharField(max_length=50, blank=True, default="", editable=False)
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

    def save(self, *args, **kwargs):
        if self.auth_mode == SenderAuthMode.URL_TOKEN and not self.url_token:
            self.url_token = new_url_token()
        super().save(*args, **kwargs)

    @property
    def url(self):
        return f"{settings.WEBHOOKS_BASE_URL}/{self.public_id}"

    def clean(self):
        errors = self.auth_errors()
        if self.workspace_id is not None:  # else the form reports the missing workspace
            dedupe = mapping_errors(
                dedupe_field=self.dedupe_field, custom_field_keys=self.custom_field_keys()
            )
            if dedupe["dedupe_field"]:
                errors["dedupe_field"] = dedupe["dedupe_field"]
        if errors:
            raise ValidationError(errors)

    def auth_errors(self):
        """{field: [message]} of the sender-auth settings; the admin form and the API share it."""
        errors = {}
        if self.auth_mode == SenderAuthMode.HMAC:
            if not self.auth_header:
                errors["auth_header"] = ["Generic HMAC needs the name of the header holding the signature."]
            if "{body}" not in (self.hmac_signed_content or ""):
                errors["hmac_signed_content"] = ["The signed content must contain {body}."]
            if "{timestamp}" in (self.hmac_signed_content or "") and not self.hmac_timestamp_header:
                errors["hmac_timestamp_header"] = ["{timestamp} is signed: name the header that carries it."]
        return errors

    @property
    def needs_signing_secret(self):
        """Whether the mode checks a secret the vendor shares (a signature, a key in the body)."""
        return self.sender_auth().needs_signing_secret

    @property
    def url_with_token(self):
        """The URL a URL-token sender is given (a secret: shown on demand, not in lists)."""
        return f"{self.url}/{self.url_token}" if self.url_token else ""

    def rotate_url_token(self):
        """A new URL token; the old URL stops working at once (there is no overlap, because a
        leaked URL is the usual reason to rotate)."""
        self.url_token = new_url_token()
        self.save(update_fields=["url_token", "updated_at"])

    def sender_auth(self):
        """How senders prove who they are: the scheme of `auth_mode` with this webhook's settings."""
        return sender_auth_for(self)

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
    """One row of the mapping editor: LeadEngine field ← source path(s), then transforms."""

    class Combine(models.TextChoices):
        FIRST = Combine.FIRST, "First non-empty path"
        ALL = Combine.ALL, "Every non-empty path, as a list"

    webhook = models.ForeignKey(InboundWebhook, on_delete=models.CASCADE, related_name="mappings")
    field = models.CharField("LeadEngine field", max_length=100)
    source_path = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Key or /-separated path: email, contact/work/email, answers/0/email, tags/*/name, "
        "answers/[field/id=abc]/text; several paths with |: email | contact/email",
    )
    combine = models.CharField(
        max_length=10,
        choices=Combine.choices,
        default=Combine.FIRST,
        help_text="With several paths: the first non-empty one, or all of them as a list (then "
        "join them with a join transform).",
    )
    transforms = models.JSONField(
        default=list,
        blank=True,
        help_text='Steps applied in order: [{"op": "split", "arg": ";"}, {"op": "trim"}].',
    )
    clear_when_empty = models.BooleanField(
        "empty clears",
        default=False,
        help_text="An empty value sent for this field clears it on the lead (a missing key never does).",
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
        errors = mapping_errors(rows=[self.as_row()], custom_field_keys=keys)["rows"][0]
        if errors:
            raise ValidationError(errors)

    def as_row(self):
        return MappingRow(
            field=self.field,
            source_path=self.source_path,
            combine=self.combine,
            transforms=self.transforms,
            clear_when_empty=self.clear_when_empty,
        )

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
