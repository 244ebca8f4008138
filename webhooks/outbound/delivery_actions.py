"""The operator's one-click "Redeliver" on a single delivery.

Kept apart from `services.py` (the delivery engine) because it only composes that module's
public functions: a finished delivery is queued again with a fresh budget; one waiting for
its next retry is made due now (same attempt budget), so an operator who fixed the receiver
doesn't wait out the backoff.
"""

from django.db import transaction
from django.utils import timezone

from . import services
from .models import Delivery


def delivery_redeliver(*, delivery):
    """Returns "queued" (finished → sent again), "due_now" (waiting retry → now) or None."""
    if delivery.is_test:
        return None
    if delivery.status in (Delivery.Status.SUCCEEDED, Delivery.Status.FAILED):
        return "queued" if services.deliveries_redeliver(deliveries=[delivery]) else None
    if delivery.status != Delivery.Status.PENDING:
        return None  # in flight: a worker is sending it right now
    with transaction.atomic():
        moved = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
            next_attempt_at=timezone.now()
        )
        if moved:
            services.deliveries_enqueue_after_commit(ids=[delivery.pk])
    return "due_now" if moved else None
