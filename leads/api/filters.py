import django_filters
from django.db.models import Q

from leadengine.api.filters import IdFilter, WorkspaceFilterSet
from leads.models import LeadStatus

SEARCHED_FIELDS = ("name", "first_name", "last_name", "business_email", "personal_email", "company_name")


class LeadFilterSet(WorkspaceFilterSet):
    """`status`, `list`, `campaign` and `search` (name, emails, company) on the lead list."""

    status = django_filters.ChoiceFilter(
        method="filter_status",
        choices=LeadStatus.choices,
        help_text="Only leads with this status.",
        error_messages={"invalid_choice": "%(value)r is not one of the 14 lead statuses."},
    )
    list = IdFilter(field_name="lists", help_text="Only leads in this list (id).")
    campaign = IdFilter(field_name="campaigns", help_text="Only leads in this campaign (id).")
    search = django_filters.CharFilter(
        method="filter_search", help_text="Text found in the name, first/last name, emails or company name."
    )

    def filter_status(self, queryset, name, value: str):
        # A method with a typed value: the schema then documents a plain string enum, not the
        # model field's (nullable: a lead may have no status, the filter never matches that).
        return queryset.filter(lead_status=value)

    def filter_search(self, queryset, name, value):
        matches = Q()
        for field in SEARCHED_FIELDS:
            matches |= Q(**{f"{field}__icontains": value})
        return queryset.filter(matches)
