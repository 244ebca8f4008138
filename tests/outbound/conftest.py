import pytest

from tests.factories import LeadFactory, OutboundWebhookFactory, WorkspaceFactory
from webhooks.outbound.receiver import WebhookReceiver


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def allow_private(settings):
    """The receiver listens on 127.0.0.1, which production refuses."""
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme Outreach")


@pytest.fixture
def lead(workspace):
    return LeadFactory(workspace=workspace)


def make_webhook(workspace, url, name="Zapier", **kwargs):
    """Created like the admin form does, skipping only the DNS check for loopback receivers."""
    return OutboundWebhookFactory(workspace=workspace, url=url, name=name, **kwargs)


def plan_nodes(node):
    """Every node of an EXPLAIN (FORMAT JSON) plan, the root first."""
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)
