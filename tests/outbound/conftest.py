import pytest

from tests.factories import LeadFactory, OutboundWebhookFactory, WorkspaceFactory
from webhooks.outbound import destinations
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
def stub_dns(monkeypatch):
    """Replace the system resolver (the process edge) with a table: name -> answers.

    A list of lists answers each lookup with the next entry (DNS rebinding)."""
    table = {}
    lookups = []

    def resolve(host, port):
        lookups.append(host)
        answers = table.get(host)
        if answers is None:
            raise OSError(f"stub resolver: no such host {host}")
        if answers and isinstance(answers[0], list):
            return answers.pop(0) if len(answers) > 1 else answers[0]
        return answers

    monkeypatch.setattr(destinations, "resolve_addresses", resolve)
    table["lookups"] = lookups
    return table


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme Outreach")


@pytest.fixture
def lead(workspace):
    return LeadFactory(workspace=workspace)


def make_webhook(workspace, url, name="Zapier", **kwargs):
    """Created like the admin form does, skipping only the DNS check for loopback receivers."""
    return OutboundWebhookFactory(workspace=workspace, url=url, name=name, **kwargs)
