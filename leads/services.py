from django.db import transaction
from django.utils import timezone

from .events import LeadStatusChanged, lead_status_changed
from .models import Lead, LeadStatus, isoformat_utc


@transaction.atomic
def lead_set_status(*, lead, status, actor=None, campaign=None):
    """The one place a lead's status changes.

    Appends to `lead_status_history` and publishes `lead_status_changed` in the same
    transaction. Setting the current status again is not a change: nothing is recorded
    and None is returned. Raises ValueError for a status outside the 14 of the article.
    """
    status = LeadStatus(status).value
    # Lock the row so two concurrent changes are ordered and each sees the other's result.
    current = Lead.objects.select_for_update().only("lead_status", "lead_status_history").get(pk=lead.pk)
    if current.lead_status == status:
        lead.lead_status = status
        lead._remember_persisted_state()
        return None
    now = timezone.now()
    lead.lead_status = status
    lead.lead_status_history = [
        *current.lead_status_history,
        {"value": status, "changed_at": isoformat_utc(now)},
    ]
    lead._status_change_authorized = True
    lead.save(update_fields=["lead_status", "lead_status_history", "modified_date"])
    event = LeadStatusChanged(
        lead=lead,
        previous_status=current.lead_status,
        new_status=status,
        occurred_at=now,
        actor=actor,
        campaign=campaign,
    )
    lead_status_changed.send(sender=Lead, event=event)
    return event
