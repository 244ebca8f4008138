"""What the OpenAPI schema says beyond what drf-spectacular infers.

Imported by `config/api_urls.py` so the extension below is registered before any schema
is generated; `ScopedAutoSchema` is the REST framework's DEFAULT_SCHEMA_CLASS.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from leadengine.models import ApiKeyScope

from .permissions import ApiKeyHasScope, required_scope

SCOPES_DESCRIPTION = (
    "A workspace API key: `Authorization: Bearer <key>` (the scheme name in any case, one space). "
    "A key holds one or more scopes; a request its key lacks the scope for is a 403 "
    "`permission_denied` naming the scope. "
    + " ".join(f"`{scope.value}`: {scope.label}." for scope in ApiKeyScope)
    + " Webhooks (`webhooks/outbound`, `webhooks/inbound`) and `api-keys` need `api:manage` for "
    "every method, reading included; every other resource needs `api:read` for GET/HEAD/OPTIONS "
    "and `api:write` otherwise. Each operation names its scope in `x-required-scope`. "
    "A signed-in session is not scoped."
)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Bearer <key>` once the API key class exists."""

    # A dotted path, so this module need not import the authentication class.
    target_class = "leadengine.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": SCOPES_DESCRIPTION}


class ScopedAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the API key scope each operation needs, as the
    `x-required-scope` extension and a line of its description.

    OpenAPI 3.0 lists scopes in security requirements only for OAuth2/OpenID schemes, so an
    extension is the honest place for a bearer key's scope.
    """

    def operation_scope(self):
        if any(isinstance(permission, ApiKeyHasScope) for permission in self.view.get_permissions()):
            return required_scope(self.view, self.method)
        return getattr(self.view, "api_key_scope", None)  # views that check it themselves

    def get_description(self):
        description = super().get_description()
        scope = self.operation_scope()
        if scope is None:
            return description
        note = f"API key scope: `{scope}`."
        return f"{description}\n\n{note}" if description else note

    def get_extensions(self):
        extensions = super().get_extensions()
        scope = self.operation_scope()
        if scope is not None:
            extensions = {**extensions, "x-required-scope": str(scope)}
        return extensions


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Optional, up to 255 characters (a UUID suits). The first answer for a key is kept 24 h: "
        "a repeat with the same request gets it again with `Idempotent-Replayed: true` and changes "
        "nothing; the same key with a different request is 422 `idempotency_key_reused`; a repeat "
        "while the first still runs is 409 `idempotency_request_in_progress`. Answers that say "
        "retry (5xx, 409, 429) are not kept."
    ),
)


class IdempotencyKeyAutoSchema(ScopedAutoSchema):
    """Lists the optional `Idempotency-Key` header on every POST of a viewset that honours it
    (`leadengine.api.idempotency.IdempotencyKeyMixin`)."""

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self.method == "POST":
            return [*parameters, IDEMPOTENCY_KEY_PARAMETER]
        return parameters


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {},
                    "description": "Problems by field name (request body or query parameter).",
                },
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}

ERRORS = {
    "400": "Invalid request: `error.fields` names each problem.",
    "401": "Not authenticated.",
    "403": "Not allowed.",
    "404": "Not found in your workspaces.",
    "405": "Method not allowed.",
    "409": "Lost a race with a concurrent change, or this Idempotency-Key is still in progress; retry.",
    "415": "Unsupported media type: send JSON.",
    "429": "Too many requests; see Retry-After.",
}


# Only where the request may carry an Idempotency-Key (every POST).
IDEMPOTENCY_ERRORS = {
    "422": "The Idempotency-Key was used with a different request (`idempotency_key_reused`)."
}


def document_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            errors = dict(ERRORS)
            if any(
                parameter.get("name") == "Idempotency-Key" for parameter in operation.get("parameters", [])
            ):
                errors.update(IDEMPOTENCY_ERRORS)
            for status, description in errors.items():
                responses.setdefault(
                    status,
                    {"description": description, "content": {"application/json": {"schema": reference}}},
                )
    return result
