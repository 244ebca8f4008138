"""Standard Webhooks signatures (standardwebhooks.com, v1 symmetric).

`v1,` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")) where key is the base64
part of the `whsec_` secret. During a rotation every current secret signs, space-separated.
"""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def secret_generate():
    # 32 random bytes: inside the spec's 24–64 byte range.
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret):
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature_compute(*, secret, msg_id, timestamp, body):
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(*, secrets_, msg_id, timestamp, body):
    return " ".join(
        signature_compute(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body) for secret in secrets_
    )


def signature_verify(*, secret, msg_id, timestamp, body, header):
    """True when any `v1,` entry of header matches (constant-time). Used by our receiver."""
    expected = signature_compute(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, entry) for entry in header.split())
