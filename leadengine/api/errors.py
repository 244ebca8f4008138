"""One error body for every API failure.

    {"error": {"code": "invalid", "message": "...", "fields": {"lead_status": ["..."]}}}

`code` is DRF's machine-readable code (`invalid`, `not_found`, `not_authenticated`,
`permission_denied`, `throttled`, `method_not_allowed`, `conflict`, ...); `fields` names
every invalid field of the request body or query (empty for other errors).
"""

import logging

from django.db import IntegrityError
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with a concurrent change; retry it."
    default_code = "conflict"


def api_exception_handler(exc, context):
    if isinstance(exc, IntegrityError):
        # Validation checks uniqueness first; this is the race two concurrent writes can
        # still lose. The transaction has rolled back, so a retry is safe.
        logger.warning("API write lost a uniqueness race: %s", exc)
        exc = Conflict()
    response = exception_handler(exc, context)
    if response is not None:
        response.data = {"error": error_body(exc, response.data)}
    return response


def error_body(exc, data):
    if isinstance(exc, exceptions.ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        return {"code": "invalid", "message": _invalid_message(fields), "fields": fields}
    detail = data.get("detail", "") if isinstance(data, dict) else ""
    code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    return {"code": code, "message": str(detail), "fields": {}}


def _invalid_message(fields):
    names = [name for name in fields if name != "non_field_errors"]
    if not names:
        problems = fields.get("non_field_errors") or ["The request is invalid."]
        return str(problems[0])
    return "Invalid value for " + ", ".join(names) + "."
