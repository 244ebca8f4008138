"""`POST /webhooks/<public id>[/<url token>]`: the "Receive Data" endpoint, an HTTP adapter
over `receive.inbound_receive` (the checks, their order and the request log live there), and
`GET` for vendors' URL checks (`handshakes.inbound_handshake`)."""

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from leadengine.api.schema import IDEMPOTENCY_KEY_PARAMETER
from leadengine.authentication import ApiKeyAuthentication
from leadengine.models import ApiKeyScope

from .body import read_body
from .errors import inbound_error_body
from .handshakes import inbound_handshake
from .receive import inbound_receive
from .sender_auth import BearerKeyAuth
from .services import inbound_request_log


class AlwaysJSON(BaseContentNegotiation):
    """Senders send all sorts of Accept headers; they all get JSON, never a 406 or HTML."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


RECORD_RESULT = {
    "type": "object",
    "properties": {
        "lead_id": {"type": "integer"},
        "created": {"type": "boolean"},
        "missing_paths": {"type": "array", "items": {"type": "string"}},
        "unmapped_keys": {"type": "array", "items": {"type": "string"}},
    },
}
ERROR = {
    "type": "object",
    "description": "The REST API's error envelope, plus the flat detail and code senders parse.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            "required": ["code", "message", "fields"],
        },
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
    "required": ["error", "detail", "code"],
    "additionalProperties": True,
}


def _error(description):
    return OpenApiResponse(response=ERROR, description=description)


@extend_schema_view(
    post=extend_schema(
        operation_id="inbound_webhook_receive",
        summary="Receive Data: create or update leads",
        description=(
            "Public endpoint of an inbound webhook (`POST /webhooks/<id>`, trailing slash optional). "
            "A JSON object is one lead; a JSON array is a batch of up to 1,000. Form-encoded bodies "
            "are accepted too. Fields are mapped by the webhook's mapping and upserted by its "
            "dedupe field."
        ),
        tags=["inbound webhooks"],
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        request={
            "application/json": {
                "oneOf": [
                    {"type": "object", "additionalProperties": True},
                    {
                        "type": "array",
                        "maxItems": 1000,
                        "items": {"type": "object", "additionalProperties": True},
                    },
                ]
            },
            "application/x-www-form-urlencoded": {"type": "object", "additionalProperties": True},
        },
        responses={
            201: OpenApiResponse(response=RECORD_RESULT, description="Lead created."),
            200: OpenApiResponse(
                response={"oneOf": [RECORD_RESULT, {"type": "object", "additionalProperties": True}]},
                description="Lead updated (object), or one result per record (batch).",
            ),
            400: _error("Empty body or malformed JSON/form; an Idempotency-Key over 255 characters."),
            401: _error(
                "The webhook's sender authentication failed: missing, malformed, revoked or "
                "other-workspace API key, wrong URL token, signature mismatch, timestamp outside "
                "tolerance, missing header. `reason` names it."
            ),
            403: _error("An API key of this workspace without the webhooks:receive scope."),
            404: _error("Unknown or inactive webhook id."),
            413: _error("Body over 1 MiB or batch over 1,000 records."),
            409: _error("A request with this Idempotency-Key is still being processed."),
            415: _error("Unsupported content type."),
            422: _error(
                "A record failed validation (names the field and path), or the Idempotency-Key "
                "was used with a different body (`idempotency_key_reused`)."
            ),
            429: _error("Rate limit of this webhook exceeded; see Retry-After."),
            503: _error("The record kept conflicting with concurrent writes; retry after Retry-After."),
        },
    ),
    get=extend_schema(
        operation_id="inbound_webhook_handshake",
        summary="Vendor URL checks (Meta hub.challenge, Mailchimp)",
        description=(
            "Meta's subscription check: `?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…` is "
            "answered with the challenge as text/plain when the verify token matches the webhook's. "
            "On a URL-token webhook (`/webhooks/<id>/<token>`) a GET with the right token is 200 "
            "(Mailchimp checks the URL before saving it). Any other GET is 405."
        ),
        tags=["inbound webhooks"],
        parameters=[
            OpenApiParameter("hub.mode", str, required=False),
            OpenApiParameter("hub.verify_token", str, required=False),
            OpenApiParameter("hub.challenge", str, required=False),
        ],
        responses={
            (200, "text/plain"): OpenApiResponse(response=str, description="The challenge, echoed."),
            401: _error("Verify token or URL token mismatch (`reason` says which)."),
            404: _error("Unknown or inactive webhook id."),
            405: _error("Not a vendor check."),
        },
    ),
)
class InboundWebhookView(APIView):
    # Names the default sender auth in the OpenAPI schema only: DRF never runs it here. The
    # webhook's own strategy (`InboundWebhook.sender_auth()`) runs in inbound_receive, after
    # the unknown-id check and with the raw body at hand.
    authentication_classes = [ApiKeyAuthentication]
    api_key_scope = ApiKeyScope.WEBHOOKS_RECEIVE  # for the schema; BearerKeyAuth checks it
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON
    permission_classes = []
    throttle_classes = []
    parser_classes = []  # the body is read and parsed by inbound_receive, within our own limits

    def perform_authentication(self, request):
        pass

    def post(self, request, public_id, url_token=""):
        self.received = True
        reply = inbound_receive(
            public_id=public_id,
            headers=request.headers,
            content_type=request.META.get("CONTENT_TYPE", ""),
            read_body=lambda: read_body(request.META, request.stream),
            remote_addr=request.META.get("REMOTE_ADDR"),
            url_token=url_token,
            urls=_request_urls(request),
        )
        return Response(reply.body, status=reply.status_code, headers=reply.headers)

    def get(self, request, public_id, url_token=""):
        """Vendors' URL checks (Meta's hub.challenge, Mailchimp's GET); any other GET is 405."""
        reply = inbound_handshake(
            public_id=public_id,
            url_token=url_token,
            query=request.query_params,
            headers=request.headers,
            remote_addr=request.META.get("REMOTE_ADDR"),
        )
        if reply is None:
            raise MethodNotAllowed(request.method)
        self.received = True
        if reply.is_text:
            return HttpResponse(
                reply.body, status=reply.status_code, content_type="text/plain; charset=utf-8"
            )
        return Response(reply.body, status=reply.status_code, headers=reply.headers)

    def get_exception_handler(self):
        # The public endpoint keeps its documented flat {"detail", "code", ...} body for the
        # answers DRF gives itself (405), rather than the REST API's {"error": {...}} envelope.
        return drf_exception_handler

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(response.data, dict) and "detail" in response.data:
            detail = response.data["detail"]
            response.data = inbound_error_body(getattr(detail, "code", exc.default_code), str(detail))
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if not getattr(self, "received", False):
            # Answered by DRF without inbound_receive (405, OPTIONS): logged all the same,
            # with no webhook, as every answered request is.
            inbound_request_log(
                webhook=None,
                public_id=self.kwargs.get("public_id", ""),
                api_key=None,
                presented_prefix=BearerKeyAuth().presented_prefix(request.headers),
                status_code=response.status_code,
                response=response.data,
                content_type=request.META.get("CONTENT_TYPE", ""),
                body=b"",
                body_size=0,
                remote_addr=request.META.get("REMOTE_ADDR"),
            )
        return response


@extend_schema(exclude=True)  # the same operations as above, at a URL-token webhook's URL
class InboundWebhookTokenView(InboundWebhookView):
    pass


def _request_urls(request):
    """The absolute URLs this request may have been sent to, for schemes that sign the URL
    (HubSpot v3): as Django sees it, and under WEBHOOKS_BASE_URL, the URL operators are given
    (behind a proxy the two differ in scheme or host)."""
    public = settings.WEBHOOKS_BASE_URL + request.get_full_path().removeprefix("/webhooks")
    return tuple(dict.fromkeys([request.build_absolute_uri(), public]))
