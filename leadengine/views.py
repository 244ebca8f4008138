"""`GET /metrics`: Prometheus's scrape, an HTTP adapter over `leadengine.metrics`."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import CONTENT_TYPE_LATEST

from .metrics import metrics_caller_allowed, metrics_enabled, metrics_exposition


@csrf_exempt  # a POST gets the JSON 405 below, not the CSRF failure page
@never_cache
def metrics_view(request):
    if not metrics_enabled():
        # Off unless configured: nothing tells a stranger that it exists.
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse({"detail": "Use GET.", "code": "method_not_allowed"}, status=405)
        response["Allow"] = "GET, HEAD"
        return response
    authorization = request.headers.get("Authorization", "")
    if not metrics_caller_allowed(authorization=authorization, remote_addr=request.META.get("REMOTE_ADDR")):
        if authorization:
            return JsonResponse(
                {
                    "detail": "Wrong metrics token, and this address is not allowed.",
                    "code": "permission_denied",
                },
                status=403,
            )
        response = JsonResponse(
            {
                "detail": "Send Authorization: Bearer <METRICS_TOKEN>, or scrape from an allowed address.",
                "code": "not_authenticated",
            },
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)
