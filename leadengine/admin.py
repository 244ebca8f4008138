from django.contrib import admin

from .admin_scoping import WorkspaceScopedAdmin, WorkspaceScopedInline
from .models import Membership, Workspace


class SuperuserWritesMixin:
    """Operators may look at workspaces and memberships; only superusers change them
    (the user choice list would otherwise show every account on the installation)."""

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class MembershipInline(SuperuserWritesMixin, WorkspaceScopedInline, admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Workspace)
class WorkspaceAdmin(SuperuserWritesMixin, WorkspaceScopedAdmin):
    workspace_path = "id"
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(SuperuserWritesMixin, WorkspaceScopedAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace"]
    list_select_related = ["user", "workspace"]
