"""Every bad input gets the right 4xx with a JSON body naming the problem; nothing is saved.

A bad value of a field other than the dedupe field is the exception: the lead is saved
without it and the value is reported as a warning, unless the webhook is strict."""

import json

import pytest
from django.test import override_settings

from leadengine.services import api_key_create, api_key_revoke
from leads.models import Lead
from tests.factories import CustomFieldFactory, LeadFactory, WorkspaceFactory
from webhooks.inbound.models import FieldMapping, InboundRequest

from .conftest import Sender

pytestmark = pytest.mark.django_db

GOOD = {"email": "good@example.com", "first_name": "Ada"}
MIB = 1024 * 1024


def deep(levels):
    return "[" * levels + "]" * levels


def revoked_key(ctx):
    api_key, secret = api_key_create(workspace=ctx.webhook.workspace, name="old")
    api_key_revoke(api_key=api_key)
    return secret


def foreign_key(ctx):
    return api_key_create(workspace=WorkspaceFactory(), name="other")[1]


def deactivate(ctx):
    ctx.webhook.is_active = False
    ctx.webhook.save()


def map_custom(field_type, key="score"):
    def arrange(ctx):
        CustomFieldFactory(workspace=ctx.webhook.workspace, key=key, type=field_type)
        FieldMapping.objects.create(webhook=ctx.webhook, field=key, source_path=key)

    return arrange


def map_field(field, path):
    def arrange(ctx):
        FieldMapping.objects.create(webhook=ctx.webhook, field=field, source_path=path)

    return arrange


# (id, body, content type, options, expected status, expected code or text in the body)
CASES = [
    ("bad-json", '{"email": ', "application/json", {}, 400, "invalid_json"),
    ("trailing-garbage", '{"email": "a@b.co"} x', "application/json", {}, 400, "invalid_json"),
    ("nan", '{"email": "a@b.co", "n": NaN}', "application/json", {}, 400, "invalid_json"),
    ("single-quotes", "{'email': 'a@b.co'}", "application/json", {}, 400, "invalid_json"),
    ("json-string", '"a@b.co"', "application/json", {}, 400, "invalid_body"),
    ("json-null", "null", "application/json", {}, 400, "invalid_body"),
    ("json-number", "42", "application/json", {}, 400, "invalid_body"),
    ("invalid-utf8", b'{"email": "\xff\xfe"}', "application/json", {}, 400, "invalid_encoding"),
    ("deep-100k", deep(100_000), "application/json", {}, 400, "too_deep"),
    ("deep-200", deep(200), "application/json", {}, 400, "too_deep"),
    ("empty-body", "", "application/json", {}, 400, "empty_body"),
    ("whitespace-body", "   \n", "application/json", {}, 400, "empty_body"),
    ("empty-form", "", "application/x-www-form-urlencoded", {}, 400, "empty_body"),
    ("empty-batch", "[]", "application/json", {}, 400, "empty_batch"),
    ("text-plain", json.dumps(GOOD), "text/plain", {}, 415, "unsupported_content_type"),
    ("xml", "<lead><email>a@b.co</email></lead>", "application/xml", {}, 415, "unsupported_content_type"),
    ("no-content-type", json.dumps(GOOD), "", {}, 415, "unsupported_content_type"),
    ("latin1-charset", json.dumps(GOOD), "application/json; charset=latin-1", {}, 415, "unsupported_charset"),
    ("huge-body", '{"about": "' + "x" * (MIB + 10) + '"}', "application/json", {}, 413, "body_too_large"),
    ("batch-over-limit", json.dumps([GOOD] * 1001), "application/json", {}, 413, "batch_too_large"),
    ("batch-non-object", json.dumps([GOOD, "x"]), "application/json", {}, 422, "Record 1"),
    ("batch-of-arrays", json.dumps([[GOOD]]), "application/json", {}, 422, "Record 0"),
    ("missing-key", GOOD, "application/json", {"secret": ""}, 401, "not_authenticated"),
    (
        "wrong-key",
        GOOD,
        "application/json",
        {"secret": "le_live_abcdefgh_wrong"},
        401,
        "authentication_failed",
    ),
    ("garbage-key", GOOD, "application/json", {"secret": "hello"}, 401, "Invalid API key"),
    (
        "basic-auth",
        GOOD,
        "application/json",
        {"headers": {"HTTP_AUTHORIZATION": "Basic YTpi"}},
        401,
        "Missing",
    ),
    ("bearer-two-parts", GOOD, "application/json", {"secret": "a b"}, 401, "Malformed"),
    ("revoked-key", GOOD, "application/json", {"secret": revoked_key}, 401, "revoked"),
    ("foreign-key", GOOD, "application/json", {"secret": foreign_key}, 401, "Invalid API key"),
    ("unknown-id", GOOD, "application/json", {"public_id": "nope" * 10}, 404, "webhook_not_found"),
    ("inactive-webhook", GOOD, "application/json", {"arrange": deactivate}, 404, "webhook_not_found"),
    ("no-dedupe-value", {"first_name": "Ada"}, "application/json", {}, 422, "business_email"),
    ("empty-email", {"email": ""}, "application/json", {}, 422, "business_email"),
    ("invalid-email", {"email": "not-an-email"}, "application/json", {}, 422, "not a valid email"),
    ("email-is-object", {"email": {"a": 1}}, "application/json", {}, 422, "expected text, got an object"),
    ("zero-width-email", {"email": "a@b.co\u200b"}, "application/json", {}, 422, "invisible"),
    ("bad-form-email", "email=nope&first_name=A", "application/x-www-form-urlencoded", {}, 422, "nope"),
    (
        "form-invalid-utf8",
        b"email=%ff%fe\xff",
        "application/x-www-form-urlencoded",
        {},
        400,
        "invalid_encoding",
    ),
    (
        "multipart-with-file",
        b'--B\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nhi\r\n--B--\r\n',
        "multipart/form-data; boundary=B",
        {},
        415,
        "files_not_accepted",
    ),
]


# A bad value of a side field: (id, body, options, field warned about, text in the message).
SIDE_FIELD_CASES = [
    ("nul-in-name", {**GOOD, "first_name": "A\u0000da"}, {}, "first_name", "control characters"),
    ("escape-in-city", {**GOOD, "city": "x\u001b[31m"}, {}, "city", "control characters"),
    ("lone-surrogate", '{"email": "good@example.com", "name": "\\ud800"}', {}, "name", "surrogate"),
    ("over-long-name", {**GOOD, "name": "n" * 256}, {}, "name", "maximum is 255"),
    ("bad-date", {**GOOD, "date": "yesterday"}, {}, "created_date", "created_date (from date)"),
    ("bad-date-2", {**GOOD, "date": "2024-13-45"}, {}, "created_date", "not an ISO 8601"),
    (
        "invalid-status",
        {**GOOD, "status": "Maybe"},
        {"arrange": map_field("lead_status", "status")},
        "lead_status",
        "not a lead status",
    ),
    (
        "number-with-text",
        {**GOOD, "employees": "n/a"},
        {"arrange": map_field("number_of_employees", "employees")},
        "number_of_employees",
        "“n/a” is not a number",
    ),
    (
        "negative-count",
        {**GOOD, "employees": -3},
        {"arrange": map_field("number_of_employees", "employees")},
        "number_of_employees",
        "out of range",
    ),
    (
        "fractional-count",
        {**GOOD, "employees": 2.5},
        {"arrange": map_field("number_of_employees", "employees")},
        "number_of_employees",
        "not a whole number",
    ),
    (
        "boolean-count",
        {**GOOD, "employees": True},
        {"arrange": map_field("number_of_employees", "employees")},
        "number_of_employees",
        "whole number",
    ),
    (
        "bad-url",
        {**GOOD, "site": "javascript:alert(1)"},
        {"arrange": map_field("website", "site")},
        "website",
        "not a valid http(s) URL",
    ),
    (
        "bad-personal-email",
        {**GOOD, "personal": "nope"},
        {"arrange": map_field("personal_email", "personal")},
        "personal_email",
        "not a valid email",
    ),
    (
        "custom-number-text",
        {**GOOD, "score": "high"},
        {"arrange": map_custom("number")},
        "score",
        "score (from score)",
    ),
    (
        "custom-boolean-text",
        {**GOOD, "score": "perhaps"},
        {"arrange": map_custom("boolean")},
        "score",
        "not a boolean",
    ),
    (
        "custom-date-text",
        {**GOOD, "score": "soon"},
        {"arrange": map_custom("date")},
        "score",
        "not an ISO 8601 date",
    ),
]


class Context:
    def __init__(self, webhook):
        self.webhook = webhook


@pytest.mark.parametrize(
    ("body", "content_type", "options", "status", "problem"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_gets_a_json_4xx_naming_the_problem_and_saves_nothing(
    webhook, secret, body, content_type, options, status, problem
):
    ctx = Context(webhook)
    LeadFactory(workspace=webhook.workspace, business_email="existing@example.com")
    if "arrange" in options:
        options["arrange"](ctx)
    key = options.get("secret", secret)
    key = key(ctx) if callable(key) else key
    sender = Sender(webhook, key)
    leads_before = Lead.objects.count()

    response = sender.post(
        body, content_type=content_type, public_id=options.get("public_id"), headers=options.get("headers")
    )

    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    payload = response.json()
    assert problem in json.dumps(payload, ensure_ascii=False), payload
    assert payload["detail"]
    assert Lead.objects.count() == leads_before
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
    logged = InboundRequest.objects.get()
    assert logged.status_code == status


def test_table_has_at_least_thirty_cases():
    assert len(CASES) >= 30


def _post_side_field_case(webhook, secret, body, options):
    LeadFactory(workspace=webhook.workspace, business_email="existing@example.com")
    if "arrange" in options:
        options["arrange"](Context(webhook))
    return Sender(webhook, secret).post(body)


@pytest.mark.parametrize(
    ("body", "options", "field", "problem"),
    [case[1:] for case in SIDE_FIELD_CASES],
    ids=[case[0] for case in SIDE_FIELD_CASES],
)
def test_bad_side_field_is_skipped_and_reported_while_the_lead_is_saved(
    webhook, secret, body, options, field, problem
):
    response = _post_side_field_case(webhook, secret, body, options)

    assert response.status_code == 201, response.content[:500]
    payload = response.json()
    [warning] = payload["warnings"]
    assert warning["field"] == field
    assert problem in warning["message"]
    lead = Lead.objects.get(pk=payload["lead_id"])
    assert lead.business_email == "good@example.com"
    assert InboundRequest.objects.get().warnings == payload["warnings"]


@pytest.mark.parametrize(
    ("body", "options", "field", "problem"),
    [case[1:] for case in SIDE_FIELD_CASES],
    ids=[case[0] for case in SIDE_FIELD_CASES],
)
def test_strict_webhook_rejects_a_bad_side_field_and_saves_nothing(
    webhook, secret, body, options, field, problem
):
    webhook.strict = True
    webhook.save()
    leads_before = Lead.objects.count() + 1  # the existing lead the helper creates

    response = _post_side_field_case(webhook, secret, body, options)

    assert response.status_code == 422, response.content[:500]
    payload = response.json()
    assert payload["code"] == "invalid_record"
    assert payload["errors"][0]["field"] == field
    assert problem in payload["detail"]
    assert payload["warnings"] == []
    assert Lead.objects.count() == leads_before
    assert InboundRequest.objects.get().status_code == 422


def test_oversize_body_is_logged_without_its_body(sender):
    sender.post('{"about": "' + "x" * (MIB + 10) + '"}')
    logged = InboundRequest.objects.get()
    assert (logged.status_code, logged.body, logged.body_truncated) == (413, "", True)
    assert logged.body_size > MIB


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_body_limit_is_ours_not_djangos_html_400(sender):
    response = sender.post({**GOOD, "about": "y" * 5000})
    assert response.status_code == 201
