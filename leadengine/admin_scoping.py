"""Workspace isolation for the admin: one mixin every workspace-owned model admin uses."""

from django import forms
from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404

from .scoping import caller_workspace_ids


def scoped_related_queryset(model, request, admin_site):
    """The rows of `model` a user may pick: those of their workspaces.

    The path from `model` to its workspace is the one its own admin declares
    (`WorkspaceScopedAdmin.workspace_path`); a model without such an admin offers nothing.
    """
    queryset = model._default_manager.all()
    if request.user.is_superuser:
        return queryset
    try:
        model_admin = admin_site.get_model_admin(model)
    except NotRegistered:
        model_admin = None
    if not isinstance(model_admin, WorkspaceScopedAdmin):
        return queryset.none()  # not workspace-owned: nothing to offer an operator
    return queryset.filter(**{f"{model_admin.workspace_path}__in": caller_workspace_ids(request)})


class WorkspaceRelatedListFilter(admin.RelatedFieldListFilter):
    """A related-object list filter offering only objects of the user's workspaces."""

    def field_choices(self, field, request, model_admin):
        queryset = scoped_related_queryset(field.related_model, request, model_admin.admin_site)
        return [(obj.pk, str(obj)) for obj in queryset]


class WorkspaceScopedForm(forms.ModelForm):
    """Objects chosen in the form belong to the workspace chosen in the same form.

    Choices are limited to the user's workspaces, but an operator of several is offered all of
    theirs, so a list of workspace A could still be linked to a webhook of workspace B.
    """

    def clean(self):
        cleaned = super().clean()
        workspace = cleaned.get("workspace") if "workspace" in self.fields else None
        if workspace is None:
            return cleaned
        for name, field in self.fields.items():
            if isinstance(field, forms.ModelChoiceField) and name != "workspace":
                self._check_same_workspace(name, field, workspace)
        return cleaned

    def _check_same_workspace(self, name, field, workspace):
        chosen = self.cleaned_data.get(name)
        if chosen is None:
            return
        if not isinstance(field, forms.ModelMultipleChoiceField):
            chosen = [chosen]
        # Objects without a workspace of their own (a user) are not checked here.
        foreign = [str(obj) for obj in chosen if getattr(obj, "workspace_id", workspace.pk) != workspace.pk]
        if foreign:
            self.add_error(name, f"Not in workspace {workspace}: {', '.join(foreign)}.")


class WorkspaceScopedAdmin(admin.ModelAdmin):
    """A staff user who is not a superuser sees, chooses and edits only their workspaces.

    `workspace_path` is the ORM path from the model to its workspace ("workspace",
    "webhook__workspace"); other admins' choice lists and filters of this model follow it too.
    Objects outside the user's workspaces are missing from querysets, so their change URLs
    answer 404 and they never appear among foreign-key choices. The form (a
    `WorkspaceScopedForm`) refuses related objects of another workspace than the object's.
    `preselect_only_workspace` fills in the workspace of a new object when the user has one.
    """

    workspace_path = "workspace"
    form = WorkspaceScopedForm
    preselect_only_workspace = False

    # Members of a workspace operate it without per-model Django permissions.
    def _is_operator(self, request):
        user = request.user
        # bool(): the admin index keeps a model only if a permission `is True`; a non-empty
        # set of ids is truthy but not True, and hid every model from operators.
        return bool(user.is_active and user.is_staff and (user.is_superuser or caller_workspace_ids(request)))

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
        return queryset.filter(**{f"{self.workspace_path}__in": caller_workspace_ids(request)})

    def get_form(self, request, obj=None, change=False, **kwargs):
        if not issubclass(self.form, WorkspaceScopedForm):
            # Loud, because the check would otherwise be skipped without anyone noticing.
            raise ImproperlyConfigured(f"{type(self).__name__}.form must derive from WorkspaceScopedForm.")
        return super().get_form(request, obj, change=change, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        ids = caller_workspace_ids(request)
        if self.preselect_only_workspace and len(ids) == 1:
            return {"workspace": next(iter(ids)), **initial}
        return initial

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # The stock admin redirects to the index; another workspace's object is a plain 404.
        raise Http404(f"No {opts.verbose_name} with id {object_id!r} in your workspaces.")

    def _scope_choices(self, db_field, request, kwargs):
        if not request.user.is_superuser:
            kwargs["queryset"] = scoped_related_queryset(db_field.related_model, request, self.admin_site)

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
            and workspace_id not in caller_workspace_ids(request)
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
