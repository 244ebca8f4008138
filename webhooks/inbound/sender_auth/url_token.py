"""A secret token in the URL (`/webhooks/<id>/<token>`), for senders that can be given only a
URL (Mailchimp, Unbounce, Gravity Forms without an add-on). Weaker than a header: URLs end up
in proxy and server logs, so the editor says so and the token can be rotated."""

from .base import SenderAuth, equal


class UrlTokenAuth(SenderAuth):
    mode = "url_token"
    label = "Secret token in the URL (/webhooks/<id>/<token>)"
    challenge = 'Token realm="webhook"'

    def check(self, request):
        expected = getattr(self.settings, "url_token", "") or ""
        if not request.url_token:
            raise self.refuse(
                "missing url token",
                "Missing URL token: use the webhook's URL ending in its token.",
                code="missing_url_token",
            )
        # An empty expected token never matches, whatever is sent.
        if not expected or not equal(expected, request.url_token):
            raise self.refuse("url token mismatch", "Wrong URL token (it may have been rotated).")
        return None
