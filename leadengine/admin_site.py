from functools import partial

from django.contrib import admin
from django.urls import NoReverseMatch, path, reverse


class LeadEngineAdminSite(admin.AdminSite):
    """The operators' product: branded, with a "Settings" section on the index.

    Apps above `leadengine` serve pages of their own with `add_view()` and list them under
    Settings with `add_settings_page()`, so this module never imports them.
    """

    site_header = "LeadEngine"
    site_title = "LeadEngine"
    index_title = "LeadEngine"
    site_url = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._settings_pages = []
        self._extra_views = []

    def add_view(self, *, route, view, name):
        """Serve `view(request, admin_site=self)` at `route`, for staff only, as `admin:<name>`:
        a page that belongs to no model needs no ModelAdmin to hang it on."""
        self._extra_views.append((route, view, name))

    def get_urls(self):
        extra = [
            path(route, self.admin_view(partial(view, admin_site=self)), name=name)
            for route, view, name in self._extra_views
        ]
        return [*extra, *super().get_urls()]

    def add_settings_page(self, *, name, url_name, order=100):
        """Show a page under Settings on the index and in the navigation sidebar."""
        self._settings_pages.append((order, name, url_name))

    def settings_app(self, request):
        models = []
        for _order, name, url_name in sorted(self._settings_pages):
            try:
                url = reverse(url_name, current_app=self.name)
            except NoReverseMatch:
                continue
            object_name = name.replace(" ", "")
            models.append(
                {
                    "name": name,
                    "object_name": object_name,
                    "admin_url": url,
                    "add_url": None,
                    "view_only": True,
                    "perms": {"view": True},
                }
            )
        if not models or not request.user.is_staff:
            return None
        return {
            "name": "Settings",
            "app_label": "settings",
            "app_url": models[0]["admin_url"],
            "has_module_perms": True,
            "models": models,
        }

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        settings_app = self.settings_app(request)
        if settings_app:
            app_list = self._without_pages(app_list, {m["admin_url"] for m in settings_app["models"]})
            if app_label is None:
                app_list.insert(0, settings_app)
        return app_list

    @staticmethod
    def _without_pages(app_list, urls):
        """A model list that is also a Settings page is listed once, under Settings (else the
        navigation showed "API keys" twice: Settings ▸ API Keys and Workspaces ▸ API keys)."""
        trimmed = []
        for app in app_list:
            models = [model for model in app["models"] if model["admin_url"] not in urls]
            if models:
                trimmed.append({**app, "models": models})
        return trimmed
