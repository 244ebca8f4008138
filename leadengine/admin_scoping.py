"""Workspace isolation for the admin: one mixin every workspace-owned model admin uses."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Workspace


def user_workspace_ids(request):
    """The ids of the workspaces the request's user belongs to (memoised per request)."""
    if not hasattr(request, "_workspace_ids"):
        request._workspace_ids = set(Workspace.objects.for_user(request.user).values_list("id", flat=True))
    return request._workspace_ids


def scoped_related_queryset(model, request):
    """The rows of `model` a user may pick: their workspaces, or objects owned by them."""
    queryset = model._default_manager.all()
    if request.user.is_superuser:
        return queryset
    if model is Workspace:
        return queryset.filter(id__in=user_workspace_ids(request))
    field_names = {field.name for field in model._meta.get_fields()}
    if "workspace" in field_names:
        return queryset.filter(workspace__in=user_workspace_ids(request))
    if "webhook" in field_names:
        return queryset.filter(webhook__workspace__in=user_workspace_ids(request))
    return queryset.none()  # not workspace-owned: nothing to offer an operator


class WorkspaceRelatedListFilter(admin.RelatedFieldListFilter):
    """A related-object list filter offering only objects of the user's workspaces."""

    def field_choices(self, field, request, model_admin):
        return [(obj.pk, str(obj)) for obj in scoped_related_queryset(field.related_model, request)]


class WorkspaceScopedAdmin(admin.ModelAdmin):
    """A staff user who is not a superuser sees, chooses and edits only their workspaces.

    `workspace_path` is the ORM path from the model to its workspace ("workspace",
    "lead__workspace"). Objects outside the user's workspaces are missing from querysets,
    so their change URLs answer 404 and they never appear among foreign-key choices.
    """

    workspace_path = "workspace"

    # Members of a workspace operate it without per-model Django permissions.
    def _is_operator(self, request):
        user = request.user
        # bool(): the admin index keeps a model only if a permission `is True`; a non-empty
        # set of ids is truthy but not True, and hid every model from operators.
        return bool(user.is_active and user.is_staff and (user.is_superuser or user_workspace_ids(request)))

    def has_module_permission(self, request):
        return self._is_operator(request)

    def has_view_permission(self, request, obj=None):
        return self._is_operator(request)

    def has_add_permission(self, request):
        return self._is_operator(request)

    def has_change_permission(self, request, obj=None):
        return self._is_operator(request)

    def has_delete_permission(self, request, obj=None):
        return self._is_operator(request)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.workspace_path}__in": user_workspace_ids(request)})

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # The stock admin redirects to the index; another workspace's object is a plain 404.
        raise Http404(f"No {opts.verbose_name} with id {object_id!r} in your workspaces.")

    def _scope_choices(self, db_field, request, kwargs):
        if not request.user.is_superuser:
            kwargs["queryset"] = scoped_related_queryset(db_field.related_model, request)

    def get_list_filter(self, request):
        # The stock related-object filter lists every row of every workspace: scope it.
        return [self._scoped_list_filter(entry) for entry in super().get_list_filter(request)]

    def _scoped_list_filter(self, entry):
        if isinstance(entry, str) and "__" not in entry and self.model._meta.get_field(entry).is_relation:
            return (entry, WorkspaceRelatedListFilter)
        return entry

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        workspace_id = getattr(obj, "workspace_id", None)
        if (
            not request.user.is_superuser
            and workspace_id is not None
            and workspace_id not in user_workspace_ids(request)
        ):
            raise PermissionDenied
        super().save_model(request, obj, form, change)


class WorkspaceScopedInline:
    """Inline counterpart: related choices limited to the user's workspaces."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        WorkspaceScopedAdmin._scope_choices(self, db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        WorkspaceScopedAdmin._scope_choices(self, db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_view_permission(self, request, obj=None):
        return WorkspaceScopedAdmin._is_operator(self, request)

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission
