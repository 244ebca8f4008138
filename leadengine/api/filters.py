from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend

from .scoping import DECIMAL_ID, find_caller_workspace


def query_parameter(name, description, schema_type="string", **schema):
    """An OpenAPI query parameter, as filter backends describe them to the schema."""
    return {
        "name": name,
        "required": False,
        "in": "query",
        "description": description,
        "schema": {"type": schema_type, **schema},
    }


def integer_query_value(request, name):
    """A positive integer query parameter, None when absent; a 400 naming it when malformed."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if not DECIMAL_ID.fullmatch(raw):
        raise ValidationError({name: [f"Expected an id (a positive integer), got {raw!r}."]})
    return int(raw)


class ListOnlyFilter(BaseFilterBackend):
    """Filters apply to lists; a detail URL with a stray query string is not filtered."""

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", None) != "list":
            return queryset
        return self.filter_list(request, queryset, view)

    def filter_list(self, request, queryset, view):
        raise NotImplementedError


class WorkspaceFilter(ListOnlyFilter):
    """`?workspace=<slug or id>` narrows a list to one of the caller's workspaces."""

    def filter_list(self, request, queryset, view):
        reference = request.query_params.get("workspace")
        if not reference:
            return queryset
        workspace = find_caller_workspace(request, reference)
        if workspace is None:
            raise ValidationError({"workspace": [f"No workspace {reference!r} among yours."]})
        return queryset.filter(**{view.workspace_path: workspace})

    def get_schema_operation_parameters(self, view):
        return [query_parameter("workspace", "Only objects of this workspace (slug or id).")]
