from rest_framework import viewsets

from leadengine.scoping import caller_workspace_ids

from .filters import WorkspaceFilterSet
from .idempotency import IdempotencyKeyMixin
from .throttling import API_THROTTLE_CLASSES

# Headers of a response holding a secret (a new API key, a webhook signing secret): no
# browser or proxy cache may keep it.
NO_STORE = {"Cache-Control": "no-store"}


class WorkspaceScopedMixin(IdempotencyKeyMixin):
    """Every queryset of the view limited to the caller's workspaces; POSTs honour
    `Idempotency-Key` (`IdempotencyKeyMixin`).

    `workspace_path` is the ORM path from the model to its workspace. An object of another
    workspace is simply not found: detail URLs answer 404, lists leave it out. A list's
    query-string filters are its `filterset_class` (a `WorkspaceFilterSet`).
    """

    workspace_path = "workspace"
    filterset_class = WorkspaceFilterSet
    throttle_classes = API_THROTTLE_CLASSES

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.filter(**{f"{self.workspace_path}__in": caller_workspace_ids(self.request)})


class WorkspaceScopedViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):
    """CRUD for a workspace-owned model; pair it with a `WorkspaceOwnedSerializer`."""
