from django.contrib import admin
from django.urls import NoReverseMatch, reverse


class LeadEngineAdminSite(admin.AdminSite):
    """The operators' product: branded, with a "Settings" section on the index.

    Apps above `leadengine` add their pages to Settings with `add_settings_page()`, so this
    module never imports them.
    """

    site_header = "LeadEngine"
    site_title = "LeadEngine"
    index_title = "LeadEngine"
    site_url = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._settings_pages = []

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
        if app_label is None:
            settings_app = self.settings_app(request)
            if settings_app:
                app_list.insert(0, settings_app)
        return app_list
