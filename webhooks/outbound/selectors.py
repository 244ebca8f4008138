"""Reads of the outbound app that more than one caller needs."""

from django.db.models import Q
from django.utils import timezone

from .models import Delivery


def deliveries_due_count(*, limit):
    """Due deliveries and expired leases, counted up to `limit` (enough to size the work).

    An endpoint the breaker holds back is left out: waking workers for its deliveries would
    only cost empty claims."""
    now = timezone.now()
    held_back = Q(webhook__paused_until__gt=now)
    return Delivery.objects.claimable(now).exclude(held_back).values("pk")[:limit].count()
