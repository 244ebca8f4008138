"""Schemes where the sender presents one of the workspace's API keys: Bearer (the default),
HTTP Basic with the key as password, and the key in a named header."""

import base64
import binascii

from rest_framework.exceptions import AuthenticationFailed

from leadengine.authentication import ApiKeyAuthentication, bearer_key
from leadengine.models import ApiKey, ApiKeyScope

from ..errors import InboundError
from .base import SenderAuth

DEFAULT_KEY_HEADER = "X-API-Key"


class ApiKeyAuth(SenderAuth):
    """A live key of the webhook's workspace holding the `webhooks:receive` scope; subclasses
    say where the key is (`presented_key`, None when absent)."""

    missing_message = ""

    def presented_key(self, headers):
        raise NotImplementedError

    def check(self, request):
        try:
            raw_key = self.presented_key(request.headers)
            if raw_key is None:
                raise self.refuse("missing api key", self.missing_message, code="not_authenticated")
            # Another workspace's key is answered like a wrong key, so it confirms nothing
            # about the key: not whether it is revoked, nor which scopes it holds.
            _user, api_key = ApiKeyAuthentication().authenticate_key(raw_key, workspace_id=self.workspace_id)
        except AuthenticationFailed as exc:
            raise self.refuse("invalid api key", str(exc.detail), code="authentication_failed") from None
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
            raw_key = self.presented_key(headers)
        except AuthenticationFailed:
            return ""
        prefix = ApiKey.split_prefix(raw_key) if raw_key else None
        if not prefix or self.workspace_id is None:
            return prefix or ""
        return prefix if ApiKey.objects.filter(prefix=prefix, workspace_id=self.workspace_id).exists() else ""


class BearerKeyAuth(ApiKeyAuth):
    """`Authorization: Bearer <api key>`, parsed exactly as the REST API parses it."""

    mode = "bearer"
    label = "Bearer API key (Authorization: Bearer <key>)"
    challenge = 'Bearer realm="api"'
    missing_message = "Missing API key: send “Authorization: Bearer <api key>”."

    def presented_key(self, headers):
        return bearer_key(headers.get("Authorization", "").encode("iso-8859-1", errors="replace"))


class BasicKeyAuth(ApiKeyAuth):
    """`Authorization: Basic base64(user:key)`: for senders that only offer a username and a
    password (Pipedrive). The key is the password; the username is ignored, and a key given as
    the username with an empty password (`curl -u key:`) is taken too."""

    mode = "basic"
    label = "HTTP Basic (API key as the password)"
    challenge = 'Basic realm="webhook", charset="UTF-8"'
    missing_message = "Missing credentials: send HTTP Basic auth with the API key as the password."

    def presented_key(self, headers):
        scheme, _, encoded = headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationFailed("Malformed Basic credentials: base64 of “user:api key”.") from None
        user, colon, password = decoded.partition(":")
        if not colon:
            raise AuthenticationFailed("Malformed Basic credentials: base64 of “user:api key”.")
        return password or user or None


class HeaderKeyAuth(ApiKeyAuth):
    """The key alone in a named header (`X-API-Key` unless the webhook names another), for
    senders that let you add a header but not an Authorization scheme."""

    mode = "api_key_header"
    label = "API key in a header (X-API-Key or named)"

    @property
    def header_name(self):
        return getattr(self.settings, "auth_header", "") or DEFAULT_KEY_HEADER

    @property
    def challenge(self):
        return f'ApiKey header="{self.header_name}"'

    @property
    def missing_message(self):
        return f"Missing API key: send it in the {self.header_name} header."

    def presented_key(self, headers):
        value = headers.get(self.header_name, "").strip()
        return value or None
