"""The server's own error pages (`handler400/403/404/500`): JSON under `/api/` and
`/webhooks/`, whose callers are programs, in each surface's documented error body; Django's
HTML pages elsewhere (the admin). Answers DRF and the inbound endpoint give themselves never
reach these: they cover what escapes them (an unexpected exception, an unrouted path)."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.views import defaults

from leadengine.api.errors import api_error_body
from webhooks.inbound.errors import InboundError

logger = logging.getLogger(__name__)
DATABASE_RETRY_AFTER_SECONDS = 1

MESSAGES = {
    400: ("bad_request", "The request could not be understood."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    500: ("server_error", "Internal error; the request was not completed. Retry it later."),
    503: ("unavailable", "The database could not complete the request (busy or unreachable); retry it."),
}


def bad_request(request, exception):
    return _json_error(request, 400) or defaults.bad_request(request, exception)


def permission_denied(request, exception):
    return _json_error(request, 403) or defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    return _json_error(request, 404) or defaults.page_not_found(request, exception)


def server_error(request):
    return _json_error(request, 500) or defaults.server_error(request)


class DatabaseUnavailableMiddleware:
    """A lost or refused database connection (killed backend, failover, restart) under /api/
    and /webhooks/ is a JSON 503 with Retry-After, not a 500: nothing was committed by the
    failing statement, so the caller can retry. Errors about the data itself
    (IntegrityError, DataError) are not this and keep their own answers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        response = _json_error(request, 503, retryable=True)
        if response is not None:
            logger.warning("database unavailable; answered 503: %s", exception)
            response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response


def _json_error(request, status, retryable=False):
    code, message = MESSAGES[status]
    if request.path.startswith("/api/"):
        return JsonResponse({"error": api_error_body(code, message)}, status=status)
    if request.path.startswith("/webhooks/"):
        fields = {"retryable": True} if retryable else None
        return JsonResponse(InboundError(status, code, message, fields=fields).as_body(), status=status)
    return None
