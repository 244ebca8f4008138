"""Which workspaces an API caller may touch.

An API-key request is scoped to the key's workspace (the key authentication class sets
`request.auth` to the key, which has `.workspace_id`). A session user is scoped to the
workspaces they belong to; a superuser to all of them.
"""

import re

from leadengine.models import Workspace

# ASCII digits only: str.isdigit() accepts "³", which int() refuses. 18 digits fit a bigint.
DECIMAL_ID = re.compile(r"[0-9]{1,18}")


def caller_key_workspace_id(request):
    """The workspace id of the API key that authenticated the request, or None for a session."""
    return getattr(request.auth, "workspace_id", None)


def caller_workspaces(request):
    key_workspace_id = caller_key_workspace_id(request)
    if key_workspace_id is not None:
        return Workspace.objects.filter(id=key_workspace_id)
    if not request.user.is_authenticated:
        return Workspace.objects.none()
    return Workspace.objects.for_user(request.user)


def caller_workspace_ids(request):
    """The ids of `caller_workspaces(request)`, memoised on the request."""
    if not hasattr(request, "_api_workspace_ids"):
        request._api_workspace_ids = frozenset(caller_workspaces(request).values_list("id", flat=True))
    return request._api_workspace_ids


def caller_actor(request):
    """Who to credit for a change: the user of a session, else the API key."""
    return request.user if request.user.is_authenticated else request.auth


def find_caller_workspace(request, reference):
    """A workspace of the caller named by slug or id, or None.

    The slug is tried first, because a slug may be all digits.
    """
    workspaces = caller_workspaces(request)
    reference = str(reference).strip()
    found = workspaces.filter(slug=reference).first()
    if found is None and DECIMAL_ID.fullmatch(reference):
        found = workspaces.filter(id=int(reference)).first()
    return found
