"""REST API of Settings ▸ API Keys: create (the key is shown once), list, rename, revoke.

Revoking keeps the row (who used what, and when, stays answerable), so DELETE revokes too.
Scopes: omitted on create, a key is receive-only (the safe default for a key pasted into a
form vendor). A key (with `api:manage`) may give another key only scopes it holds itself, on
create and on PATCH, so a key can't mint a more powerful one; a signed-in user may give any.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from leadengine.models import ApiKey, ApiKeyScope, ordered_scopes, validate_scopes
from leadengine.services import api_key_create, api_key_revoke

from .serializers import WorkspaceOwnedSerializer
from .viewsets import ShownOnceCreateMixin, WorkspaceScopedMixin


class ApiKeySerializer(WorkspaceOwnedSerializer):
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKeyScope.choices),
        validators=[validate_scopes],
        required=False,
        help_text="What the key may do: webhooks:receive (POST to inbound webhooks), api:read, api:write, "
        "api:manage (webhooks, API keys, signing secrets). Default: webhooks:receive only. "
        "A key can grant only scopes it holds.",
    )

    class Meta:
        model = ApiKey
        fields = ["id", "workspace", "name", "scopes", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
        extra_kwargs = {"prefix": {"help_text": "The key's first characters, to recognise it; not a secret."}}

    def validate_scopes(self, scopes):
        granting_key = self.context["request"].auth
        if isinstance(granting_key, ApiKey):
            missing = granting_key.missing_scopes(scopes)
            if missing:
                raise PermissionDenied(f"This API key lacks the scope {missing[0]}, so it cannot grant it.")
        return ordered_scopes(scopes)

    def create(self, validated_data):
        request = self.context["request"]
        user = request.user if getattr(request.user, "pk", None) else None
        api_key, self.full_key = api_key_create(
            workspace=self.target_workspace,
            name=validated_data["name"],
            scopes=validated_data.get("scopes"),  # None: the model's receive-only default
            created_by=user,
        )
        return api_key

    def update(self, api_key, validated_data):
        api_key.name = validated_data.get("name", api_key.name)
        api_key.scopes = validated_data.get("scopes", api_key.scopes)
        api_key.save(update_fields=["name", "scopes"])
        return api_key


class CreatedApiKeySerializer(ApiKeySerializer):
    key = serializers.CharField(
        read_only=True,
        help_text="The full key for `Authorization: Bearer`. Shown only in this response: store it now.",
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class ApiKeyViewSet(
    ShownOnceCreateMixin,
    WorkspaceScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """API keys of your workspaces. The full key is returned once, by create; DELETE or revoke disables it."""

    queryset = ApiKey.objects.select_related("workspace")
    serializer_class = ApiKeySerializer
    api_key_scope = ApiKeyScope.API_MANAGE

    created_serializer_class = CreatedApiKeySerializer

    @extend_schema(responses={201: CreatedApiKeySerializer})
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def shown_once(self, serializer):
        return {"key": serializer.full_key}

    @extend_schema(request=None, responses={200: ApiKeySerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke at once (idempotent): the next request with the key is a 401."""
        api_key = api_key_revoke(api_key=self.get_object())
        return Response(self.get_serializer(api_key).data)

    @extend_schema(description="Revokes the key (the row is kept, with revoked_at set).")
    def destroy(self, request, *args, **kwargs):
        api_key_revoke(api_key=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
