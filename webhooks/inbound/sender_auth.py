"""How a sender proves who it is: one strategy object per inbound webhook.

A strategy has `authenticate(headers, raw_body)`, returning the `ApiKey` to act as (or None
for schemes without one) or raising a 401 (403 for a key of the workspace that lacks the
`webhooks:receive` scope) `InboundError`, and `presented_prefix(headers)`,
the non-secret part of a credential for the request log. It is given the raw body so a
signature scheme (the sender signing the bytes it sent) can be added beside the API key.
"""

from rest_framework.exceptions import AuthenticationFailed

from leadengine.authentication import ApiKeyAuthentication, bearer_key
from leadengine.models import ApiKey, ApiKeyScope

from .errors import InboundError

_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api"'}


def _refused(code, message):
    return InboundError(401, code, message, headers=_BEARER_CHALLENGE)


class BearerKeyAuth:
    """`Authorization: Bearer <api key>` with a live key of the webhook's workspace that holds
    the `webhooks:receive` scope."""

    def __init__(self, *, workspace_id=None):
        self.workspace_id = workspace_id

    @staticmethod
    def _presented_key(headers):
        """The key after `Bearer` (None without a Bearer header), parsed exactly as the REST
        API parses it; raises AuthenticationFailed for a malformed header."""
        return bearer_key(headers.get("Authorization", "").encode("iso-8859-1", errors="replace"))

    def authenticate(self, headers, raw_body):
        try:
            raw_key = self._presented_key(headers)
            if raw_key is None:
                raise _refused(
                    "not_authenticated", "Missing API key: send “Authorization: Bearer <api key>”."
                )
            # Another workspace's key is answered like a wrong key, so it confirms nothing
            # about the key: not whether it is revoked, nor which scopes it holds.
            _user, api_key = ApiKeyAuthentication().authenticate_key(raw_key, workspace_id=self.workspace_id)
        except AuthenticationFailed as exc:
            raise _refused("authentication_failed", str(exc.detail)) from None
        if not api_key.has_scope(ApiKeyScope.WEBHOOKS_RECEIVE):
            # The key is this workspace's own: naming the scope tells its operator the fix.
            raise InboundError(
                403, "permission_denied", f"This API key lacks the scope {ApiKeyScope.WEBHOOKS_RECEIVE}."
            )
        return api_key

    def presented_prefix(self, headers):
        """The non-secret prefix of the key a request presented, to troubleshoot refusals.

        Only a key of this webhook's workspace is named: the log is this workspace's, and
        another workspace's prefix in it would tell its operators that key exists. Without a
        workspace (unknown webhook id, 405) the row is seen by superusers only.
        """
        try:
            raw_key = self._presented_key(headers)
        except AuthenticationFailed:
            return ""
        prefix = ApiKey.split_prefix(raw_key) if raw_key else None
        if not prefix or self.workspace_id is None:
            return prefix or ""
        return prefix if ApiKey.objects.filter(prefix=prefix, workspace_id=self.workspace_id).exists() else ""
