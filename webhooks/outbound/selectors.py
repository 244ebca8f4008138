"""Reads of the outbound app that more than one caller needs."""

from django.utils import timezone

from .models import Delivery


def deliveries_due_count(*, limit):
    """Due deliveries and expired leases, counted up to `limit` (enough to size the work).

    Each half is counted on its own index range, unsorted: one OR over both, under the
    model's default ordering, read and sorted every due row (docs/benchmarks.md, P11)."""
    now = timezone.now()
    due = Delivery.objects.due(now).order_by().values("pk")[:limit].count()
    if due >= limit:
        return due
    return due + Delivery.objects.lease_expired(now).order_by().values("pk")[: limit - due].count()
