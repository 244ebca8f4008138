from django import forms
from django.contrib import admin
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .admin_scoping import WorkspaceScopedAdmin, WorkspaceScopedForm, WorkspaceScopedInline
from .models import ApiKey, ApiKeyScope, Membership, Workspace, ordered_scopes, receive_only_scopes
from .services import api_key_revoke

NEW_KEY_SESSION = "leadengine_new_api_key"


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


class ApiKeyForm(WorkspaceScopedForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiKeyScope.choices,
        initial=receive_only_scopes,
        widget=forms.CheckboxSelectMultiple,
        help_text="A key pasted into a form vendor or Zapier only needs Receive: if it leaks, it can "
        "add leads but not read them or change your webhooks. Give Read, Write or Manage only to "
        "a script that uses the REST API.",
    )

    class Meta:
        model = ApiKey
        fields = ["workspace", "name", "scopes"]

    def clean_scopes(self):
        return ordered_scopes(self.cleaned_data["scopes"])


@admin.register(ApiKey)
class ApiKeyAdmin(WorkspaceScopedAdmin):
    """Settings ▸ API Keys: create (the key is shown once, on the page after saving), list,
    change scopes, revoke. New keys are receive-only unless the operator ticks more."""

    form = ApiKeyForm
    list_display = [
        "name",
        "prefix_shown",
        "workspace",
        "scopes_shown",
        "created_at",
        "last_used_at",
        "state",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "workspace"]
    list_select_related = ["workspace"]
    search_fields = ["name", "prefix"]
    actions = ["revoke_selected"]
    preselect_only_workspace = True

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["workspace", "name", "scopes"]
        return [
            "name",
            "scopes",
            "workspace",
            "prefix_shown",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["workspace", "prefix_shown", "created_by", "created_at", "last_used_at", "revoked_at"]

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row keeps who used what, and when

    @admin.display(description="Key", ordering="prefix")
    def prefix_shown(self, obj):
        return f"{obj.prefix}_…"

    @admin.display(description="Scopes")
    def scopes_shown(self, obj):
        return ", ".join(obj.scopes)

    @admin.display(description="State", ordering="revoked_at")
    def state(self, obj):
        return f"Revoked {obj.revoked_at:%Y-%m-%d %H:%M}" if obj.revoked_at else "Active"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
            request._new_api_key = obj.set_new_key()
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        # Post/redirect/get: reloading the page that shows the key must not create another.
        # The full key waits in the session until that page pops it (shown once); it is not
        # stored on the key, logged or put in a URL.
        request.session[NEW_KEY_SESSION] = {"pk": obj.pk, "key": request._new_api_key}
        return redirect("admin:leadengine_apikey_created", obj.pk)

    def created_view(self, request, object_id):
        api_key = self.get_object(request, object_id)
        pending = request.session.get(NEW_KEY_SESSION) or {}
        if api_key is None or pending.get("pk") != api_key.pk:
            self.message_user(
                request, "That key was shown once and is not kept; create a new one if it was lost."
            )
            return redirect("admin:leadengine_apikey_changelist")
        del request.session[NEW_KEY_SESSION]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "api_key": api_key,
            "full_key": pending["key"],
            "title": "Copy your new API key",
        }
        response = TemplateResponse(request, "admin/leadengine/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API keys")
    def revoke_selected(self, request, queryset):
        keys = list(queryset.filter(revoked_at__isnull=True))
        for api_key in keys:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {len(keys)} API key(s). Requests using them now get 401.")

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/created/",
                self.admin_site.admin_view(self.created_view),
                name="leadengine_apikey_created",
            ),
            path(
                "<path:object_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="leadengine_apikey_revoke",
            ),
        ]
        return urls + super().get_urls()

    def revoke_view(self, request, object_id):
        api_key = self.get_object(request, object_id)
        if api_key is None:
            raise Http404("No such API key in your workspaces.")
        if request.method == "POST":
            api_key_revoke(api_key=api_key)
            self.message_user(request, f"Revoked {api_key}. Requests using it now get 401.")
            return redirect("admin:leadengine_apikey_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "api_key": api_key,
            "title": f"Revoke {api_key}?",
        }
        return TemplateResponse(request, "admin/leadengine/apikey/revoke.html", context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.revoked_at is None:
            context["revoke_url"] = reverse("admin:leadengine_apikey_revoke", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    change_form_template = "admin/leadengine/apikey/change_form.html"


admin.site.add_settings_page(name="API Keys", url_name="admin:leadengine_apikey_changelist", order=20)
