from rest_framework.permissions import BasePermission

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
