"""Property-based run of schemathesis against our OpenAPI schema.

No input yields a 5xx, and every response (errors included) has a documented status code,
content type and body shape, so the schema tells API users the truth.

Runs in-process against the WSGI app, signed in as a member (session + CSRF), bounded so
the whole module stays well under two minutes on two cores. The schema is built in-process
because fetching it over WSGI at import time would touch the database during collection.
"""

import os

import pytest
import schemathesis
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from leadengine.services import api_key_create
from tests.factories import (
    CampaignFactory,
    CustomFieldFactory,
    DeliveryFactory,
    InboundRequestFactory,
    LeadFactory,
    ListFactory,
    MessageFactory,
    OutboundWebhookFactory,
    operator_of,
)
from webhooks.outbound.receiver import WebhookReceiver

# The coverage phase enumerates boundary and negative values of every field: ~6,000 requests
# and two minutes for the lead endpoints alone, so CI runs the bounded fuzzing phase and a
# deep run is one variable away: API_FUZZ_COVERAGE=1 bin/test tests/api/test_schema_fuzz.py
DEEP = os.environ.get("API_FUZZ_COVERAGE") == "1"
config = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": DEEP}}})
schema = schemathesis.openapi.from_dict(
    SchemaGenerator().get_schema(request=None, public=True), config=config
)
schema.app = application


@pytest.fixture
def receiver(settings):
    """Where the fuzzed webhook points, so `test` exercises a real send on 127.0.0.1."""
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def member_credentials(workspace, settings, receiver):
    """Cookies and headers of a signed-in member of a workspace holding one of everything.

    `ids` maps each detail path (and the actions under it) to an object of the workspace, so
    detail operations exercise validation, updates and actions instead of answering 404 to
    random ids.
    """
    # Thousands of requests in a minute: the throttle would answer most of them with 429.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "1000000/minute", "anon": "1000000/minute"},
    }
    member = operator_of(workspace)
    lead = LeadFactory(workspace=workspace)
    campaign, a_list = CampaignFactory(workspace=workspace), ListFactory(workspace=workspace)
    lead.campaigns.add(campaign)
    lead.lists.add(a_list)
    custom_field = CustomFieldFactory(workspace=workspace, key="seats", type="number")
    MessageFactory(lead=lead, campaign=campaign)
    outbound = OutboundWebhookFactory(workspace=workspace, url=receiver.url)
    delivery = DeliveryFactory(webhook=outbound)
    inbound_request = InboundRequestFactory(workspace=workspace)
    api_key, _full_key = api_key_create(workspace=workspace, name="Fuzzed")
    client = Client()
    client.force_login(member)
    # A masked CSRF token and the cookie it was made for, as a browser would send them.
    request = RequestFactory().get("/")
    token = get_token(request)
    cookies = {"sessionid": client.cookies["sessionid"].value, "csrftoken": request.META["CSRF_COOKIE"]}
    ids = {
        "/leads/{id}/": lead.pk,
        "/campaigns/{id}/": campaign.pk,
        "/lists/{id}/": a_list.pk,
        "/custom-fields/{id}/": custom_field.pk,
        "/webhooks/outbound/{id}/": outbound.pk,
        "/webhooks/inbound/{id}/": inbound_request.webhook_id,
        "/deliveries/{id}/": delivery.pk,
        "/inbound-requests/{id}/": inbound_request.pk,
        "/api-keys/{id}/": api_key.pk,
    }
    return {"cookies": cookies, "headers": {"X-CSRFToken": token}, "ids": ids}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same examples on every CI run: a failure is reproducible
    database=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.django_db(transaction=True)
def test_no_request_fails_with_a_server_error_or_breaks_the_schema(case, member_credentials):
    for path, object_id in member_credentials["ids"].items():
        if path in case.path:
            case.path_parameters = {**case.path_parameters, "id": object_id}
    case.call_and_validate(
        headers=member_credentials["headers"],
        cookies=member_credentials["cookies"],
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
