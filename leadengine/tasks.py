"""Thin Celery adapters over leadengine's services."""

from celery import shared_task

from .idempotency import idempotency_records_purge


@shared_task(name="leadengine.purge_idempotency_records")
def purge_idempotency_records():
    """Hourly (beat): forget Idempotency-Key answers older than 24 h."""
    return idempotency_records_purge()
