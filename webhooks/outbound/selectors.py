"""Reads of the outbound app that more than one caller needs."""

from django.utils import timezone

from .models import Delivery


def deliveries_due_count(*, limit):
    """Due deliveries and expired leases, counted up to `limit` (enough to size the work)."""
    return Delivery.objects.claimable(timezone.now()).values("pk")[:limit].count()
