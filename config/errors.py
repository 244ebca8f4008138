"""The server's own error pages (`handler400/403/404/500`): JSON under `/api/` and
`/webhooks/`, whose callers are programs, in each surface's documented error body; Django's
HTML pages elsewhere (the admin). Answers DRF and the inbound endpoint give themselves never
reach these: they cover what escapes them (an unexpected exception, an unrouted path)."""

from django.http import JsonResponse
from django.views import defaults

from leadengine.api.errors import api_error_body
from webhooks.inbound.errors import InboundError

MESSAGES = {
    400: ("bad_request", "The request could not be understood."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    500: ("server_error", "Internal error; the request was not completed. Retry it later."),
}


def bad_request(request, exception):
    return _json_error(request, 400) or defaults.bad_request(request, exception)


def permission_denied(request, exception):
    return _json_error(request, 403) or defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    return _json_error(request, 404) or defaults.page_not_found(request, exception)


def server_error(request):
    return _json_error(request, 500) or defaults.server_error(request)


def _json_error(request, status):
    code, message = MESSAGES[status]
    if request.path.startswith("/api/"):
        return JsonResponse({"error": api_error_body(code, message)}, status=status)
    if request.path.startswith("/webhooks/"):
        return JsonResponse(InboundError(status, code, message).as_body(), status=status)
    return None
