"""The project's URLs plus views that fail, to see what the server's own error pages answer."""

from django.db import InterfaceError, OperationalError
from django.urls import path

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401 (the handlers under test)
from config.urls import urlpatterns as project_urlpatterns


def broken_view(request):
    raise RuntimeError("a bug")


def database_gone_view(request):
    raise OperationalError("terminating connection due to administrator command")


def connection_closed_view(request):
    raise InterfaceError("connection already closed")


urlpatterns = [
    path("api/v1/database-gone/", database_gone_view),
    path("webhooks/database-gone/now", connection_closed_view),
    path("admin/database-gone/", database_gone_view),
    path("api/v1/broken/", broken_view),
    path("webhooks/broken/now", broken_view),
    path("admin/broken/", broken_view),
    *project_urlpatterns,
]
