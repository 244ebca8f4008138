"""A shared key inside the body, for senders that can set neither a header nor sign: Google
Ads lead form webhooks send the "Key" typed in the form's webhook settings as `google_key`."""

import json

from .base import SenderAuth, equal

DEFAULT_BODY_KEY_FIELD = "google_key"


class BodyKeyAuth(SenderAuth):
    mode = "body_key"
    label = "Key in the body (Google Ads lead forms: google_key)"
    challenge = 'Key realm="webhook"'
    needs_signing_secret = True

    @property
    def field_name(self):
        return getattr(self.settings, "body_key_field", "") or DEFAULT_BODY_KEY_FIELD

    def check(self, request):
        try:
            document = json.loads(request.raw_body)
        except (ValueError, RecursionError):
            document = None
        presented = document.get(self.field_name) if isinstance(document, dict) else None
        if not isinstance(presented, str) or not presented:
            raise self.refuse(
                "missing body key",
                f"Missing key: the JSON body needs the field {self.field_name}.",
                code="missing_body_key",
            )
        if not equal(self.signing_secret(), presented):
            raise self.refuse("body key mismatch", f"Wrong key in {self.field_name}.")
        return None
