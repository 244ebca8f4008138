"""Health of the webhooks listed on Settings ▸ Webhooks, in one query per kind.
The outbound figures are `OutboundWebhook.objects.with_health()`, shared with the admin
list and the API.

Each figure is a correlated subquery (not a JOIN + GROUP BY), so the page costs the same
number of queries for 3 webhooks or 3,000, and two counts never multiply each other's rows.
"""

import math
from datetime import timedelta

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from leadengine.models import Workspace
from webhooks.inbound.models import InboundRequest, InboundWebhook
from webhooks.outbound.models import (
    ATTEMPT_SUCCEEDED,
    HEALTH_WINDOW,
    DeliveryAttempt,
    OutboundWebhook,
    attempt_delivery_active_since,
)

WEEK = timedelta(days=7)
CHART_ATTEMPTS = 40


def _count(queryset):
    """A scalar subquery counting `queryset`'s rows; they all share one webhook (OuterRef),
    so grouping by it yields one row, or none (→ 0)."""
    counted = queryset.order_by().values("webhook").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def outbound_webhooks_with_health(*, user, now=None):
    """The user's Send Data webhooks with the health every screen shows
    (`OutboundWebhookQuerySet.with_health`)."""
    return (
        OutboundWebhook.objects.filter(workspace__in=Workspace.objects.for_user(user))
        .select_related("workspace")
        .with_health(now or timezone.now())
        .order_by("workspace__name", "name", "pk")
    )


def inbound_webhooks_with_health(*, user, now=None):
    """The user's Receive Data webhooks with their latest request (status code, time) and
    the requests and errors (status ≥ 400) of the last 24 h."""
    since = (now or timezone.now()) - HEALTH_WINDOW
    requests = InboundRequest.objects.filter(webhook=OuterRef("pk"))
    latest = requests.order_by("-received_at", "-id")
    recent = requests.filter(received_at__gte=since)
    return (
        InboundWebhook.objects.filter(workspace__in=Workspace.objects.for_user(user))
        .select_related("workspace", "target_list")
        .annotate(
            last_request_id=Subquery(latest.values("pk")[:1]),
            last_request_code=Subquery(latest.values("status_code")[:1]),
            last_request_at=Subquery(latest.values("received_at")[:1]),
            requests_24h=_count(recent),
            errors_24h=_count(recent.filter(Q(status_code__gte=400))),
        )
        .order_by("workspace__name", "name", "pk")
    )


def failure_rate(failed, total):
    """Failed share in whole percent, or None when nothing was sent."""
    return round(100 * failed / total) if total else None


def endpoint_health(webhook, *, now=None):
    """The trigger page's health panel, like Svix's: the share of attempts the endpoint
    answered with a 2xx over 24 h and 7 d (real deliveries; a Send Test is a probe), and its
    latest attempts, test or not, for the latency / outcome chart. Two queries, both bounded
    by the week (on the deliveries' side too: `attempt_delivery_active_since`)."""
    now = now or timezone.now()
    week = DeliveryAttempt.objects.filter(
        attempt_delivery_active_since(now - WEEK),
        delivery__webhook=webhook,
        in_progress=False,
        started_at__gte=now - WEEK,
    )
    day = Q(started_at__gte=now - HEALTH_WINDOW)
    figures = week.filter(delivery__is_test=False).aggregate(
        total_7d=Count("pk"),
        ok_7d=Count("pk", filter=ATTEMPT_SUCCEEDED),
        total_24h=Count("pk", filter=day),
        ok_24h=Count("pk", filter=day & ATTEMPT_SUCCEEDED),
    )
    latest = _latest_attempts(webhook, now)
    return {
        "rate_24h": success_rate(figures["ok_24h"], figures["total_24h"]),
        "rate_7d": success_rate(figures["ok_7d"], figures["total_7d"]),
        **figures,
        "failed_24h": figures["total_24h"] - figures["ok_24h"],
        "last_attempt": latest[0] if latest else None,
        "attempts": latest[::-1],  # oldest first, as the chart reads left to right
    }


def _latest_attempts(webhook, now):
    """The chart's attempts, newest first: a busy endpoint's last hour holds them all, so the
    day and then the week are read only when the nearer window has too few."""
    for window in (timedelta(hours=1), HEALTH_WINDOW, WEEK):
        attempts = DeliveryAttempt.objects.filter(
            attempt_delivery_active_since(now - window),
            delivery__webhook=webhook,
            in_progress=False,
            started_at__gte=now - window,
        )
        latest = list(attempts.select_related("delivery").order_by("-started_at", "-id")[:CHART_ATTEMPTS])
        if len(latest) == CHART_ATTEMPTS:
            break
    return latest


def success_rate(ok, total):
    """Succeeded share in percent (one decimal under 100), or None when nothing was tried."""
    if not total:
        return None
    # Rounded down to 0.1: 99.96 % must not read as a clean 100 %.
    rate = math.floor(1000 * ok / total) / 10
    return int(rate) if rate == int(rate) else rate
