from collections.abc import Mapping

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leadengine.models import Workspace
from leadengine.scoping import caller_workspace_ids

from .scoping import caller_key_workspace_id, find_caller_workspace


@extend_schema_field(OpenApiTypes.STR)
class WorkspaceField(serializers.Field):
    """The object's workspace: its slug in responses; a slug or id on create.

    The value is resolved by `WorkspaceOwnedSerializer` before the other fields, so
    related ids can be checked against it.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            "Slug (or id) of the workspace. Required on create only for a signed-in user who "
            "belongs to several workspaces; implied by an API key. Cannot change.",
        )
        super().__init__(**kwargs)

    def to_representation(self, workspace):
        return workspace.slug

    def to_internal_value(self, data):
        return self.parent.target_workspace


class WorkspaceOwnedSerializer(serializers.ModelSerializer):
    """Base of every serializer of a workspace-owned model.

    `target_workspace` (the instance's workspace, or the one a create names or implies) is
    known before field validation, so `WorkspaceRelatedField`s and other workspace-dependent
    checks use it. On create it is saved as the object's workspace.
    """

    workspace = WorkspaceField()

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            self.target_workspace = self._resolve_target_workspace(data)
        return super().to_internal_value(data)

    def get_validators(self):
        # DRF derives unique-together validators from the model's constraints; they demand a
        # `workspace` in every body. Uniqueness within the workspace is checked per field
        # instead (`unique_in_workspace`), so only validators the Meta declares apply.
        return list(getattr(self.Meta, "validators", []))

    def create(self, validated_data):
        validated_data["workspace"] = self.target_workspace
        return super().create(validated_data)

    def _resolve_target_workspace(self, data):
        reference = data.get("workspace")
        if reference in (None, ""):
            return self.instance.workspace if self.instance is not None else self._implied_workspace()
        if isinstance(reference, bool) or not isinstance(reference, str | int):
            raise _workspace_error("Expected a workspace slug or id.")
        named = find_caller_workspace(self.context["request"], reference)
        if self.instance is not None:
            if named != self.instance.workspace:
                raise _workspace_error("An object cannot move to another workspace.")
            return self.instance.workspace
        if named is None:
            raise _workspace_error(f"Workspace {reference!r} does not exist.")
        return named

    def _implied_workspace(self):
        """An API key's workspace, or a signed-in user's only workspace."""
        request = self.context["request"]
        workspaces = Workspace.objects.for_user(request.user)
        if caller_key_workspace_id(request) is not None:
            return workspaces.get()
        workspaces = list(workspaces[:2])
        if len(workspaces) == 1:
            return workspaces[0]
        if workspaces:
            raise _workspace_error("This field is required: you belong to several workspaces.")
        raise _workspace_error("You belong to no workspace.")


def _workspace_error(message):
    return serializers.ValidationError({"workspace": [message]})


class WorkspaceRelatedField(serializers.PrimaryKeyRelatedField):
    """An id of another object, accepted only from the target workspace.

    An id from another workspace reads "does not exist": the API never confirms that
    another workspace's object exists, let alone links to it.
    """

    def get_queryset(self):
        queryset = super().get_queryset()
        workspace = getattr(self.root, "target_workspace", None)
        if workspace is not None:
            return queryset.filter(workspace=workspace)
        return queryset.filter(workspace__in=caller_workspace_ids(self.context["request"]))


def unique_in_workspace(serializer, queryset, field, value):
    """A 400 naming `field` when another object of the target workspace has `value`."""
    others = queryset.filter(workspace=serializer.target_workspace, **{field: value})
    if serializer.instance is not None:
        others = others.exclude(pk=serializer.instance.pk)
    if others.exists():
        raise serializers.ValidationError(f"Another object of this workspace already has {field} {value!r}.")
    return value
