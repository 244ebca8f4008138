import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import WorkspaceFactory, operator_of


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
