"""Send Data metrics (names and meaning in docs/operations.md, "Metrics").

In the sender's process: each recorded outcome (`deliveries_observe`, called by
`dispatch.deliveries_record` after its transaction, from figures it already holds: no query).
At scrape time, from the database: the backlog, its age and the breakers, the same whichever
process answers (`DeliveryStateCollector`, registered by the app's `ready()`).
"""

import logging
from datetime import timedelta

from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from leadengine.metrics import PROCESS_METRICS

from .models import BREAKER_THRESHOLD, Delivery, OutboundWebhook

logger = logging.getLogger(__name__)

# Receivers answer in tens of milliseconds to seconds; the timeout (10 s by default) is the top.
ATTEMPT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RECENT_WINDOW = timedelta(minutes=15)

ATTEMPT_DURATION = Histogram(
    "leadengine_outbound_attempt_duration_seconds",
    "Time from sending a delivery's request to its answer or error, by result "
    "(success: 2xx; http_error: another answer; network_error: no answer).",
    ["result"],
    buckets=ATTEMPT_BUCKETS,
    registry=PROCESS_METRICS,
)
DELIVERY_OUTCOMES = Counter(
    "leadengine_outbound_delivery_outcomes",
    "Recorded delivery outcomes by workspace id: succeeded and failed (finally) happen once per "
    "delivery, retrying once per failed attempt that leaves a retry.",
    ["outcome", "workspace_id"],
    registry=PROCESS_METRICS,
)
OUTCOME_BY_STATUS = {
    Delivery.Status.SUCCEEDED: "succeeded",
    Delivery.Status.FAILED: "failed",
    Delivery.Status.PENDING: "retrying",
}


def deliveries_observe(results):
    """Count a recorded group of (delivery, result) after `Delivery.apply_result`.

    A delivery finished without a request (webhook disabled, budget spent) counts as an
    outcome but has no attempt latency."""
    for delivery, result in results:
        outcome = OUTCOME_BY_STATUS.get(delivery.status)
        if outcome:
            DELIVERY_OUTCOMES.labels(outcome=outcome, workspace_id=str(delivery.webhook.workspace_id)).inc()
        if getattr(delivery, "started_attempt_id", None):
            ATTEMPT_DURATION.labels(result=_attempt_result(result)).observe(result.duration_ms / 1000)


def _attempt_result(result):
    if result.status_code is None:
        return "network_error"
    return "success" if result.ok else "http_error"


class DeliveryStateCollector:
    """Gauges read from the database at scrape time; each query rides an index on
    (status, next_attempt_at), (status, claimed_until) or created_at, or reads the small
    webhook table. If the database can't answer, `leadengine_outbound_state_up` says 0 and
    the scrape still returns every process's counters."""

    def collect(self):
        now = timezone.now()
        up = GaugeMetricFamily(
            "leadengine_outbound_state_up", "1 if the delivery gauges below could be read from the database."
        )
        try:
            families = [_backlog(now), _oldest_due_age(now), _webhooks_by_state(now), _recent_deliveries(now)]
        except DatabaseError:
            logger.warning("Metrics: delivery state could not be read", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


def _backlog(now):
    family = GaugeMetricFamily(
        "leadengine_outbound_deliveries",
        "Unfinished deliveries by state: due (pending, time to send), stranded (in flight, lease "
        "expired: its worker died), in_flight (live lease), scheduled (waiting for a retry's time).",
        labels=["state"],
    )
    pending, in_flight = Delivery.Status.PENDING, Delivery.Status.IN_FLIGHT
    states = {
        "due": Q(status=pending, next_attempt_at__lte=now),
        "stranded": Q(status=in_flight, claimed_until__lt=now),
        "in_flight": Q(status=in_flight, claimed_until__gte=now),
        "scheduled": Q(status=pending, next_attempt_at__gt=now),
    }
    for state, condition in states.items():
        family.add_metric([state], Delivery.objects.filter(condition).count())
    return family


def _oldest_due_age(now):
    """How long the oldest claimable delivery has waited since it became due (its time, or
    its lease's end for a stranded one); 0 with no backlog."""
    pending, in_flight = Delivery.Status.PENDING, Delivery.Status.IN_FLIGHT
    due_since = [
        Delivery.objects.filter(status=pending, next_attempt_at__lte=now).aggregate(t=Min("next_attempt_at"))[
            "t"
        ],
        Delivery.objects.filter(status=in_flight, claimed_until__lt=now).aggregate(t=Min("claimed_until"))[
            "t"
        ],
    ]
    oldest = min((t for t in due_since if t is not None), default=now)
    return GaugeMetricFamily(
        "leadengine_outbound_oldest_due_seconds",
        "Age of the oldest delivery that is due (or stranded) and not yet claimed.",
        value=max(0.0, (now - oldest).total_seconds()),
    )


def _webhooks_by_state(now):
    family = GaugeMetricFamily(
        "leadengine_outbound_webhooks",
        "Webhooks by state: closed (healthy), paused (breaker open, in its pause), probing "
        "(breaker open, one probe at a time), disabled (auto-disabled, 410 or by an operator).",
        labels=["state"],
    )
    open_breaker = Q(is_active=True, consecutive_failures__gte=BREAKER_THRESHOLD)
    counts = OutboundWebhook.objects.aggregate(
        closed=Count("pk", filter=Q(is_active=True, consecutive_failures__lt=BREAKER_THRESHOLD)),
        paused=Count("pk", filter=open_breaker & Q(paused_until__gt=now)),
        probing=Count("pk", filter=open_breaker & (Q(paused_until__isnull=True) | Q(paused_until__lte=now))),
        disabled=Count("pk", filter=Q(is_active=False)),
    )
    for state, count in counts.items():
        family.add_metric([state], count)
    return family


def _recent_deliveries(now):
    family = GaugeMetricFamily(
        "leadengine_outbound_recent_deliveries",
        "Real deliveries (no Send Tests) created in the last 15 minutes, by their status now.",
        labels=["status"],
    )
    counts = dict(
        Delivery.objects.filter(created_at__gte=now - RECENT_WINDOW, is_test=False)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    for status in Delivery.Status.values:
        family.add_metric([status], counts.get(status, 0))
    return family
