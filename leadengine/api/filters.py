"""Query-string filters of the API's lists, declared as django-filter filter sets.

A list view names its `filterset_class` (a `WorkspaceFilterSet`); the default filter backend
(`ListFilterBackend`, settings.REST_FRAMEWORK) validates the parameters, answers a bad value
with a 400 naming it (through the project's error handler) and documents every parameter in
the OpenAPI schema.
"""

import django_filters
from django import forms
from django.core.exceptions import ValidationError as FormValidationError
from django.utils.dateparse import parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

from .scoping import DECIMAL_ID, find_caller_workspace


class ListFilterBackend(DjangoFilterBackend):
    """Filters apply to lists; a detail URL with a stray query string is not filtered."""

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", None) != "list":
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_filterset_kwargs(self, request, queryset, view):
        # `?workspace=` follows the view's path to the workspace ("webhook__workspace").
        return {
            **super().get_filterset_kwargs(request, queryset, view),
            "workspace_path": view.workspace_path,
        }


class WorkspaceFilterSet(django_filters.FilterSet):
    """`?workspace=<slug or id>` narrows a list to one of the caller's workspaces."""

    workspace = django_filters.CharFilter(
        method="filter_workspace", help_text="Only objects of this workspace (slug or id)."
    )

    def __init__(self, *args, workspace_path="workspace", **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace_path = workspace_path

    def filter_workspace(self, queryset, name, reference):
        workspace = find_caller_workspace(self.request, reference)
        if workspace is None:
            raise ValidationError({"workspace": [f"No workspace {reference!r} among yours."]})
        return queryset.filter(**{self.workspace_path: workspace})


class _SchemaTyped:
    """A filter whose OpenAPI type is `openapi_schema`.

    drf-spectacular reads a declared type instead of the filter's help_text, so the
    description goes into the declared type too.
    """

    openapi_schema = {}

    def __init__(self, *args, help_text, **kwargs):
        super().__init__(*args, help_text=help_text, **kwargs)
        extend_schema_field({**self.openapi_schema, "description": help_text})(self)


class IdField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(strip=False, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        # ASCII digits, at most 18 (a bigint): a longer number would overflow the database.
        if not DECIMAL_ID.fullmatch(value):
            raise FormValidationError(f"Expected an id (a positive integer), got {value!r}.", code="invalid")
        return int(value)


class IdFilter(_SchemaTyped, django_filters.Filter):
    """An id, or another non-negative integer (an HTTP status code)."""

    field_class = IdField
    openapi_schema = {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}


class BooleanChoiceFilter(_SchemaTyped, django_filters.TypedChoiceFilter):
    """`true` or `false`; anything else is a 400 (django-filter's BooleanFilter ignores it)."""

    openapi_schema = {"type": "boolean"}

    def __init__(self, **kwargs):
        super().__init__(
            choices=[("true", "true"), ("false", "false")],
            coerce=lambda value: value == "true",
            error_messages={"invalid_choice": "Expected true or false."},
            **kwargs,
        )


class AwareDateTimeField(forms.CharField):
    """An ISO 8601 date-time with its time zone: a naive one would be read in the server's."""

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            moment = parse_datetime(value)
        except ValueError:  # well-formed but impossible, e.g. month 13
            moment = None
        if moment is None:
            raise FormValidationError(f"Expected an ISO 8601 date-time, got {value!r}.", code="invalid")
        if moment.tzinfo is None:
            raise FormValidationError("Give a time zone (e.g. 2026-01-31T09:00:00Z).", code="invalid")
        return moment


class AwareDateTimeFilter(_SchemaTyped, django_filters.Filter):
    field_class = AwareDateTimeField
    openapi_schema = {"type": "string", "format": "date-time"}
