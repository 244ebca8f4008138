from django.urls import re_path

from .views import InboundWebhookView

app_name = "inbound"

urlpatterns = [
    # Trailing slash optional: senders paste the URL as shown, with or without one.
    re_path(r"^(?P<public_id>[A-Za-z0-9_-]{1,200})/?$", InboundWebhookView.as_view(), name="receive"),
]
