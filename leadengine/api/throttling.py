"""Per-caller request rates for the REST API, counted in the default cache (Redis in production).

DRF's throttles copy the rates at import time; these read them per request, so the rates
in `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` (from the environment) always apply.
They are set on the API's base viewset rather than globally: inbound webhooks have their
own per-webhook limit and must not be throttled per IP like anonymous API calls.
"""

import logging

from rest_framework import throttling
from rest_framework.settings import api_settings

from .scoping import caller_key_workspace_id

logger = logging.getLogger(__name__)
# A stable message (the metrics can count it): the cache was down and a call went unthrottled.
CACHE_DOWN_MESSAGE = "throttle cache unavailable; request let through"


class _RatesFromSettings:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        """Fail open: with the cache down, a lead creation matters more than a rate limit
        (the cache's socket timeouts in settings keep a hung Redis to milliseconds)."""
        try:
            return super().allow_request(request, view)
        except Exception as error:  # any cache backend's connection error
            # One line per request during an outage, no traceback: the cause is in `error`.
            logger.warning(CACHE_DOWN_MESSAGE, extra={"throttle_scope": self.scope, "error": repr(error)})
            return True


class UserRateThrottle(_RatesFromSettings, throttling.UserRateThrottle):
    """One budget per signed-in user, or per API key."""

    def get_cache_key(self, request, view):
        if caller_key_workspace_id(request) is not None:
            return self.cache_format % {"scope": self.scope, "ident": f"key-{request.auth.pk}"}
        return super().get_cache_key(request, view)


class AnonRateThrottle(_RatesFromSettings, throttling.AnonRateThrottle):
    """Unauthenticated calls (which are refused anyway) are limited per client IP."""

    def get_cache_key(self, request, view):
        if caller_key_workspace_id(request) is not None:
            return None
        return super().get_cache_key(request, view)


API_THROTTLE_CLASSES = [UserRateThrottle, AnonRateThrottle]
