"""One error body for every API failure.

    {"error": {"code": "invalid", "message": "...", "fields": {"lead_status": ["..."]}}}

`code` is DRF's machine-readable code (`invalid`, `not_found`, `not_authenticated`,
`permission_denied`, `throttled`, `method_not_allowed`, `conflict`, `unavailable`,
`server_error`, ...); `fields` names every invalid field of the request body or query (empty
for other errors). Unexpected exceptions get the same body from `config.errors.server_error`.
"""

import logging

from django.db import IntegrityError, OperationalError
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

from leadengine.metrics import rate_limit_rejection_count

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with a concurrent change; retry it."
    default_code = "conflict"


class Unavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database could not complete the request (busy or unreachable); retry it."
    default_code = "unavailable"
    retry_after_seconds = 1


def api_exception_handler(exc, context):
    if isinstance(exc, IntegrityError):
        # Validation checks uniqueness first; this is the race two concurrent writes can
        # still lose. The transaction has rolled back, so a retry is safe.
        logger.warning("API write lost a uniqueness race: %s", exc)
        exc = Conflict()
    elif isinstance(exc, OperationalError):
        # A deadlock, serialization failure or lost connection: rolled back, retryable.
        logger.warning("API request failed in the database: %s", exc)
        exc = Unavailable()
    elif isinstance(exc, exceptions.Throttled):
        rate_limit_rejection_count(scope="api")
    response = exception_handler(exc, context)
    if response is not None:
        response.data = {"error": error_body(exc, response.data)}
        if isinstance(exc, Unavailable):
            response["Retry-After"] = str(exc.retry_after_seconds)
    return response


def error_body(exc, data):
    if isinstance(exc, exceptions.ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        return {"code": "invalid", "message": _invalid_message(fields), "fields": fields}
    detail = data.get("detail", "") if isinstance(data, dict) else ""
    code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    return api_error_body(code, str(detail))


def api_error_body(code, message, fields=None):
    """The inside of `{"error": ...}`, also for answers DRF doesn't give (the 500 page)."""
    return {"code": code, "message": message, "fields": fields or {}}


def _invalid_message(fields):
    names = [name for name in fields if name != "non_field_errors"]
    if not names:
        problems = fields.get("non_field_errors") or ["The request is invalid."]
        return str(problems[0])
    return "Invalid value for " + ", ".join(names) + "."
