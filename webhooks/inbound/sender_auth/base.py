"""What every sender-auth scheme shares: the request it judges, the 401 it answers, and the
few checks (a required header, a timestamp window, a constant-time compare) they all make."""

import hashlib
import hmac
import time
from dataclasses import dataclass, field

from ..errors import InboundError


@dataclass(frozen=True)
class SenderRequest:
    """What a scheme may look at: the headers (case-insensitive mapping), the raw body bytes
    as received, the token of a `/webhooks/<id>/<token>` URL, and the absolute URLs the
    request may have been sent to (HubSpot signs the URL it called)."""

    headers: object
    raw_body: bytes = b""
    url_token: str = ""
    urls: tuple = field(default_factory=tuple)
    method: str = "POST"


def refused(reason, detail, *, challenge, code=None):
    """The 401 of a failed check. `reason` is the short phrase the request log and the sender
    see ("signature mismatch"); `detail` says what to fix."""
    return InboundError(
        401,
        code or reason.replace(" ", "_"),
        detail,
        fields={"reason": reason},
        headers={"WWW-Authenticate": challenge},
    )


class SenderAuth:
    """One scheme. Subclasses set `mode`, `label`, `challenge` and implement `check(request)`
    (returning the ApiKey to act as, or None when the sender proves itself without one)."""

    mode = ""
    label = ""
    challenge = 'Signature realm="webhook"'
    needs_signing_secret = False

    def __init__(self, *, workspace_id=None, settings=None):
        self.workspace_id = workspace_id
        self.settings = settings

    @classmethod
    def for_webhook(cls, webhook):
        return cls(workspace_id=webhook.workspace_id, settings=webhook)

    def authenticate(self, headers, raw_body=b"", *, url_token="", urls=(), method="POST"):
        """The ApiKey the request acts as (None for schemes without a key), or an InboundError
        (401; 403 for a key of the workspace without the receive scope)."""
        return self.check(SenderRequest(headers, raw_body, url_token or "", tuple(urls), method))

    def check(self, request):
        raise NotImplementedError

    def presented_prefix(self, headers):
        """The non-secret part of the credential presented, for the request log ("" if none)."""
        return ""

    def refuse(self, reason, detail, code=None):
        return refused(reason, detail, challenge=self.challenge, code=code)

    def required_header(self, request, name):
        value = request.headers.get(name)
        if not value:
            raise self.refuse("missing header", f"Missing header {name}.", code="missing_header")
        return value.strip()

    def signing_secret(self):
        secret = getattr(self.settings, "signing_secret", "") or ""
        if not secret:
            # A webhook set to a signature mode without its secret refuses everything: it
            # can't tell the vendor from anyone else.
            raise self.refuse(
                "no signing secret", "This webhook has no signing secret yet: set it in the editor."
            )
        return secret

    def check_timestamp(self, timestamp, *, milliseconds=False, now=None):
        """Refuse a timestamp further than the webhook's tolerance from now, either way (a
        replayed request is old; a clock far ahead is as suspect)."""
        tolerance = getattr(self.settings, "signature_tolerance_seconds", 300)
        try:
            sent_at = int(timestamp) / (1000 if milliseconds else 1)
        except (TypeError, ValueError):
            raise self.refuse(
                "invalid timestamp", f"The timestamp {str(timestamp)[:30]!r} is not a number."
            ) from None
        now = time.time() if now is None else now
        if abs(now - sent_at) > tolerance:
            age = f"{int(now - sent_at)} s old" if now > sent_at else f"{int(sent_at - now)} s in the future"
            raise self.refuse(
                "timestamp outside tolerance",
                f"The signed timestamp is {age}; the tolerance is {tolerance} s.",
            )


def hmac_digest(key, message, algorithm="sha256"):
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def equal(expected, presented):
    """Constant-time comparison of two str or bytes values."""
    expected = expected.encode() if isinstance(expected, str) else expected
    presented = presented.encode("utf-8", "replace") if isinstance(presented, str) else presented
    return hmac.compare_digest(expected, presented)
