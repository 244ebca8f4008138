from django.db.models import Q
from rest_framework.exceptions import ValidationError

from leadengine.api.filters import ListOnlyFilter, integer_query_value, query_parameter
from leads.models import LeadStatus

SEARCHED_FIELDS = ("name", "first_name", "last_name", "business_email", "personal_email", "company_name")


class LeadFilter(ListOnlyFilter):
    """`status`, `list`, `campaign` and `search` (name, emails, company) on the lead list."""

    def filter_list(self, request, queryset, view):
        params = request.query_params
        status = params.get("status")
        if status:
            if status not in LeadStatus.values:
                raise ValidationError({"status": [f"{status!r} is not one of the 14 lead statuses."]})
            queryset = queryset.filter(lead_status=status)
        list_id = integer_query_value(request, "list")
        if list_id is not None:
            queryset = queryset.filter(lists=list_id)
        campaign_id = integer_query_value(request, "campaign")
        if campaign_id is not None:
            queryset = queryset.filter(campaigns=campaign_id)
        search = params.get("search", "").strip()
        if search:
            matches = Q()
            for field in SEARCHED_FIELDS:
                matches |= Q(**{f"{field}__icontains": search})
            queryset = queryset.filter(matches)
        return queryset

    def get_schema_operation_parameters(self, view):
        return [
            query_parameter("status", "Only leads with this status.", enum=list(LeadStatus.values)),
            query_parameter("list", "Only leads in this list (id).", "integer", minimum=0),
            query_parameter("campaign", "Only leads in this campaign (id).", "integer", minimum=0),
            query_parameter("search", "Text found in the name, first/last name, emails or company name."),
        ]
