from rest_framework import status, viewsets
from rest_framework.response import Response

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


class ShownOnceCreateMixin:
    """Create answers with `created_serializer_class`: the new object plus what is shown this
    once (a key, a secret, a token URL), never cached (`NO_STORE`). `shown_once()` adds what
    only the serializer holds after saving."""

    created_serializer_class = None

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = serializer.save()
        body = self.created_serializer_class(instance, context=self.get_serializer_context()).data
        return Response(
            {**body, **self.shown_once(serializer)}, status=status.HTTP_201_CREATED, headers=NO_STORE
        )

    def shown_once(self, serializer):
        return {}
