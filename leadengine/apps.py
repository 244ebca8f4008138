from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class LeadEngineAdminConfig(admin_apps.AdminConfig):
    """Every `admin.register` lands on the branded LeadEngine site."""

    default = False
    default_site = "leadengine.admin_site.LeadEngineAdminSite"


class LeadEngineConfig(AppConfig):
    default = True
    name = "leadengine"
    verbose_name = "Workspaces"
