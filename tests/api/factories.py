"""Factories of the webhook and API key models, for the REST API tests."""

import factory

from leadengine.models import ApiKey
from tests.factories import WorkspaceFactory
from webhooks.inbound.models import InboundRequest, InboundWebhook
from webhooks.outbound.models import Delivery, OutboundWebhook


class OutboundWebhookFactory(factory.django.DjangoModelFactory):
    """Saved directly, so no DNS check runs: point it at a receiver or a port nobody listens on."""

    class Meta:
        model = OutboundWebhook

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Outbound {n}")
    url = "http://127.0.0.1:9/"


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    class Params:
        workspace = factory.SubFactory(WorkspaceFactory)

    webhook = factory.SubFactory(OutboundWebhookFactory, workspace=factory.SelfAttribute("..workspace"))
    event_id = factory.Sequence(lambda n: f"evt-{n}")
    payload = b'{"new_lead_status": "Opportunity"}'
    status = Delivery.Status.FAILED


class InboundWebhookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundWebhook

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Inbound {n}")


class InboundRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundRequest

    workspace = factory.SubFactory(WorkspaceFactory)
    webhook = factory.SubFactory(InboundWebhookFactory, workspace=factory.SelfAttribute("..workspace"))
    status_code = 201
    body = '{"email": "secret@example.com"}'


class ApiKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiKey

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Key {n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        api_key = model_class(*args, **kwargs)
        api_key.set_new_key()
        api_key.save()
        return api_key
