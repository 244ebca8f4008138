"""The project's URLs plus views that fail, to see what the server's own error pages answer."""

from django.urls import path

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401 (the handlers under test)
from config.urls import urlpatterns as project_urlpatterns


def broken_view(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("api/v1/broken/", broken_view),
    path("webhooks/broken/now", broken_view),
    path("admin/broken/", broken_view),
    *project_urlpatterns,
]
