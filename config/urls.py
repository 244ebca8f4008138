from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from leadengine.views import metrics_view

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("webhooks/", include("webhooks.inbound.urls")),
    # Prometheus scrape; off (404) unless METRICS_TOKEN or METRICS_ALLOWED_IPS is set.
    path("metrics", metrics_view, name="metrics"),
]

# JSON under /api/ and /webhooks/, Django's HTML pages elsewhere (config/errors.py).
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
