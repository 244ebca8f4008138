"""Thin Celery adapters for what spans both webhook apps."""

from celery import shared_task

from .retention import logs_prune


@shared_task(name="webhooks.prune_old_logs")
def prune_old_logs():
    """Hourly (beat): delete or empty log rows past their retention period, in batches."""
    return logs_prune()
