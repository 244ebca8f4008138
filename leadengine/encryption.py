"""Encryption at rest for secrets we must be able to read back (webhook signing secrets).

Values are Fernet tokens (AES-128-CBC + HMAC-SHA256, from `cryptography`). The keys come from
`FIELD_ENCRYPTION_KEYS` (comma-separated Fernet keys, newest first, so a key can be rotated:
old tokens still decrypt, new ones use the first key). Unset, one key is derived from
SECRET_KEY, which suits the embedded default; production sets its own keys.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet():
    keys = settings.FIELD_ENCRYPTION_KEYS or [
        base64.urlsafe_b64encode(
            hashlib.sha256(b"leadengine-field-encryption:" + settings.SECRET_KEY.encode()).digest()
        )
    ]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: not a list of Fernet keys ({exc})") from None


def encrypt(value):
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token):
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "An encrypted value cannot be decrypted: FIELD_ENCRYPTION_KEYS (or SECRET_KEY) changed "
            "without keeping the old key."
        ) from None


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; the model sees plain text. Not searchable."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value
