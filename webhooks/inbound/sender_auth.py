"""How a sender proves who it is: one strategy object per inbound webhook.

A strategy has `authenticate(headers, raw_body)`, returning the `ApiKey` to act as (or None
for schemes without one) or raising a 401 `InboundError`, and `presented_prefix(headers)`,
the non-secret part of a credential for the request log. It is given the raw body so a
signature scheme (the sender signing the bytes it sent) can be added beside the API key.
"""

from rest_framework.exceptions import AuthenticationFailed

from leadengine.authentication import ApiKeyAuthentication
from leadengine.models import ApiKey

from .errors import InboundError

_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api"'}


def _refused(code, message):
    return InboundError(401, code, message, headers=_BEARER_CHALLENGE)


class BearerKeyAuth:
    """`Authorization: Bearer <api key>` with a live key of the webhook's workspace."""

    def __init__(self, *, workspace_id=None):
        self.workspace_id = workspace_id

    @staticmethod
    def _credentials(headers):
        """The words after `Bearer` (None without a Bearer header), split on ASCII whitespace
        as the REST API's authentication does, and kept ASCII-only (None for a word that isn't)."""
        header = headers.get("Authorization", "").encode("iso-8859-1", errors="replace").split()
        if not header or header[0].lower() != b"bearer":
            return None
        return [word.decode("ascii") if word.isascii() else None for word in header[1:]]

    def authenticate(self, headers, raw_body):
        credentials = self._credentials(headers)
        if credentials is None:
            raise _refused("not_authenticated", "Missing API key: send “Authorization: Bearer <api key>”.")
        if len(credentials) != 1:
            raise _refused("authentication_failed", "Malformed Authorization header: use “Bearer <api key>”.")
        if credentials[0] is None:
            raise _refused("authentication_failed", "Invalid API key.")
        try:
            _user, api_key = ApiKeyAuthentication().authenticate_key(credentials[0])
        except AuthenticationFailed as exc:
            raise _refused("authentication_failed", str(exc.detail)) from None
        if api_key.workspace_id != self.workspace_id:
            # Answered like a wrong key, so it confirms nothing about the key.
            raise _refused("authentication_failed", "Invalid API key.")
        return api_key

    def presented_prefix(self, headers):
        """The non-secret prefix of the key a request presented, to troubleshoot 401s."""
        credentials = self._credentials(headers)
        if credentials and len(credentials) == 1 and credentials[0] is not None:
            return ApiKey.split_prefix(credentials[0]) or ""
        return ""
