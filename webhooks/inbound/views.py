"""`POST /webhooks/<public id>`: the "Receive Data" endpoint.

Checks run in this order, each answering with a JSON body: unknown or inactive id (404),
key (401), rate limit (429), size (413), content type (415), body (400), records (422),
then 201/200. Every answer is written to the request log after the records' transactions
have ended, so the log survives a rolled-back record and can't turn a reply into a 500.
"""

import io
import logging
import math
import time
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import TooManyFieldsSent
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from leadengine.authentication import ApiKeyAuthentication
from leadengine.models import ApiKey

from . import mapping
from .models import InboundWebhook
from .services import MAX_BATCH_RECORDS, inbound_request_log, records_process, webhook_capture_sample

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
JSON_TYPES = ("application/json",)
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"


class InboundError(Exception):
    def __init__(self, status, code, detail, **extra):
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra
        self.headers = extra.pop("headers", {})


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
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
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
            400: _error("Empty body or malformed JSON/form."),
            401: _error("Missing, malformed, revoked or other-workspace API key."),
            404: _error("Unknown or inactive webhook id."),
            413: _error("Body over 1 MiB or batch over 1,000 records."),
            415: _error("Unsupported content type."),
            422: _error("A record failed validation; names the field and path."),
            429: _error("Rate limit of this webhook exceeded; see Retry-After."),
        },
    )
)
class InboundWebhookView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON
    permission_classes = []
    throttle_classes = []
    parser_classes = []  # the body is read and parsed here, within our own limits

    def initial(self, request, *args, **kwargs):
        self.log = {"webhook": None, "api_key": None, "body": b"", "body_size": 0, "records": []}
        super().initial(request, *args, **kwargs)

    def perform_authentication(self, request):
        pass  # deferred: an unknown webhook id is a 404 whatever the key

    def post(self, request, public_id):
        try:
            return self._receive(request, public_id)
        except InboundError as error:
            body = {"detail": error.detail, "code": error.code, **error.extra}
            return Response(body, status=error.status, headers=error.headers)

    def _receive(self, request, public_id):
        webhook = (
            InboundWebhook.objects.select_related("workspace", "target_list")
            .filter(public_id=public_id, is_active=True)
            .first()
        )
        if webhook is None:
            raise InboundError(404, "webhook_not_found", "No active webhook with this id.")
        self.log["webhook"] = webhook
        api_key = self._authenticate(request, webhook)
        self._check_rate_limit(webhook)
        raw = self._read_body(request)
        document = self._parse(request, raw)
        self._check_records(document)
        webhook_capture_sample(
            webhook=webhook, document=document, content_type=request.META.get("CONTENT_TYPE", "")
        )
        status, body, records = records_process(webhook=webhook, document=document, actor=api_key)
        self.log["records"] = records
        return Response(body, status=status)

    def _authenticate(self, request, webhook):
        api_key = request.auth  # runs ApiKeyAuthentication
        if api_key is None:
            raise exceptions.NotAuthenticated("Missing API key: send “Authorization: Bearer <api key>”.")
        if api_key.workspace_id != webhook.workspace_id:
            # Answered like a wrong key, so it confirms nothing about the key; and another
            # workspace's key is not written to this workspace's log.
            raise exceptions.AuthenticationFailed("Invalid API key.")
        self.log["api_key"] = api_key
        return api_key

    def _check_rate_limit(self, webhook):
        limit = settings.INBOUND_RATE_LIMIT_PER_MINUTE
        now = time.time()
        key = f"inbound-rate:{webhook.public_id}:{int(now // 60)}"
        try:
            cache.add(key, 0, timeout=120)
            count = cache.incr(key)
        except Exception:  # the cache being down must not stop leads coming in
            logger.warning("Rate limit cache unavailable; request let through", exc_info=True)
            return
        if count > limit:
            retry_after = max(1, math.ceil(60 - now % 60))
            raise InboundError(
                429,
                "rate_limited",
                f"More than {limit} requests in a minute to this webhook; retry after {retry_after} s.",
                headers={"Retry-After": str(retry_after)},
            )

    def _read_body(self, request):
        too_big = InboundError(
            413, "body_too_large", f"The body is over the limit of {MAX_BODY_BYTES} bytes."
        )
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise InboundError(400, "invalid_content_length", "Content-Length is not a number.") from None
        if declared > MAX_BODY_BYTES:
            self.log.update(body=None, body_size=declared)
            raise too_big
        # Read one byte more than allowed so a body longer than the limit is caught while
        # reading too (chunked bodies have no Content-Length to check up front).
        raw = self._body_stream(request).read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            self.log.update(body=None, body_size=len(raw))
            raise too_big
        self.log.update(body=raw, body_size=len(raw))
        if not raw.strip():
            raise InboundError(
                400, "empty_body", "The body is empty: send a JSON object, a JSON array or form fields."
            )
        return raw

    @staticmethod
    def _body_stream(request):
        meta = request.META
        if not meta.get("CONTENT_LENGTH") and meta.get("wsgi.input_terminated"):
            # A chunked body (gunicorn sets wsgi.input_terminated): Django's stream would read
            # it as empty, so read the server's terminated input, still capped above.
            return meta["wsgi.input"]
        return request._request

    def _parse(self, request, raw):
        content_type = (request._request.content_type or "").lower()
        charset = (request._request.content_params or {}).get("charset", "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            raise InboundError(415, "unsupported_charset", f"Charset {charset} is not supported: send UTF-8.")
        try:
            if content_type in JSON_TYPES or content_type.endswith("+json"):
                document = mapping.parse_json(raw)
                if not isinstance(document, dict | list):
                    raise mapping.BodyError(
                        "invalid_body", "The JSON body must be an object or an array of objects."
                    )
                return document
            if content_type == FORM_TYPE:
                return self._parse_form(raw)
            if content_type == MULTIPART_TYPE:
                return self._parse_multipart(request, raw)
        except mapping.BodyError as error:
            raise InboundError(400, error.code, str(error)) from None
        shown = content_type or "none"
        raise InboundError(
            415,
            "unsupported_content_type",
            f"Content-Type {shown} is not supported: use application/json, {FORM_TYPE} or {MULTIPART_TYPE}.",
        )

    def _parse_form(self, raw):
        try:
            pairs = parse_qsl(
                raw.decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=False,
                max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
            )
        except UnicodeDecodeError:
            raise mapping.BodyError("invalid_encoding", "The body is not valid UTF-8.") from None
        except ValueError:
            raise mapping.BodyError("too_many_fields", "The form has too many fields.") from None
        if not pairs:
            raise mapping.BodyError("invalid_form", "The body has no form fields.")
        return mapping.form_document(pairs)

    def _parse_multipart(self, request, raw):
        meta = {**request.META, "CONTENT_LENGTH": str(len(raw))}
        try:
            fields, files = MultiPartParser(
                meta, io.BytesIO(raw), request._request.upload_handlers, "utf-8"
            ).parse()
        except (MultiPartParserError, TooManyFieldsSent, UnicodeDecodeError) as exc:
            raise mapping.BodyError("invalid_multipart", f"The multipart body can't be read: {exc}") from None
        if files:
            raise InboundError(
                415, "files_not_accepted", "File uploads are not accepted: send form fields only."
            )
        pairs = [(key, value) for key, values in fields.lists() for value in values]
        if not pairs:
            raise mapping.BodyError("invalid_form", "The body has no form fields.")
        return mapping.form_document(pairs)

    def _check_records(self, document):
        if isinstance(document, dict):
            return
        if not document:
            raise InboundError(400, "empty_batch", "The JSON array is empty: send at least one record.")
        if len(document) > MAX_BATCH_RECORDS:
            raise InboundError(
                413,
                "batch_too_large",
                f"The batch has {len(document)} records; the maximum is {MAX_BATCH_RECORDS}. "
                "Nothing was saved.",
            )
        for index, item in enumerate(document):
            if not isinstance(item, dict):
                raise InboundError(
                    422,
                    "invalid_record",
                    f"Record {index} of the batch is not a JSON object. Nothing was saved.",
                    errors=[{"field": None, "path": str(index), "message": "not a JSON object"}],
                )

    def get_exception_handler(self):
        # The public endpoint keeps its documented flat {"detail", "code", ...} body for every
        # error, auth included, rather than the REST API's {"error": {...}} envelope.
        return drf_exception_handler

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.APIException):
            response = super().handle_exception(exc)
            if isinstance(response.data, dict) and "detail" in response.data:
                response.data["code"] = getattr(response.data["detail"], "code", exc.default_code)
            return response
        self._write_log(self.request, 500, {"detail": "Internal error."})
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if hasattr(self, "log"):
            self._write_log(request, response.status_code, response.data)
        return response

    def _write_log(self, request, status_code, data):
        records = self.log.get("records") or []
        inbound_request_log(
            webhook=self.log["webhook"],
            public_id=self.kwargs.get("public_id", ""),
            api_key=self.log["api_key"],
            presented_prefix=_presented_prefix(request),
            status_code=status_code,
            response=data,
            content_type=request.META.get("CONTENT_TYPE", ""),
            body=self.log["body"],
            body_size=self.log["body_size"],
            missing_paths=_union(record.missing_paths for record in records),
            unmapped_keys=_union(record.unmapped_keys for record in records),
            remote_addr=request.META.get("REMOTE_ADDR"),
        )


def _presented_prefix(request):
    """The non-secret prefix of the key a request presented, to troubleshoot 401s."""
    header = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(header) == 2 and header[0].lower() == "bearer":
        return ApiKey.split_prefix(header[1]) or ""
    return ""


def _union(lists):
    seen = []
    for items in lists:
        seen.extend(item for item in items if item not in seen)
    return seen
