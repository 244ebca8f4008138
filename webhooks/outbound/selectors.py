"""Reads of the outbound app that more than one caller needs."""

from django.db.models import Q
from django.utils import timezone

from .models import Delivery


def deliveries_due_count(*, limit):
    """Due deliveries and expired leases, counted up to `limit` (enough to size the work).

    Each half is counted on its own index range, unsorted: one OR over both, under the
    model's default ordering, read and sorted every due row (docs/benchmarks.md, P11). An
    endpoint the breaker holds back is left out: waking workers for its deliveries would
    only cost empty claims."""
    now = timezone.now()
    held_back = Q(webhook__paused_until__gt=now)
    due = Delivery.objects.due(now).exclude(held_back).order_by().values("pk")[:limit].count()
    if due >= limit:
        return due
    return due + Delivery.objects.lease_expired(now).order_by().values("pk")[: limit - due].count()
