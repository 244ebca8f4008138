import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from leadengine.models import ApiKey, IdempotencyRecord, Membership, Workspace
from leads.models import Campaign, CustomField, Lead, List, Message
from webhooks.inbound.models import FieldMapping, InboundRequest, InboundWebhook
from webhooks.outbound.models import Delivery, DeliveryAttempt, OutboundWebhook, WebhookNotice

USER_PASSWORD = "correct horse battery staple"


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"workspace-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    is_staff = True
    password = factory.django.Password(USER_PASSWORD)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)


def operator_of(workspace, **kwargs):
    """A staff user (not a superuser) who belongs to `workspace`."""
    return MembershipFactory(workspace=workspace, user=UserFactory(**kwargs)).user


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")


class ListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = List

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"List {n}")


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomField

    workspace = factory.SubFactory(WorkspaceFactory)
    key = factory.Sequence(lambda n: f"custom_{n}")
    label = factory.LazyAttribute(lambda field: field.key.replace("_", " ").title())
    type = CustomField.Type.TEXT


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    workspace = factory.SubFactory(WorkspaceFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    name = factory.LazyAttribute(lambda lead: f"{lead.first_name} {lead.last_name}")
    business_email = factory.Sequence(lambda n: f"lead{n}@company.example")
    company_name = factory.Faker("company")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    lead = factory.SubFactory(LeadFactory)
    type = Message.Type.OUTBOUND
    subject = factory.Sequence(lambda n: f"Subject {n}")
    body = "Hello"
    from_name = "LeadEngineUser"
    from_address = "user@leadengine.example"
    to_name = factory.LazyAttribute(lambda message: message.lead.name)
    to_address = factory.LazyAttribute(lambda message: message.lead.business_email)


class OutboundWebhookFactory(factory.django.DjangoModelFactory):
    """Saved directly, so no DNS check runs: point it at a receiver or a port nobody listens on."""

    class Meta:
        model = OutboundWebhook
        skip_postgeneration_save = True  # the hooks only set many-to-many rows

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Outbound {n}")
    url = "http://127.0.0.1:9/"

    @factory.post_generation
    def lists(self, create, extracted, **kwargs):
        if create and extracted:
            self.lists.set(extracted)

    @factory.post_generation
    def campaigns(self, create, extracted, **kwargs):
        if create and extracted:
            self.campaigns.set(extracted)


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    class Params:
        workspace = factory.SubFactory(WorkspaceFactory)

    webhook = factory.SubFactory(OutboundWebhookFactory, workspace=factory.SelfAttribute("..workspace"))
    event_id = factory.Sequence(lambda n: f"evt-{n}")
    payload = b'{"new_lead_status": "Opportunity"}'
    status = Delivery.Status.FAILED


class WebhookNoticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookNotice

    webhook = factory.SubFactory(OutboundWebhookFactory)
    kind = WebhookNotice.Kind.DISABLED
    reason = "Disabled automatically: every delivery failed for 5 days."


class DeliveryAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryAttempt

    delivery = factory.SubFactory(DeliveryFactory)
    number = 1
    started_at = factory.LazyFunction(timezone.now)
    request_url = "http://127.0.0.1:9/"
    status_code = 200


class InboundWebhookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundWebhook

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Inbound {n}")


class FieldMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FieldMapping

    webhook = factory.SubFactory(InboundWebhookFactory)
    field = "business_email"
    source_path = "email"


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


class IdempotencyRecordFactory(factory.django.DjangoModelFactory):
    """In progress by default (claimed now, locked for LOCK_TIMEOUT); pass status_code to complete it."""

    class Meta:
        model = IdempotencyRecord

    scope = "api-key:0"
    key = factory.Sequence(lambda n: f"key-{n}")
    request_hash = "0" * 64
    created_at = factory.LazyFunction(timezone.now)
    locked_until = factory.LazyAttribute(
        lambda record: (
            record.created_at + IdempotencyRecord.LOCK_TIMEOUT if record.status_code is None else None
        )
    )
    status_code = None
