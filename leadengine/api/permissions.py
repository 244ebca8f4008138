from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from leadengine.models import ApiKey, ApiKeyScope
from leadengine.scoping import caller_workspace_ids

from .scoping import caller_key_workspace_id


class IsWorkspaceCaller(BasePermission):
    """An API key, or an active session user who belongs to a workspace (or is a superuser)."""

    message = "Authenticate with an API key, or sign in as a member of a workspace."

    def has_permission(self, request, view):
        if caller_key_workspace_id(request) is not None:
            return True
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        return user.is_superuser or bool(caller_workspace_ids(request))


def required_scope(view, method):
    """The scope an API key needs for `method` on `view`.

    A view that sets `api_key_scope` needs it for every method: the webhook and key resources
    say `api:manage`, because even reading them shows configuration (destinations, mappings,
    who holds which key) and their actions rotate secrets and send requests. Any other
    resource needs `api:read` to read and `api:write` to change.
    """
    declared = getattr(view, "api_key_scope", None)
    if declared is not None:
        return declared
    return ApiKeyScope.API_READ if method in SAFE_METHODS else ApiKeyScope.API_WRITE


class ApiKeyHasScope(BasePermission):
    """An API key holds the scope the request needs (see `required_scope`); a signed-in user
    is not scoped, their membership decides. Refused with 403 naming the missing scope."""

    def has_permission(self, request, view):
        if not isinstance(request.auth, ApiKey):
            return True
        scope = required_scope(view, request.method)
        if not request.auth.has_scope(scope):
            raise PermissionDenied(f"This API key lacks the scope {scope}.")
        return True
