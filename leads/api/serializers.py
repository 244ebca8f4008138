from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leadengine.api.scoping import caller_actor
from leadengine.api.serializers import WorkspaceOwnedSerializer, WorkspaceRelatedField, unique_in_workspace
from leads.catalogue import DEFAULT_FIELDS, FieldType
from leads.models import Campaign, CustomField, Lead, LeadStatus, List, normalize_email
from leads.services import lead_set_status

from ..coercion import INTEGER_MAX
from .custom_field_values import CustomValueError, clean_custom_values


class CampaignSerializer(WorkspaceOwnedSerializer):
    class Meta:
        model = Campaign
        fields = ["id", "workspace", "name", "created_at"]

    def validate_name(self, value):
        return unique_in_workspace(self, Campaign.objects, "name", value)


class ListSerializer(WorkspaceOwnedSerializer):
    class Meta:
        model = List
        fields = ["id", "workspace", "name", "created_at"]

    def validate_name(self, value):
        return unique_in_workspace(self, List.objects, "name", value)


class CustomFieldSerializer(WorkspaceOwnedSerializer):
    """The key's format and clash rule come from the model field's validator."""

    class Meta:
        model = CustomField
        fields = ["id", "workspace", "key", "label", "type"]

    def validate_key(self, value):
        if self.instance is not None and value != self.instance.key:
            # Leads store values under the key: renaming it would orphan them.
            raise serializers.ValidationError("A custom field's key cannot change.")
        return unique_in_workspace(self, CustomField.objects, "key", value)


class NormalizedEmailField(serializers.EmailField):
    """Trimmed, NFKC-normalized and lower-cased before it is validated, as the model stores it."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = normalize_email(data)
        return super().to_internal_value(data)


THREAD_ENTRY_SCHEMA = {
    "type": "array",
    "description": "The lead's message thread, oldest first.",
    "items": {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["outbound", "inbound", "auto_reply"]},
            "subject": {"type": "string"},
            "body": {"type": "string"},
            "from": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "address": {"type": "string"}},
            },
            "to": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "address": {"type": "string"}},
            },
            "date": {"type": "string", "format": "date-time"},
            "angle": {"type": "string"},
            "framework": {"type": "string"},
            "test": {"type": "string"},
            "tone": {"type": "string"},
            "campaign_step": {"type": "integer"},
            "word_limit": {"type": "integer"},
            "campaign": {"type": "string"},
        },
        "required": ["type", "subject", "body", "from", "to", "date"],
    },
}

_UNSET = object()


def _lead_fields():
    return ["id", "workspace", *(spec.key for spec in DEFAULT_FIELDS), "custom_fields"]


class LeadSerializer(WorkspaceOwnedSerializer):
    """Every default field of the catalogue, plus `custom_fields` checked against the workspace.

    `lead_status` is written through `lead_set_status` (history + event); the history
    fields and `modified_date` are kept by LeadEngine.
    """

    lead_status = serializers.ChoiceField(
        choices=LeadStatus.choices,
        allow_null=True,
        required=False,
        help_text="Changing it records lead_status_history and notifies webhooks.",
    )
    business_email = NormalizedEmailField(required=False, allow_blank=True, max_length=254)
    personal_email = NormalizedEmailField(required=False, allow_blank=True, max_length=254)
    tags = serializers.ListField(child=serializers.CharField(max_length=255), required=False)
    import_tags = serializers.ListField(child=serializers.CharField(max_length=255), required=False)
    campaigns = WorkspaceRelatedField(many=True, required=False, queryset=Campaign.objects.all())
    lists = WorkspaceRelatedField(many=True, required=False, queryset=List.objects.all())
    custom_fields = serializers.DictField(
        required=False,
        help_text="Values by custom field key, typed as the field is defined. A null value removes the key; "
        "PATCH merges into the lead's values, PUT replaces them.",
    )

    class Meta:
        model = Lead
        fields = _lead_fields()
        read_only_fields = ["lead_status_history", "life_cycle_history", "sentiment_history", "modified_date"]
        extra_kwargs = {
            spec.key: {"max_value": INTEGER_MAX} for spec in DEFAULT_FIELDS if spec.type == FieldType.INTEGER
        }

    def validate_business_email(self, value):
        if not value:
            return value
        return unique_in_workspace(self, Lead.objects, "business_email", value)

    def validate_custom_fields(self, value):
        types_by_key = dict(
            CustomField.objects.filter(workspace=self.target_workspace).values_list("key", "type")
        )
        try:
            return clean_custom_values(value, types_by_key)
        except CustomValueError as exc:
            raise serializers.ValidationError(exc.args[0]) from None

    def validate_lead_status(self, value):
        if value is None and self.instance is not None and self.instance.lead_status:
            raise serializers.ValidationError("A lead's status can be changed, not cleared.")
        return value

    @transaction.atomic
    def create(self, validated_data):
        status = validated_data.pop("lead_status", None)
        custom = validated_data.pop("custom_fields", {})
        validated_data["custom_fields"] = {key: value for key, value in custom.items() if value is not None}
        lead = super().create(validated_data)
        self._set_status(lead, status)
        return lead

    @transaction.atomic
    def update(self, lead, validated_data):
        status = validated_data.pop("lead_status", None)
        validated_data.pop("workspace", None)
        # Lock the row: the custom values are merged with the latest ones, not a stale read.
        current = Lead.objects.select_for_update().only("custom_fields").get(pk=lead.pk)
        if "custom_fields" in validated_data:
            validated_data["custom_fields"] = self._merged_custom_fields(
                current, validated_data["custom_fields"]
            )
        relations = {
            name: validated_data.pop(name) for name in ("campaigns", "lists") if name in validated_data
        }
        for name, value in validated_data.items():
            setattr(lead, name, value)
        # Only the fields sent are written, so a concurrent status change is never overwritten.
        lead.save(update_fields=[*validated_data, "modified_date"])
        for name, value in relations.items():
            getattr(lead, name).set(value)
        self._set_status(lead, status)
        return lead

    def _merged_custom_fields(self, current, values):
        merged = dict(current.custom_fields) if self.partial else {}
        merged.update(values)
        return {key: value for key, value in merged.items() if value is not None}

    def _set_status(self, lead, status):
        if status:
            lead_set_status(lead=lead, status=status, actor=caller_actor(self.context["request"]))


class LeadDetailSerializer(LeadSerializer):
    messages = serializers.SerializerMethodField()

    class Meta(LeadSerializer.Meta):
        fields = [*_lead_fields(), "messages"]

    @extend_schema_field(THREAD_ENTRY_SCHEMA)
    def get_messages(self, lead):
        return [message.as_thread_entry() for message in lead.messages.all()]


class FieldCatalogueEntrySerializer(serializers.Serializer):
    """One field a lead can carry: a default field of LeadEngine or a workspace's custom field."""

    key = serializers.CharField()
    label = serializers.CharField()
    type = serializers.CharField(
        help_text="A catalogue type for default fields; text/number/date/boolean/list for custom."
    )
    writable = serializers.BooleanField()
    dedupe = serializers.BooleanField(help_text="Identifies one lead; usable to deduplicate records.")
    source = serializers.ChoiceField(choices=["default", "custom"])
    workspace = serializers.CharField(
        allow_null=True, help_text="The custom field's workspace; null for defaults."
    )
