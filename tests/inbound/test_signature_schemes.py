"""Every vendor signature scheme, signed here the way the vendor's documentation shows it:
valid, wrong secret, tampered body, stale timestamp (schemes with one), missing header."""

import base64
import hashlib
import hmac
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from leads.models import Lead
from webhooks.inbound.models import InboundRequest

from .conftest import make_webhook

pytestmark = pytest.mark.django_db

BODY = b'{"email": "ada@example.com", "first_name": "Ada"}'
SECRET = "vendor-signing-secret-1234"
STANDARD_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def _hmac(secret, message, algorithm=hashlib.sha256):
    key = secret if isinstance(secret, bytes) else secret.encode()
    return hmac.new(key, message, algorithm)


def standard_webhooks(secret, body, now, webhook):
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = base64.b64encode(_hmac(key, f"msg_1.{now}.".encode() + body).digest()).decode()
    return {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": f"v1,{signature}"}


def stripe(secret, body, now, webhook):
    signature = _hmac(secret, f"{now}.".encode() + body).hexdigest()
    return {"Stripe-Signature": f"t={now},v1={signature},v0=ignored"}


def calendly(secret, body, now, webhook):
    signature = _hmac(secret, f"{now}.".encode() + body).hexdigest()
    return {"Calendly-Webhook-Signature": f"t={now},v1={signature}"}


def shopify(secret, body, now, webhook):
    return {"X-Shopify-Hmac-Sha256": base64.b64encode(_hmac(secret, body).digest()).decode()}


def hub_sha256(secret, body, now, webhook):  # Meta and GitHub
    return {"X-Hub-Signature-256": "sha256=" + _hmac(secret, body).hexdigest()}


def typeform(secret, body, now, webhook):
    return {"Typeform-Signature": "sha256=" + base64.b64encode(_hmac(secret, body).digest()).decode()}


def intercom(secret, body, now, webhook):
    return {"X-Hub-Signature": "sha1=" + _hmac(secret, body, hashlib.sha1).hexdigest()}


def tally(secret, body, now, webhook):
    return {"Tally-Signature": base64.b64encode(_hmac(secret, body).digest()).decode()}


def webflow(secret, body, now, webhook):
    millis = str(now * 1000)
    return {
        "x-webflow-timestamp": millis,
        "x-webflow-signature": _hmac(secret, f"{millis}:".encode() + body).hexdigest(),
    }


def hubspot_v3(secret, body, now, webhook):
    millis = str(now * 1000)
    source = b"POST" + webhook.url.encode() + body + millis.encode()
    return {
        "X-HubSpot-Signature-v3": base64.b64encode(_hmac(secret, source).digest()).decode(),
        "X-HubSpot-Request-Timestamp": millis,
    }


def generic_hmac(secret, body, now, webhook):
    digest = base64.b64encode(_hmac(secret, f"{now}.".encode() + body, hashlib.sha512).digest()).decode()
    return {"X-Signature": f"v1={digest}", "X-Timestamp": str(now)}


GENERIC = {
    "auth_header": "X-Signature",
    "hmac_algorithm": "sha512",
    "hmac_encoding": "base64",
    "hmac_prefix": "v1=",
    "hmac_signed_content": "{timestamp}.{body}",
    "hmac_timestamp_header": "X-Timestamp",
}

# mode, signer, the header whose absence is refused, whether the scheme signs a timestamp
SCHEMES = [
    ("standard_webhooks", standard_webhooks, "webhook-signature", True),
    ("stripe", stripe, "Stripe-Signature", True),
    ("shopify", shopify, "X-Shopify-Hmac-Sha256", False),
    ("meta", hub_sha256, "X-Hub-Signature-256", False),
    ("github", hub_sha256, "X-Hub-Signature-256", False),
    ("typeform", typeform, "Typeform-Signature", False),
    ("calendly", calendly, "Calendly-Webhook-Signature", True),
    ("hubspot_v3", hubspot_v3, "X-HubSpot-Signature-v3", True),
    ("intercom", intercom, "X-Hub-Signature", False),
    ("webflow", webflow, "x-webflow-signature", True),
    ("tally", tally, "Tally-Signature", False),
    ("hmac", generic_hmac, "X-Signature", True),
]
TIMESTAMPED = [scheme for scheme in SCHEMES if scheme[3]]


def signed_webhook(workspace, mode):
    secret = STANDARD_SECRET if mode == "standard_webhooks" else SECRET
    options = GENERIC if mode == "hmac" else {}
    return make_webhook(workspace, auth_mode=mode, signing_secret=secret, **options), secret


def post(webhook, body, headers):
    return APIClient().generic(
        "POST", f"/webhooks/{webhook.public_id}", body, content_type="application/json", headers=headers
    )


@pytest.mark.parametrize(("mode", "sign", "header", "timestamped"), SCHEMES, ids=[s[0] for s in SCHEMES])
def test_a_request_signed_as_the_vendor_signs_creates_the_lead(workspace, mode, sign, header, timestamped):
    webhook, secret = signed_webhook(workspace, mode)

    response = post(webhook, BODY, sign(secret, BODY, int(time.time()), webhook))

    assert response.status_code == 201, response.json()
    assert Lead.objects.get().business_email == "ada@example.com"


@pytest.mark.parametrize(("mode", "sign", "header", "timestamped"), SCHEMES, ids=[s[0] for s in SCHEMES])
def test_a_signature_made_with_another_secret_is_a_mismatch(workspace, mode, sign, header, timestamped):
    webhook, _secret = signed_webhook(workspace, mode)
    other = "whsec_" + base64.b64encode(b"another-secret-another-secret!!!").decode()

    response = post(webhook, BODY, sign(other, BODY, int(time.time()), webhook))

    assert (response.status_code, response.json()["reason"]) == (401, "signature mismatch")
    assert not Lead.objects.exists()


@pytest.mark.parametrize(("mode", "sign", "header", "timestamped"), SCHEMES, ids=[s[0] for s in SCHEMES])
def test_a_body_changed_after_signing_is_a_mismatch_and_nothing_is_saved(
    workspace, mode, sign, header, timestamped
):
    webhook, secret = signed_webhook(workspace, mode)
    headers = sign(secret, BODY, int(time.time()), webhook)

    response = post(webhook, BODY.replace(b"ada@", b"eve@"), headers)

    assert (response.status_code, response.json()["reason"]) == (401, "signature mismatch")
    assert not Lead.objects.exists()
    logged = InboundRequest.objects.get()
    assert (logged.status_code, logged.response["reason"], logged.body) == (401, "signature mismatch", "")


@pytest.mark.parametrize(("mode", "sign", "header", "timestamped"), SCHEMES, ids=[s[0] for s in SCHEMES])
def test_a_request_without_the_signature_header_names_it(workspace, mode, sign, header, timestamped):
    webhook, secret = signed_webhook(workspace, mode)
    headers = {
        name: value for name, value in sign(secret, BODY, int(time.time()), webhook).items() if name != header
    }

    response = post(webhook, BODY, headers)

    assert (response.status_code, response.json()["reason"]) == (401, "missing header")
    assert response.json()["detail"] == f"Missing header {header}."


@pytest.mark.parametrize(
    ("mode", "sign", "header", "timestamped"), TIMESTAMPED, ids=[s[0] for s in TIMESTAMPED]
)
def test_a_correctly_signed_but_stale_request_is_refused_as_a_replay(
    workspace, mode, sign, header, timestamped
):
    webhook, secret = signed_webhook(workspace, mode)

    response = post(webhook, BODY, sign(secret, BODY, int(time.time()) - 301, webhook))

    assert (response.status_code, response.json()["reason"]) == (401, "timestamp outside tolerance")


def test_the_tolerance_is_the_webhooks_own(workspace):
    webhook = make_webhook(
        workspace, auth_mode="stripe", signing_secret=SECRET, signature_tolerance_seconds=3600
    )

    response = post(webhook, BODY, stripe(SECRET, BODY, int(time.time()) - 1800, webhook))

    assert response.status_code == 201


def test_stripe_accepts_any_of_several_v1_signatures_while_a_secret_is_rolled(workspace):
    webhook = make_webhook(workspace, auth_mode="stripe", signing_secret=SECRET)
    now = int(time.time())
    valid = _hmac(SECRET, f"{now}.".encode() + BODY).hexdigest()

    response = post(webhook, BODY, {"Stripe-Signature": f"t={now},v1={'0' * 64},v1={valid}"})

    assert response.status_code == 201


def test_a_signature_mode_without_a_secret_refuses_everything(workspace):
    webhook = make_webhook(workspace, auth_mode="shopify")

    response = post(webhook, BODY, shopify("", BODY, 0, webhook))

    assert (response.status_code, response.json()["reason"]) == (401, "no signing secret")


def test_hubspot_signs_the_url_it_was_given_with_its_query_string(workspace):
    webhook = make_webhook(workspace, auth_mode="hubspot_v3", signing_secret=SECRET)
    millis = str(int(time.time()) * 1000)
    url = webhook.url + "?portal=42"
    signature = base64.b64encode(
        _hmac(SECRET, b"POST" + url.encode() + BODY + millis.encode()).digest()
    ).decode()

    response = APIClient().generic(
        "POST",
        f"/webhooks/{webhook.public_id}?portal=42",
        BODY,
        content_type="application/json",
        headers={"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": millis},
    )

    assert response.status_code == 201, response.json()


def test_the_signing_secret_is_stored_encrypted(workspace):
    webhook = make_webhook(workspace, auth_mode="stripe", signing_secret=SECRET)

    with connection.cursor() as cursor:
        cursor.execute("SELECT signing_secret FROM inbound_inboundwebhook WHERE id = %s", [webhook.pk])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored
