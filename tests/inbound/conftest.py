import json
from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from leadengine.services import api_key_create
from tests.factories import InboundWebhookFactory, WorkspaceFactory
from webhooks.inbound.models import SUGGESTED_MAPPINGS, FieldMapping

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name):
    return (PAYLOADS / name).read_text()


def payload_json(name):
    return json.loads(payload(name))


@pytest.fixture(autouse=True)
def clear_cache():
    cache.clear()
    yield


@pytest.fixture
def workspace(db):
    return WorkspaceFactory()


@pytest.fixture
def key(workspace):
    return api_key_create(workspace=workspace, name="Zapier")


@pytest.fixture
def api_key(key):
    return key[0]


@pytest.fixture
def secret(key):
    return key[1]


def make_webhook(workspace, mappings=SUGGESTED_MAPPINGS, name="Form", **kwargs):
    webhook = InboundWebhookFactory(workspace=workspace, name=name, **kwargs)
    FieldMapping.objects.bulk_create(
        [FieldMapping(webhook=webhook, field=field, source_path=path) for field, path in mappings]
    )
    return webhook


@pytest.fixture
def webhook(workspace):
    return make_webhook(workspace)


class Sender:
    """A sending tool: posts bodies to one webhook with one key."""

    def __init__(self, webhook, secret):
        self.client = APIClient()
        self.webhook = webhook
        self.secret = secret

    def url(self, public_id=None, slash=False):
        return f"/webhooks/{public_id or self.webhook.public_id}" + ("/" if slash else "")

    def post(
        self, body, content_type="application/json", secret=None, public_id=None, headers=None, slash=False
    ):
        if not isinstance(body, str | bytes):
            body = json.dumps(body)
        extra = {}
        token = self.secret if secret is None else secret
        if token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        extra.update(headers or {})
        return self.client.generic(
            "POST", self.url(public_id, slash), body, content_type=content_type, **extra
        )


@pytest.fixture
def sender(webhook, secret):
    return Sender(webhook, secret)
