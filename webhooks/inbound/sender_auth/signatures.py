"""The sender's own signature over the raw body, one class per vendor scheme, each written
from the vendor's public documentation (cited in webhooks/inbound/README.md). All compare
digests in constant time and, where the scheme signs a timestamp, refuse one outside the
webhook's tolerance (`signature_tolerance_seconds`, 300 s by default) to stop replays."""

import base64
import binascii
import re
from urllib.parse import unquote

from .base import SenderAuth, equal, hmac_digest


def _decoded(presented, encoding):
    """The digest bytes a header carries, or None when it isn't valid hex/base64 (a mismatch)."""
    try:
        if encoding == "hex":
            return bytes.fromhex(presented)
        return base64.b64decode(presented, validate=True)
    except (ValueError, binascii.Error):
        return None


class SignatureAuth(SenderAuth):
    needs_signing_secret = True

    def mismatch(self):
        return self.refuse(
            "signature mismatch", "The signature does not match the body and the signing secret."
        )

    @staticmethod
    def matches(digest, presented, encoding):
        """Whether one of the `presented` signatures (hex/base64 text) equals `digest`."""
        candidates = [presented] if isinstance(presented, str) else presented
        matched = False
        for candidate in candidates:
            decoded = _decoded(candidate.strip(), encoding)
            # Every candidate is compared, so the time taken doesn't tell which one matched.
            matched |= decoded is not None and equal(digest, decoded)
        return matched

    def verify(self, digest, presented, encoding):
        if not self.matches(digest, presented, encoding):
            raise self.mismatch()


class BodySignatureAuth(SignatureAuth):
    """HMAC of the raw body alone, in one header, optionally after a prefix like `sha256=`.
    No timestamp: these vendors offer no replay protection beyond the body's own ids."""

    header = ""
    algorithm = "sha256"
    encoding = "hex"
    prefix = ""

    @property
    def challenge(self):
        return f'Signature header="{self.header}"'

    def check(self, request):
        presented = self.required_header(request, self.header)
        if self.prefix and not presented.lower().startswith(self.prefix):
            raise self.refuse("signature mismatch", f"{self.header} should start with {self.prefix!r}.")
        digest = hmac_digest(self.signing_secret(), request.raw_body, self.algorithm)
        self.verify(digest, presented[len(self.prefix) :], self.encoding)


class ShopifyAuth(BodySignatureAuth):
    """Shopify: `X-Shopify-Hmac-Sha256: base64(HMAC-SHA256(app client secret, body))`."""

    mode = "shopify"
    label = "Signature: Shopify (X-Shopify-Hmac-Sha256)"
    header = "X-Shopify-Hmac-Sha256"
    encoding = "base64"


class MetaAuth(BodySignatureAuth):
    """Meta (Facebook / Instagram Graph webhooks, Lead Ads): `X-Hub-Signature-256:
    sha256=<hex HMAC-SHA256(app secret, body)>`; subscribing first calls GET with
    `hub.verify_token` (answered in handshakes.py)."""

    mode = "meta"
    label = "Signature: Meta (X-Hub-Signature-256, app secret)"
    header = "X-Hub-Signature-256"
    prefix = "sha256="


class GitHubAuth(BodySignatureAuth):
    """GitHub and the many tools that copied it: `X-Hub-Signature-256: sha256=<hex>`."""

    mode = "github"
    label = "Signature: GitHub-style (X-Hub-Signature-256: sha256=<hex>)"
    header = "X-Hub-Signature-256"
    prefix = "sha256="


class TypeformAuth(BodySignatureAuth):
    """Typeform: `Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, body)>`."""

    mode = "typeform"
    label = "Signature: Typeform (Typeform-Signature)"
    header = "Typeform-Signature"
    encoding = "base64"
    prefix = "sha256="


class IntercomAuth(BodySignatureAuth):
    """Intercom: `X-Hub-Signature: sha1=<hex HMAC-SHA1(app client secret, body)>`. SHA-1 is
    Intercom's choice; HMAC-SHA1 is still not forgeable in practice."""

    mode = "intercom"
    label = "Signature: Intercom (X-Hub-Signature, sha1)"
    header = "X-Hub-Signature"
    algorithm = "sha1"
    prefix = "sha1="


class TallyAuth(BodySignatureAuth):
    """Tally: `Tally-Signature: base64(HMAC-SHA256(signing secret, body))`."""

    mode = "tally"
    label = "Signature: Tally (Tally-Signature)"
    header = "Tally-Signature"
    encoding = "base64"


class TimestampedHeaderAuth(SignatureAuth):
    """Stripe's format, which Calendly copied: `t=<unix s>,v1=<hex>[,v1=<hex>…]` over
    `{t}.{body}` with HMAC-SHA256. Several v1 entries appear while a secret is rolled."""

    header = ""

    @property
    def challenge(self):
        return f'Signature header="{self.header}"'

    def check(self, request):
        value = self.required_header(request, self.header)
        pairs = [item.strip().partition("=") for item in value.split(",")]
        timestamps = [item[2] for item in pairs if item[0] == "t"]
        signatures = [item[2] for item in pairs if item[0] == "v1"]
        if not timestamps or not signatures:
            raise self.refuse(
                "signature mismatch", f"{self.header} should hold t=<timestamp> and v1=<signature>."
            )
        self.check_timestamp(timestamps[0])
        digest = hmac_digest(self.signing_secret(), timestamps[0].encode() + b"." + request.raw_body)
        self.verify(digest, signatures, "hex")


class StripeAuth(TimestampedHeaderAuth):
    mode = "stripe"
    label = "Signature: Stripe (Stripe-Signature, whsec_ secret)"
    header = "Stripe-Signature"


class CalendlyAuth(TimestampedHeaderAuth):
    mode = "calendly"
    label = "Signature: Calendly (Calendly-Webhook-Signature)"
    header = "Calendly-Webhook-Signature"


class StandardWebhooksAuth(SignatureAuth):
    """Standard Webhooks (Svix, Resend, Clerk, our own Send Data…): `webhook-id`,
    `webhook-timestamp` (unix s) and `webhook-signature: v1,<base64>[ v1,<base64>…]` over
    `{id}.{timestamp}.{body}`; the key is the base64 after `whsec_`."""

    mode = "standard_webhooks"
    label = "Signature: Standard Webhooks (webhook-signature, whsec_ secret)"
    challenge = 'Signature header="webhook-signature"'

    def check(self, request):
        message_id = self.required_header(request, "webhook-id")
        timestamp = self.required_header(request, "webhook-timestamp")
        presented = self.required_header(request, "webhook-signature")
        self.check_timestamp(timestamp)
        secret = self.signing_secret()
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            key = secret.encode()  # a secret not in whsec_ form is used as its bytes
        digest = hmac_digest(key, f"{message_id}.{timestamp}.".encode() + request.raw_body)
        signatures = [entry.partition(",")[2] for entry in presented.split() if entry.startswith("v1,")]
        self.verify(digest, signatures, "base64")


class WebflowAuth(SignatureAuth):
    """Webflow: `x-webflow-timestamp` (unix ms) and `x-webflow-signature: <hex
    HMAC-SHA256(secret, "{timestamp}:{body}")>`; requests older than 5 minutes refused."""

    mode = "webflow"
    label = "Signature: Webflow (x-webflow-signature)"
    challenge = 'Signature header="x-webflow-signature"'

    def check(self, request):
        timestamp = self.required_header(request, "x-webflow-timestamp")
        presented = self.required_header(request, "x-webflow-signature")
        self.check_timestamp(timestamp, milliseconds=True)
        digest = hmac_digest(self.signing_secret(), timestamp.encode() + b":" + request.raw_body)
        self.verify(digest, presented, "hex")


# HubSpot decodes these escapes in the URI before signing it (and only these).
_HUBSPOT_DECODED = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


class HubSpotV3Auth(SignatureAuth):
    """HubSpot v3: `X-HubSpot-Signature-v3: base64(HMAC-SHA256(app client secret,
    method + URI + body + timestamp))` and `X-HubSpot-Request-Timestamp` (unix ms), refused
    when older than 5 minutes. The URI is the full URL HubSpot called, so every URL the
    request may have been sent to is tried (behind a proxy the scheme or host can differ)."""

    mode = "hubspot_v3"
    label = "Signature: HubSpot v3 (X-HubSpot-Signature-v3)"
    challenge = 'Signature header="X-HubSpot-Signature-v3"'

    def check(self, request):
        presented = self.required_header(request, "X-HubSpot-Signature-v3")
        timestamp = self.required_header(request, "X-HubSpot-Request-Timestamp")
        self.check_timestamp(timestamp, milliseconds=True)
        secret = self.signing_secret()
        digests = [
            hmac_digest(
                secret,
                f"{request.method}{self.signed_uri(url)}".encode() + request.raw_body + timestamp.encode(),
            )
            for url in request.urls
        ]
        if not any(self.matches(digest, presented, "base64") for digest in digests):
            raise self.mismatch()

    @staticmethod
    def signed_uri(url):
        return _HUBSPOT_DECODED.sub(lambda escape: unquote(escape.group(0)), url)


class GenericHmacAuth(SignatureAuth):
    """Any other vendor's HMAC: a header, an algorithm (sha1/sha256/sha512), hex or base64, an
    optional prefix (`sha256=`), and the signed content: `{body}`, or a template with
    `{timestamp}` read from a timestamp header (then the tolerance applies)."""

    mode = "hmac"
    label = "Signature: generic HMAC (header, algorithm, encoding, prefix, content)"

    @property
    def challenge(self):
        return f'Signature header="{self.option("auth_header")}"'

    def option(self, name, default=""):
        return getattr(self.settings, name, default) or default

    def check(self, request):
        header = self.option("auth_header")
        if not header:
            raise self.refuse(
                "no signature header", "This webhook names no signature header: set it in the editor."
            )
        presented = self.required_header(request, header)
        prefix = self.option("hmac_prefix")
        if prefix and not presented.startswith(prefix):
            raise self.refuse("signature mismatch", f"{header} should start with {prefix!r}.")
        template = self.option("hmac_signed_content", "{body}")
        timestamp = b""
        if "{timestamp}" in template:
            raw_timestamp = self.required_header(request, self.option("hmac_timestamp_header", "X-Timestamp"))
            # Unix seconds, or milliseconds when the number is that large.
            self.check_timestamp(raw_timestamp, milliseconds=len(raw_timestamp.strip()) >= 12)
            timestamp = raw_timestamp.encode()
        # The timestamp is an integer by now, and the body goes in last, so neither can inject
        # a placeholder into the other.
        message = template.encode().replace(b"{timestamp}", timestamp).replace(b"{body}", request.raw_body)
        digest = hmac_digest(self.signing_secret(), message, self.option("hmac_algorithm", "sha256"))
        self.verify(digest, presented[len(prefix) :], self.option("hmac_encoding", "hex"))


SIGNATURE_SCHEMES = (
    StandardWebhooksAuth,
    StripeAuth,
    ShopifyAuth,
    MetaAuth,
    GitHubAuth,
    TypeformAuth,
    CalendlyAuth,
    HubSpotV3Auth,
    IntercomAuth,
    WebflowAuth,
    TallyAuth,
    GenericHmacAuth,
)
