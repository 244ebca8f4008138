"""REST API of Receive Data: inbound webhooks (with their mapping) and the request log."""

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from leadengine.api.filters import IdFilter, WorkspaceFilterSet
from leadengine.api.serializers import WorkspaceOwnedSerializer, WorkspaceRelatedField
from leadengine.api.viewsets import (
    NO_STORE,
    ShownOnceCreateMixin,
    WorkspaceScopedMixin,
    WorkspaceScopedViewSet,
)
from leadengine.models import ApiKeyScope
from leads.models import CustomField, List

from .mapping import MappingRow
from .models import FieldMapping, InboundRequest, InboundWebhook, SenderAuthMode, mapping_errors
from .presets import preset_choices, preset_get, preset_list
from .services import mappings_suggest, webhook_mappings_replace, webhook_preset_apply
from .transforms import TRANSFORMS


class TransformStepSerializer(serializers.Serializer):
    """Documents a step's shape; its rule is mapping_errors (webhooks/inbound/transforms.py)."""

    op = serializers.ChoiceField(choices=list(TRANSFORMS), help_text="The operation.")
    arg = serializers.JSONField(
        required=False,
        help_text="Its argument: a delimiter, a region, a format, a pattern, a template, a value or "
        "a value map object, depending on op.",
    )


@extend_schema_field(TransformStepSerializer(many=True))
class TransformStepsField(serializers.JSONField):
    """A JSON list validated as a whole by the mapping rule, so a bad step's message names
    the step ("Transform step 2 (split): ...") the same way in the admin and the API."""


class FieldMappingSerializer(serializers.ModelSerializer):
    field = serializers.CharField(
        max_length=100,
        help_text="A writable default field (see /api/v1/fields/) or a custom field key of the workspace.",
    )
    source_path = serializers.CharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        default="",
        help_text="A /-separated path, or several separated by | (the first non-empty wins, or "
        "all with combine=all). Blank only when a constant, template or default transform makes the value.",
    )
    transforms = TransformStepsField(
        required=False,
        default=list,
        help_text='Steps applied in order, e.g. [{"op": "split", "arg": ";"}, {"op": "trim"}]. '
        f"Operations: {', '.join(TRANSFORMS)}.",
    )

    class Meta:
        model = FieldMapping
        fields = ["field", "source_path", "combine", "transforms", "clear_when_empty"]

    def validate_source_path(self, value):
        return value.strip()  # its rule is the webhook's: InboundWebhookSerializer.validate_mappings


class InboundWebhookSerializer(WorkspaceOwnedSerializer):
    """A Receive Data webhook: its public URL, dedupe rule, target list and mapping rows."""

    url = serializers.CharField(
        read_only=True,
        help_text="POST leads here, authenticated as auth_mode says (bearer: Authorization: Bearer <API key "
        "with the webhooks:receive scope>). URL-token webhooks append /<token> (url_with_token).",
    )
    target_list = WorkspaceRelatedField(
        queryset=List.objects.all(),
        required=False,
        allow_null=True,
        help_text="Every lead received is added to this list (id).",
    )
    dedupe_field = serializers.CharField(
        max_length=100,
        required=False,
        help_text="A dedupe field of the catalogue (business_email by default) or a custom field key.",
    )
    mappings = FieldMappingSerializer(
        many=True,
        required=False,
        help_text="LeadEngine field ← source path rows. Omitted on create: the suggested rows of the "
        "help article's sample. Sent on update: replaces every row.",
    )

    class Meta:
        model = InboundWebhook
        fields = [
            "id",
            "workspace",
            "name",
            "description",
            "public_id",
            "url",
            "target_list",
            "dedupe_field",
            "is_active",
            "strict",
            "default_phone_region",
            "capture_next",
            "sample_captured_at",
            "mappings",
            "preset",
            "auth_mode",
            "auth_header",
            "signing_secret",
            "has_signing_secret",
            "verify_token",
            "signature_tolerance_seconds",
            "hmac_algorithm",
            "hmac_encoding",
            "hmac_prefix",
            "hmac_signed_content",
            "hmac_timestamp_header",
            "body_key_field",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["public_id", "sample_captured_at", "created_at", "updated_at"]
        extra_kwargs = {
            # Secrets go in, never out (like outbound secrets); the URL token comes out only on
            # create and rotate-url-token.
            "signing_secret": {"write_only": True, "required": False},
            "verify_token": {"write_only": True, "required": False},
        }

    preset = serializers.ChoiceField(
        choices=preset_choices(),
        write_only=True,
        required=False,
        help_text="On create: start from a vendor preset (GET presets/ lists them): its auth mode, dedupe "
        "field and mapping rows. Fields sent alongside win over the preset's.",
    )
    has_signing_secret = serializers.SerializerMethodField(
        help_text="Whether a signing secret is set (signature modes refuse every request without one)."
    )

    def get_has_signing_secret(self, webhook) -> bool:
        return bool(webhook.signing_secret)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None and "preset" in attrs:
            raise serializers.ValidationError({"preset": ["A preset applies on create only."]})
        # The model's rule, on the webhook as it would be saved.
        candidate = InboundWebhook(
            **{name: getattr(self.instance, name) for name in AUTH_SETTINGS} if self.instance else {}
        )
        for name in AUTH_SETTINGS:
            if name in attrs:
                setattr(candidate, name, attrs[name])
        errors = candidate.auth_errors()
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _custom_field_keys(self):
        if not hasattr(self, "_custom_keys"):
            self._custom_keys = set(
                CustomField.objects.filter(workspace=self.target_workspace).values_list("key", flat=True)
            )
        return self._custom_keys

    def validate_dedupe_field(self, value):
        errors = mapping_errors(dedupe_field=value, custom_field_keys=self._custom_field_keys())
        if errors["dedupe_field"]:
            raise serializers.ValidationError(errors["dedupe_field"])
        return value

    def validate_mappings(self, rows):
        errors = mapping_errors(rows=_rows(rows), custom_field_keys=self._custom_field_keys())
        if any(errors["rows"]):
            raise serializers.ValidationError(errors["rows"])
        return rows

    @transaction.atomic
    def create(self, validated_data):
        rows = validated_data.pop("mappings", None)
        preset = preset_get(validated_data.pop("preset", ""))
        webhook = super().create(validated_data)
        if rows is not None:
            webhook_mappings_replace(webhook=webhook, mappings=[dict(row) for row in rows])
        if preset is not None:
            # What the caller sent (mappings included) wins over the preset.
            webhook_preset_apply(webhook=webhook, preset=preset, keep=set(self.initial_data))
        elif rows is None:
            mappings_suggest(webhook=webhook)
        return webhook

    @transaction.atomic
    def update(self, webhook, validated_data):
        rows = validated_data.pop("mappings", None)
        validated_data.pop("workspace", None)
        webhook = super().update(webhook, validated_data)
        if rows is not None:
            webhook_mappings_replace(webhook=webhook, mappings=[dict(row) for row in rows])
        return webhook


def _rows(rows):
    return [
        MappingRow(
            field=row["field"],
            source_path=row.get("source_path", ""),
            combine=row.get("combine", FieldMapping.Combine.FIRST),
            transforms=row.get("transforms", []),
            clear_when_empty=row.get("clear_when_empty", False),
        )
        for row in rows
    ]


AUTH_SETTINGS = ["auth_mode", "auth_header", "hmac_signed_content", "hmac_timestamp_header"]


class InboundWebhookCreatedSerializer(InboundWebhookSerializer):
    """The create response: the webhook plus, for a URL-token webhook, its URL with the token,
    shown this once (rotate-url-token makes a new one)."""

    url_with_token = serializers.CharField(
        read_only=True, help_text="URL-token mode: the URL to give the sender. Shown only now."
    )

    class Meta(InboundWebhookSerializer.Meta):
        fields = [*InboundWebhookSerializer.Meta.fields, "url_with_token"]


class PresetRowSerializer(serializers.Serializer):
    field = serializers.CharField()
    source_path = serializers.CharField()
    note = serializers.CharField()
    transforms = serializers.ListField(
        child=serializers.DictField(), help_text="Transforms that would help this row (not applied yet)."
    )


class PresetSerializer(serializers.Serializer):
    key = serializers.CharField()
    vendor = serializers.CharField()
    name = serializers.CharField()
    auth_mode = serializers.CharField()
    auth_settings = serializers.DictField()
    content_type = serializers.CharField()
    dedupe_field = serializers.CharField()
    mappings = PresetRowSerializer(many=True)
    suggested_custom_fields = PresetRowSerializer(many=True)
    setup = serializers.ListField(child=serializers.CharField())
    notes = serializers.CharField()


class UrlTokenRotatedSerializer(serializers.Serializer):
    url_with_token = serializers.CharField(help_text="The new URL to give the sender, shown only now.")


class InboundWebhookViewSet(ShownOnceCreateMixin, WorkspaceScopedViewSet):
    """Receive Data webhooks of your workspaces: public URL, dedupe field, target list, mapping."""

    queryset = InboundWebhook.objects.select_related("workspace").prefetch_related("mappings")
    serializer_class = InboundWebhookSerializer
    api_key_scope = ApiKeyScope.API_MANAGE  # public URLs and mappings: configuration

    created_serializer_class = InboundWebhookCreatedSerializer

    @extend_schema(responses={201: InboundWebhookCreatedSerializer})
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    @extend_schema(responses={200: PresetSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def presets(self, request):
        """Vendor presets to start a webhook from (`preset` on create): auth mode, content type,
        suggested mapping rows and setup steps."""
        return Response([preset.as_dict() for preset in preset_list()])

    @extend_schema(request=None, responses={200: UrlTokenRotatedSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-url-token")
    def rotate_url_token(self, request, pk=None):
        """A new URL token (URL-token mode); the old URL stops working at once. Returned once."""
        webhook = self.get_object()
        if webhook.auth_mode != SenderAuthMode.URL_TOKEN:
            raise serializers.ValidationError({"auth_mode": ["This webhook does not use a URL token."]})
        webhook.rotate_url_token()
        return Response({"url_with_token": webhook.url_with_token}, headers=NO_STORE)


# --- Request log -----------------------------------------------------------------------


class InboundRequestSerializer(serializers.ModelSerializer):
    workspace = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = InboundRequest
        fields = [
            "id",
            "workspace",
            "webhook",
            "received_at",
            "api_key_prefix",
            "status_code",
            "content_type",
            "body_size",
            "body_truncated",
            "remote_addr",
        ]
        read_only_fields = fields


class InboundRequestDetailSerializer(InboundRequestSerializer):
    response = serializers.JSONField(read_only=True, help_text="The JSON body LeadEngine answered.")
    body = serializers.CharField(
        read_only=True, help_text="The body received, as text; cut at 64 KiB when body_truncated."
    )
    missing_paths = serializers.ListField(child=serializers.CharField(), read_only=True)
    unmapped_keys = serializers.ListField(child=serializers.CharField(), read_only=True)
    warnings = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="Values skipped from the lead(s): {field, path, message}, plus index in a batch.",
    )

    class Meta(InboundRequestSerializer.Meta):
        fields = [
            *InboundRequestSerializer.Meta.fields,
            "response",
            "body",
            "missing_paths",
            "unmapped_keys",
            "warnings",
        ]
        read_only_fields = fields


class InboundRequestFilterSet(WorkspaceFilterSet):
    """`webhook` and `status_code` on the request log."""

    webhook = IdFilter(field_name="webhook_id", help_text="Only requests to this inbound webhook (id).")
    status_code = IdFilter(help_text="Only requests answered with this HTTP status.")


class InboundRequestViewSet(
    WorkspaceScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Every request your inbound webhooks received, newest first. The list leaves out bodies."""

    queryset = InboundRequest.objects.select_related("workspace")
    filterset_class = InboundRequestFilterSet

    def get_serializer_class(self):
        return InboundRequestSerializer if self.action == "list" else InboundRequestDetailSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            # Bodies can be 64 KiB each: a page of them is not read for a list that omits them.
            queryset = queryset.defer("body", "response")
        return queryset
