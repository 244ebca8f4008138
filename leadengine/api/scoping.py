"""Which workspaces an API caller may touch.

An API-key request is scoped to the key's workspace (the key authentication class sets
`request.auth` to the key, which has `.workspace_id`, and `request.user` to an `ApiKeyUser`).
A session user is scoped to the workspaces they belong to; a superuser to all of them. Both
answers come from `Workspace.objects.for_user` (ids: `leadengine.scoping.caller_workspace_ids`),
which the admin uses too.
"""

import re

from leadengine.models import Workspace

# ASCII digits only: str.isdigit() accepts "³", which int() refuses. 18 digits fit a bigint.
DECIMAL_ID = re.compile(r"[0-9]{1,18}")


def caller_key_workspace_id(request):
    """The workspace id of the API key that authenticated the request, or None for a session."""
    return getattr(request.auth, "workspace_id", None)


def caller_actor(request):
    """Who to credit for a change: the user of a session, else the API key."""
    return request.user if request.user.is_authenticated else request.auth


def find_caller_workspace(request, reference):
    """A workspace of the caller named by slug or id, or None.

    The slug is tried first, because a slug may be all digits.
    """
    workspaces = Workspace.objects.for_user(request.user)
    reference = str(reference).strip()
    if "\x00" in reference:
        return None  # no slug holds NUL, and PostgreSQL refuses it in a query (a 500, not a 400)
    found = workspaces.filter(slug=reference).first()
    if found is None and DECIMAL_ID.fullmatch(reference):
        found = workspaces.filter(id=int(reference)).first()
    return found
