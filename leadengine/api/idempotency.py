"""`Idempotency-Key` on the REST API's POSTs: a viewset mixin over `leadengine.idempotency`.

The key is claimed after DRF's `initial()` (authentication, permissions, throttles), so a
refused or unauthenticated request never reads or writes a key. The scope is the API key, or
the signed-in user; the request hash covers method, path and body. The response is stored
as rendered (status, bytes, content type, `Cache-Control`/`Location`) and replayed as is.
"""

import json

from django.http import HttpResponse
from django.http.request import RawPostDataException
from rest_framework import exceptions

from leadengine import idempotency
from leadengine.models import ApiKey

from .schema import IdempotencyKeyAutoSchema

# Response headers a replay repeats: a secret's `no-store`, a creation's `Location`.
REPLAYED_RESPONSE_HEADERS = ("Cache-Control", "Location")


class IdempotencyRefused(exceptions.APIException):
    """400 bad key, 409 still in progress, 422 reused: rendered in the API's error shape."""

    def __init__(self, error):
        self.status_code = error.status_code
        super().__init__(error.message, error.code)


class _Replay(Exception):
    """Ends the request early with the stored answer (caught in `handle_exception`)."""

    def __init__(self, record):
        self.record = record


class IdempotencyKeyMixin:
    """POSTs honour `Idempotency-Key` (see `leadengine/idempotency.py` for the rules)."""

    idempotency_record = None  # the key this request claimed, finished in finalize_response
    schema = IdempotencyKeyAutoSchema()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.headers.get(idempotency.HEADER)
        if request.method != "POST" or key is None:
            return
        try:
            record = idempotency.idempotency_begin(
                scope=_caller_scope(request), key=key, request_hash=_request_hash(request)
            )
        except idempotency.IdempotencyError as error:
            raise IdempotencyRefused(error) from None
        if record.is_complete:
            raise _Replay(record)
        self.idempotency_record = record

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            return _replay_response(exc.record)
        try:
            return super().handle_exception(exc)
        except Exception:  # an unhandled error (a 500): the retry must run again
            if self.idempotency_record is not None:
                idempotency.idempotency_release(record=self.idempotency_record)
            raise

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record, self.idempotency_record = self.idempotency_record, None
        if record is not None:
            if hasattr(response, "render"):
                response.render()  # stored as the client receives it
            idempotency.idempotency_finish(
                record=record,
                status_code=response.status_code,
                body=response.content.decode("utf-8", errors="replace"),
                content_type=response.get("Content-Type", ""),
                headers={
                    name: response[name] for name in REPLAYED_RESPONSE_HEADERS if response.has_header(name)
                },
            )
        return response


def _caller_scope(request):
    if isinstance(request.auth, ApiKey):
        return f"api-key:{request.auth.pk}"
    return f"user:{request.user.pk}"


def _request_hash(request):
    try:
        body = request.body
    except RawPostDataException:  # a multipart body DRF has already streamed: its parsed data
        body = json.dumps(request.data, sort_keys=True, default=str).encode()
    return idempotency.idempotency_request_hash(
        request.method.encode(), request.get_full_path().encode(), body
    )


def _replay_response(record):
    response = HttpResponse(record.response_body, status=record.status_code, content_type=record.content_type)
    for name, value in record.response_headers.items():
        response[name] = value
    response[idempotency.REPLAYED_HEADER] = "true"
    return response
