import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from leadengine.models import all_scopes
from leadengine.services import api_key_create
from tests.factories import WorkspaceFactory, operator_of
from webhooks.outbound.receiver import WebhookReceiver


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    """Throttle counters live in the cache (Redis in the 2nd CI pass): each test starts at zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def workspace():
    return WorkspaceFactory(slug="acme")


@pytest.fixture
def other_workspace():
    return WorkspaceFactory(slug="globex")


@pytest.fixture
def member(workspace):
    return operator_of(workspace)


def signed_in(user):
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def api(member):
    """An API client signed in as a member of `workspace` only."""
    return signed_in(member)


def bearer(full_key):
    """An API client authenticated the way API users are: `Authorization: Bearer <key>`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {full_key}")
    return client


@pytest.fixture
def api_key(workspace):
    """(ApiKey, full key) of `workspace`, holding every scope (a key as powerful as a member)."""
    return api_key_create(workspace=workspace, name="Integration", scopes=all_scopes())


@pytest.fixture
def key_api(api_key):
    """An API client holding a real API key of `workspace`; no user is signed in."""
    return bearer(api_key[1])


@pytest.fixture
def receiver(settings):
    """A recording receiver on 127.0.0.1, which only WEBHOOK_ALLOW_PRIVATE_DESTINATIONS permits."""
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    with WebhookReceiver() as server:
        yield server
