import datetime
import hashlib
import hmac
import string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import models
from django.utils import timezone
from django.utils.crypto import get_random_string

from .encryption import EncryptedTextField

_KEY_ALPHABET = string.ascii_letters + string.digits


class WorkspaceQuerySet(models.QuerySet):
    def for_user(self, user):
        """The workspaces a user may see: all for a superuser, the key's for an API key,
        their memberships for anyone else signed in, none for an anonymous caller.

        The one answer to "which workspaces may this caller touch", for the admin and the API.
        """
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self
        if getattr(user, "api_key", None) is not None:  # leadengine.authentication.ApiKeyUser
            return self.filter(pk=user.workspace_id)
        return self.filter(memberships__user=user)


class Workspace(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True, validators=[validate_slug])
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        OPERATOR = "operator", "Operator"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.OPERATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace", "user"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="unique_membership"),
        ]

    def __str__(self):
        return f"{self.user} in {self.workspace}"


class ApiKeyScope(models.TextChoices):
    """What an API key may do: the one list every check of a key's rights names.

    A key holds any non-empty set of these. A signed-in user is not scoped (their membership
    decides), so scopes are checked only when the caller is a key.
    """

    WEBHOOKS_RECEIVE = "webhooks:receive", "Receive: POST leads to the workspace's inbound webhooks"
    API_READ = "api:read", "Read: GET leads, campaigns, lists, fields and logs through the REST API"
    API_WRITE = "api:write", "Write: create, change and delete them through the REST API"
    API_MANAGE = "api:manage", "Manage: webhooks, API keys and signing secrets through the REST API"


def receive_only_scopes():
    """The default of a new key: what a form vendor or Zapier needs, and nothing it could leak."""
    return [ApiKeyScope.WEBHOOKS_RECEIVE.value]


def all_scopes():
    return list(ApiKeyScope.values)


def ordered_scopes(scopes):
    """`scopes` without duplicates, in ApiKeyScope's order (so equal sets are equal lists)."""
    return [scope for scope in ApiKeyScope.values if scope in scopes]


def validate_scopes(value):
    if not isinstance(value, list | tuple | set) or not value:
        raise ValidationError("Choose at least one scope.", code="required")
    unknown = sorted({str(scope) for scope in value} - set(ApiKeyScope.values))
    if unknown:
        raise ValidationError(
            "Unknown scope %(unknown)s; choose from %(known)s.",
            code="invalid_choice",
            params={"unknown": ", ".join(unknown), "known": ", ".join(ApiKeyScope.values)},
        )


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A workspace's credential for `Authorization: Bearer <key>`.

    The key is `<prefix>_<secret>` where the prefix (`le_live_` + 8 random characters) is
    stored in clear to find the row and to show in lists, and the whole key is stored only
    as its SHA-256. A slow password hash (PBKDF2, argon2) would buy nothing: the secret has
    ~190 bits of entropy, so brute force is hopeless whatever the hash, and a fast hash keeps
    authentication cheap on every webhook request.
    """

    PREFIX_TAG = "le_live_"
    # Writing last_used_at on every request would make each webhook call an extra UPDATE.
    LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="Where the key is used, e.g. “Zapier”.")
    prefix = models.CharField(max_length=32, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A JSON list rather than one boolean per scope: a new scope is a new choice, not a
    # migration, and the list reads the same in the API, the admin and the database.
    scopes = models.JSONField(
        default=receive_only_scopes,
        validators=[validate_scopes],
        help_text="What the key may do (ApiKeyScope). Keys made before scopes existed hold all of them.",
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self):
        return self.revoked_at is not None

    @staticmethod
    def hash_key(raw_key):
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @classmethod
    def generate(cls):
        """A new (prefix, full key) pair; the full key is never stored."""
        prefix = cls.PREFIX_TAG + get_random_string(8, allowed_chars=_KEY_ALPHABET)
        return prefix, f"{prefix}_{get_random_string(32, allowed_chars=_KEY_ALPHABET)}"

    @classmethod
    def split_prefix(cls, raw_key):
        """The lookup prefix of a presented key, or None when it isn't shaped like ours."""
        prefix, sep, secret = raw_key.rpartition("_")
        if not sep or not secret or not prefix.startswith(cls.PREFIX_TAG) or len(prefix) > 32:
            return None
        return prefix

    def set_new_key(self):
        """Give this (unsaved) key a fresh prefix and secret; returns the full key to show once."""
        self.prefix, full_key = self.generate()
        self.key_hash = self.hash_key(full_key)
        return full_key

    def has_scope(self, scope):
        return scope in self.scopes

    def missing_scopes(self, scopes):
        """Those of `scopes` this key lacks: a key may grant another key only what it holds."""
        return [scope for scope in ordered_scopes(scopes) if not self.has_scope(scope)]

    def matches(self, raw_key):
        return hmac.compare_digest(self.key_hash, self.hash_key(raw_key))

    def touch(self, now=None):
        """Record use, at most once per LAST_USED_RESOLUTION (a conditional UPDATE)."""
        now = now or timezone.now()
        if self.last_used_at and now - self.last_used_at < self.LAST_USED_RESOLUTION:
            return
        stale = models.Q(last_used_at__isnull=True) | models.Q(
            last_used_at__lt=now - self.LAST_USED_RESOLUTION
        )
        type(self).objects.filter(stale, pk=self.pk).update(last_used_at=now)
        self.last_used_at = now


class IdempotencyRecord(models.Model):
    """The first answer to a request sent with an `Idempotency-Key`, replayed to its repeats.

    One row per (scope, key): the scope is whose key it is ("inbound-webhook:<id>",
    "api-key:<id>", "user:<id>"), so two senders can't see or block each other's keys. The row
    is inserted before the work, "in progress" until `locked_until`, then completed with the
    response; the unique constraint is what makes exactly one of concurrent repeats run.
    Rules: `leadengine/idempotency.py`.
    """

    LIFETIME = datetime.timedelta(hours=24)
    # A request still "in progress" after this crashed (or outlived any web timeout): a repeat
    # may take its key over. Longer than the slowest request we answer (a 1,000-record batch).
    LOCK_TIMEOUT = datetime.timedelta(minutes=5)
    MAX_KEY_LENGTH = 255

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=MAX_KEY_LENGTH)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of what the request asked for.")
    # Set by the service, not auto_now_add: taking over an expired key starts its 24 h anew.
    created_at = models.DateTimeField(db_index=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=200, blank=True, default="")
    response_headers = models.JSONField(default=dict, blank=True)
    # Encrypted: a response may hold a secret (a new API key, a signing secret) or a lead's data.
    response_body = EncryptedTextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="unique_idempotency_key_per_scope"),
        ]

    def __str__(self):
        return f"{self.key} ({self.scope})"

    @property
    def is_complete(self):
        return self.status_code is not None

    def is_expired(self, now):
        return self.created_at <= now - self.LIFETIME
