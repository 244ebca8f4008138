"""`Authorization: Bearer <api key>` for DRF views (inbound webhooks, the REST API).

On success `request.user` is an `ApiKeyUser` (authenticated, not staff, no Django
permissions, carries `.workspace_id`) and `request.auth` is the `ApiKey`. A missing header
yields no authentication (DRF then answers 401 from `authenticate_header`); a malformed,
unknown, wrong or revoked key raises AuthenticationFailed, also a 401 with
`WWW-Authenticate: Bearer realm="api"`.
"""

from rest_framework import authentication, exceptions

from .models import ApiKey

# Compared against when no row matches, so an unknown prefix costs the same hash + compare.
_DUMMY_HASH = ApiKey.hash_key("le_live_dummy_dummy")


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
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use “Bearer <api key>”.")
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        return self.authenticate_key(raw_key)

    def authenticate_key(self, raw_key):
        prefix = ApiKey.split_prefix(raw_key)
        api_key = ApiKey.objects.filter(prefix=prefix).first() if prefix else None
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
