"""REST API of Send Data: outbound webhooks (+ `test`, `rotate-secret`) and their deliveries.

Thin adapters over `services.py`: Send Test, secret rotation and redelivery are the same
service calls the admin makes. The signing secret is never part of a webhook's
representation: it is returned once when the webhook is created and once per rotation
(Stripe's model), so a leaked list or log of API responses leaks no secret.
"""

import json

import django_filters
from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from leadengine.api.filters import AwareDateTimeFilter, BooleanChoiceFilter, IdFilter, WorkspaceFilterSet
from leadengine.api.serializers import WorkspaceOwnedSerializer, WorkspaceRelatedField
from leadengine.api.viewsets import (
    NO_STORE,
    ShownOnceCreateMixin,
    WorkspaceScopedMixin,
    WorkspaceScopedViewSet,
)
from leadengine.models import ApiKeyScope
from leads.models import Campaign, LeadStatus, List

from . import services
from .models import Delivery, DeliveryAttempt, OutboundWebhook

# Named for the schema (settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
DeliveryStatus = Delivery.Status


class OutboundWebhookSerializer(WorkspaceOwnedSerializer):
    """A Send Data webhook. `url` is checked like the admin form checks it (SSRF rules)."""

    lists = WorkspaceRelatedField(
        many=True, required=False, queryset=List.objects.all(), help_text="Only leads in these lists (ids)."
    )
    campaigns = WorkspaceRelatedField(
        many=True,
        required=False,
        queryset=Campaign.objects.all(),
        help_text="Only leads in these campaigns (ids).",
    )
    statuses = serializers.ListField(
        child=serializers.ChoiceField(choices=LeadStatus.choices),
        required=False,
        help_text="Only changes to these statuses. Empty = every status change.",
    )
    last_delivery_at = serializers.SerializerMethodField()
    last_delivery_status = serializers.SerializerMethodField()
    deliveries_24h = serializers.SerializerMethodField()
    failed_24h = serializers.SerializerMethodField()
    retrying = serializers.SerializerMethodField()
    endpoint_status = serializers.SerializerMethodField()

    class Meta:
        model = OutboundWebhook
        fields = [
            "id",
            "workspace",
            "name",
            "description",
            "trigger",
            "url",
            "is_active",
            "lists",
            "campaigns",
            "statuses",
            "deliver_in_order",
            "max_in_flight",
            "disabled_reason",
            "consecutive_failures",
            "paused_until",
            "endpoint_status",
            "disabled_at",
            "last_delivery_at",
            "last_delivery_status",
            "deliveries_24h",
            "failed_24h",
            "retrying",
            "created_at",
        ]
        read_only_fields = [
            "disabled_reason",
            "disabled_at",
            "consecutive_failures",
            "paused_until",
            "created_at",
        ]
        extra_kwargs = {
            "url": {
                "help_text": "http(s) destination; a host that resolves must resolve to a public "
                "address. One that doesn't resolve yet is accepted: every attempt checks it.",
            },
            "is_active": {"help_text": "Pause or resume; re-activating clears disabled_reason."},
            "consecutive_failures": {
                "help_text": "Network failures in a row (timeouts, refused connections); "
                "5 hold the endpoint back."
            },
            "paused_until": {
                "help_text": "Held back by the circuit breaker until then (no attempt is used), "
                "then one probe."
            },
        }

    def validate_statuses(self, value):
        return list(dict.fromkeys(value))  # a status named twice is the same filter

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_last_delivery_at(self, webhook):
        """When the newest delivery (test or real) was created; null before the first."""
        return getattr(webhook, "last_delivery_at", None)

    @extend_schema_field(serializers.ChoiceField(choices=Delivery.Status.choices, allow_null=True))
    def get_last_delivery_status(self, webhook):
        """The newest delivery's state (pending, in_flight, succeeded, failed); null before the first."""
        return getattr(webhook, "last_delivery_status", None)

    # The figures of the admin list and Settings ▸ Webhooks (OutboundWebhookQuerySet.with_health);
    # a webhook just created has none yet.
    @extend_schema_field(OpenApiTypes.INT)
    def get_deliveries_24h(self, webhook):
        """Real deliveries (Send Tests excluded) created or finished in the last 24 h."""
        return getattr(webhook, "deliveries_24h", 0)

    @extend_schema_field(OpenApiTypes.INT)
    def get_failed_24h(self, webhook):
        """Real deliveries (Send Tests excluded) that failed in the last 24 h."""
        return getattr(webhook, "failed_24h", 0)

    @extend_schema_field(OpenApiTypes.INT)
    def get_retrying(self, webhook):
        """Deliveries waiting for a retry after a failed attempt."""
        return getattr(webhook, "retrying", 0)

    def get_endpoint_status(self, webhook) -> str:
        """ "" when healthy; else "Endpoint failing (…): paused until …" or "…: probing"."""
        return webhook.breaker_status()

    @transaction.atomic
    def create(self, validated_data):
        return super().create(validated_data)

    @transaction.atomic
    def update(self, instance, validated_data):
        validated_data.pop("workspace", None)
        return super().update(instance, validated_data)


class CreatedOutboundWebhookSerializer(OutboundWebhookSerializer):
    """The create response: the webhook plus its signing secret, shown this once."""

    secret = serializers.CharField(
        read_only=True, help_text="The whsec_ signing secret. Shown only now; rotate-secret makes a new one."
    )

    class Meta(OutboundWebhookSerializer.Meta):
        fields = [*OutboundWebhookSerializer.Meta.fields, "secret"]


class RotatedSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new whsec_ signing secret, shown only in this response.")
    previous_secret_expires_at = serializers.DateTimeField(
        help_text="Until then the previous secret also signs (two signatures per request)."
    )


class SendTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="The destination answered 2xx within the timeout.")
    status_code = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.IntegerField()
    response_excerpt = serializers.CharField(allow_blank=True, help_text="The first lines of the answer.")
    error = serializers.CharField(allow_blank=True, help_text="Why it failed, when it did.")
    delivery = serializers.IntegerField(help_text="The test delivery logged for this send (id).")


class OutboundWebhookViewSet(ShownOnceCreateMixin, WorkspaceScopedViewSet):
    """Send Data webhooks of your workspaces. The signing secret is shown on create and rotate only."""

    queryset = OutboundWebhook.objects.all()
    serializer_class = OutboundWebhookSerializer
    api_key_scope = ApiKeyScope.API_MANAGE  # destinations, secrets, Send Test: configuration

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related("workspace")
            .prefetch_related("lists", "campaigns")
            .with_health(timezone.now())
        )

    created_serializer_class = CreatedOutboundWebhookSerializer

    @extend_schema(responses={201: CreatedOutboundWebhookSerializer})
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: SendTestResultSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send the help article's sample payload now, signed, without retries; logged as a test delivery."""
        delivery, result = services.webhook_send_test(webhook=self.get_object())
        excerpt = result.response_excerpt
        body = {
            "ok": result.ok,
            "status_code": result.status_code,
            "latency_ms": result.duration_ms,
            "response_excerpt": excerpt,
            "error": result.error_message,
            "delivery": delivery.pk,
        }
        return Response(SendTestResultSerializer(body).data)

    @extend_schema(request=None, responses={200: RotatedSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new signing secret, returned once; the previous one keeps signing for 24 hours."""
        webhook = services.webhook_rotate_secret(webhook=self.get_object())
        body = {"secret": webhook.secret, "previous_secret_expires_at": webhook.previous_secret_expires_at}
        return Response(RotatedSecretSerializer(body).data, headers=NO_STORE)


# --- Deliveries ------------------------------------------------------------------------


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number",
            "started_at",
            "duration_ms",
            "request_url",
            "status_code",
            "response_headers",
            "response_body",
            "error_class",
            "error_message",
        ]


class DeliverySerializer(serializers.ModelSerializer):
    workspace = serializers.SlugRelatedField(source="webhook.workspace", slug_field="slug", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "workspace",
            "webhook",
            "event_id",
            "event_type",
            "lead",
            "is_test",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields


class DeliveryDetailSerializer(DeliverySerializer):
    payload = serializers.SerializerMethodField()
    attempts = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "payload", "attempts"]
        read_only_fields = fields

    @extend_schema_field(
        {"type": "object", "additionalProperties": {}, "description": "The exact JSON sent, parsed."}
    )
    def get_payload(self, delivery):
        return json.loads(bytes(delivery.payload))


class DeliveryFilterSet(WorkspaceFilterSet):
    """`status`, `webhook`, `is_test` and `failed_since` on the delivery list."""

    status = django_filters.ChoiceFilter(
        choices=Delivery.Status.choices,
        help_text="Only deliveries in this state.",
        error_messages={"invalid_choice": "%(value)r is not a delivery status."},
    )
    webhook = IdFilter(field_name="webhook_id", help_text="Only deliveries of this outbound webhook (id).")
    is_test = BooleanChoiceFilter(help_text="Only Send Test deliveries (true) or only real ones (false).")
    failed_since = AwareDateTimeFilter(
        method="filter_failed_since",
        help_text="Only deliveries that failed (finished) at or after this ISO 8601 time.",
    )

    def filter_failed_since(self, queryset, name, since):
        return queryset.filter(status=Delivery.Status.FAILED, completed_at__gte=since)


class DeliveryViewSet(
    WorkspaceScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The delivery log of your outbound webhooks, newest first. Read-only; `redeliver` queues one again."""

    workspace_path = "webhook__workspace"
    queryset = Delivery.objects.select_related("webhook__workspace")
    filterset_class = DeliveryFilterSet

    def get_serializer_class(self):
        return DeliverySerializer if self.action == "list" else DeliveryDetailSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            queryset = queryset.prefetch_related("attempts")
        return queryset

    @extend_schema(request=None, responses={202: DeliveryDetailSerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        """Send again now: a finished delivery with the same bytes, same webhook-id and a fresh
        retry budget; one waiting for its next retry is made due at once."""
        delivery = self.get_object()
        if delivery.is_test:
            raise ValidationError("A test delivery is not redelivered: send a new test instead.")
        if not services.delivery_redeliver(delivery=delivery):
            raise ValidationError("This delivery is being sent right now; try again in a moment.")
        delivery = self.get_queryset().get(pk=delivery.pk)
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)
