"""The workspaces of a request's caller: one answer for the admin and the REST API."""

from .models import Workspace


def caller_workspace_ids(request):
    """The ids of `Workspace.objects.for_user(request.user)`, memoised on the request.

    Memoised because the admin asks once per permission check and per choice field, and the
    API once per queryset and related field.
    """
    if not hasattr(request, "_caller_workspace_ids"):
        workspaces = Workspace.objects.for_user(request.user)
        request._caller_workspace_ids = frozenset(workspaces.values_list("id", flat=True))
    return request._caller_workspace_ids
