"""`Authorization: Bearer <api key>` for DRF views (inbound webhooks, the REST API).

On success `request.user` is an `ApiKeyUser` (authenticated, not staff, no Django
permissions, carries `.workspace_id`) and `request.auth` is the `ApiKey`. A missing header
yields no authentication (DRF then answers 401 from `authenticate_header`); a malformed,
unknown, wrong or revoked key raises AuthenticationFailed, also a 401 with
`WWW-Authenticate: Bearer realm="api"`.

`bearer_key` is the one parser of the header, shared with the inbound endpoint, so both
surfaces accept and refuse exactly the same values.
"""

import re

from rest_framework import authentication, exceptions

from .models import ApiKey
from .prepared import IdsIn, PreparedQuery, column_names, instance_from_row

# Compared against when no row matches, so an unknown prefix costs the same hash + compare.
_DUMMY_HASH = ApiKey.hash_key("le_live_dummy_dummy")

# RFC 6750 §2.1: `"Bearer" 1*SP b64token`. The scheme name is case-insensitive (RFC 7235
# §2.1), so `bearer` is accepted. Between scheme and key we take exactly one space, although
# the grammar allows several: extra spaces or a tab come from a mis-built template, and
# refusing them with a clear message beats guessing. The key itself is visible ASCII.
_BEARER_SCHEME = re.compile(rb"bearer(?:[ \t]|$)", re.IGNORECASE)
_BEARER_CREDENTIALS = re.compile(rb"bearer (?P<key>[\x21-\x7e]+)", re.IGNORECASE)
MALFORMED_BEARER = "Malformed Authorization header: use “Bearer <api key>” with one space."


def bearer_key(header):
    """The key of an `Authorization` header value (bytes), or None when the header is absent
    or names another scheme (Basic, a session...). Raises AuthenticationFailed when it says
    Bearer but isn't `Bearer <key>` with one space and a key of visible ASCII characters."""
    value = header.strip(b" \t")  # whitespace around a field value is not part of it (RFC 9110 §5.5)
    if not _BEARER_SCHEME.match(value):
        return None
    credentials = _BEARER_CREDENTIALS.fullmatch(value)
    if credentials is None:
        if any(byte > 0x7E for byte in value):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        raise exceptions.AuthenticationFailed(MALFORMED_BEARER)
    return credentials["key"].decode("ascii")


class ApiKeyUser:
    """The principal of a request authenticated by an API key: a workspace, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = id = None

    def __init__(self, api_key):
        self.api_key = api_key
        self.workspace_id = api_key.workspace_id
        self.username = f"api-key:{api_key.prefix}"

    def __str__(self):
        return self.username

    def has_perm(self, perm, obj=None):
        return False

    def has_perms(self, perm_list, obj=None):
        return False

    def has_module_perms(self, app_label):
        return False


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"
    www_authenticate_realm = "api"

    def authenticate(self, request):
        raw_key = bearer_key(authentication.get_authorization_header(request))
        if raw_key is None:
            return None
        return self.authenticate_key(raw_key)

    def authenticate_key(self, raw_key, *, workspace_id=None):
        """The (user, key) of a live key. With `workspace_id`, a key of another workspace is
        not found at all: refused like an unknown key (same message and cost), before its
        revocation is revealed or its use recorded."""
        prefix = ApiKey.split_prefix(raw_key)
        api_key = _api_key_find(prefix, workspace_id) if prefix else None
        if api_key is None:
            ApiKey(key_hash=_DUMMY_HASH).matches(raw_key)
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not api_key.matches(raw_key):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if api_key.is_revoked:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        api_key.touch()
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="{self.www_authenticate_realm}"'


# The lookup of every authenticated request (REST API and inbound posts), compiled once per
# process: with and without the workspace the key must belong to.
_api_keys_by_prefix = PreparedQuery(
    lambda: (
        ApiKey.objects.filter(IdsIn("prefix", PreparedQuery.param(0)))
        .order_by("pk")
        .values_list(*column_names(ApiKey))[:1]
    ),
    server_prepared=True,
)
_api_keys_by_prefix_in_workspace = PreparedQuery(
    lambda: (
        ApiKey.objects.filter(
            IdsIn("prefix", PreparedQuery.param(0)), IdsIn("workspace_id", PreparedQuery.param(1))
        )
        .order_by("pk")
        .values_list(*column_names(ApiKey))[:1]
    ),
    server_prepared=True,
)


def _api_key_find(prefix, workspace_id):
    """The first key with this prefix (of this workspace when one is given), or None."""
    if workspace_id is None:
        rows = _api_keys_by_prefix.rows([prefix])
    else:
        rows = _api_keys_by_prefix_in_workspace.rows([prefix], [workspace_id])
    return instance_from_row(ApiKey, rows[0]) if rows else None
