from django.urls import re_path

from .views import InboundWebhookTokenView, InboundWebhookView

app_name = "inbound"

urlpatterns = [
    # Trailing slash optional: senders paste the URL as shown, with or without one. Any
    # segment reaches the view, so a mistyped id is a JSON 404, never Django's HTML page.
    re_path(r"^(?P<public_id>[^/]+)/?$", InboundWebhookView.as_view(), name="receive"),
    # A URL-token webhook's URL (senders that can only be given a URL); the token is never logged.
    re_path(
        r"^(?P<public_id>[^/]+)/(?P<url_token>[^/]+)/?$",
        InboundWebhookTokenView.as_view(),
        name="receive-token",
    ),
]
