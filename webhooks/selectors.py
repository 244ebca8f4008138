"""Health of the webhooks listed on Settings ▸ Webhooks, in one query per kind.
The outbound figures are `OutboundWebhook.objects.with_health()`, shared with the admin
list and the API.

Each figure is a correlated subquery (not a JOIN + GROUP BY), so the page costs the same
number of queries for 3 webhooks or 3,000, and two counts never multiply each other's rows.
"""

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from leadengine.models import Workspace
from webhooks.inbound.models import InboundRequest, InboundWebhook
from webhooks.outbound.models import HEALTH_WINDOW, OutboundWebhook


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
