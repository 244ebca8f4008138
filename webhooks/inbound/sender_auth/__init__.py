"""How a sender proves who it is: one scheme per inbound webhook (`InboundWebhook.auth_mode`).

Every scheme has `authenticate(headers, raw_body, *, url_token="", urls=())`, returning the
`ApiKey` to act as (None for schemes that prove the sender without a key) or raising an
`InboundError` — 401 with `{"detail", "code", "reason"}` and a `WWW-Authenticate` header,
403 for a key of the workspace without the `webhooks:receive` scope — and
`presented_prefix(headers)`, the non-secret part of a key for the request log. They see the
raw body, so the sender's own signature can be checked over the bytes it sent.
"""

from .api_keys import DEFAULT_KEY_HEADER, BasicKeyAuth, BearerKeyAuth, HeaderKeyAuth
from .base import SenderAuth, SenderRequest
from .body_key import BodyKeyAuth
from .signatures import SIGNATURE_SCHEMES
from .url_token import UrlTokenAuth

SCHEMES = (BearerKeyAuth, BasicKeyAuth, HeaderKeyAuth, UrlTokenAuth, BodyKeyAuth, *SIGNATURE_SCHEMES)
SCHEMES_BY_MODE = {scheme.mode: scheme for scheme in SCHEMES}
SIGNATURE_MODES = frozenset(scheme.mode for scheme in SIGNATURE_SCHEMES)


def sender_auth_for(webhook):
    """The scheme object of a webhook (anything with `auth_mode`, `workspace_id` and the
    settings its scheme reads)."""
    return SCHEMES_BY_MODE[webhook.auth_mode].for_webhook(webhook)


__all__ = [
    "DEFAULT_KEY_HEADER",
    "SCHEMES",
    "SCHEMES_BY_MODE",
    "SIGNATURE_MODES",
    "BasicKeyAuth",
    "BodyKeyAuth",
    "BearerKeyAuth",
    "HeaderKeyAuth",
    "SenderAuth",
    "SenderRequest",
    "UrlTokenAuth",
    "sender_auth_for",
]
