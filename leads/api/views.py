from django.db.models import Prefetch
from rest_framework import mixins, viewsets

from leadengine.api.viewsets import WorkspaceScopedMixin, WorkspaceScopedViewSet
from leads.catalogue import DEFAULT_FIELDS
from leads.models import Campaign, CustomField, Lead, List, Message

from .filters import LeadFilterSet
from .serializers import (
    CampaignSerializer,
    CustomFieldSerializer,
    FieldCatalogueEntrySerializer,
    LeadDetailSerializer,
    LeadSerializer,
    ListSerializer,
)


class LeadViewSet(WorkspaceScopedViewSet):
    """Leads of your workspaces. Changing `lead_status` records its history and notifies webhooks."""

    queryset = Lead.objects.select_related("workspace").prefetch_related("campaigns", "lists")
    filterset_class = LeadFilterSet

    def get_serializer_class(self):
        return LeadDetailSerializer if self.action == "retrieve" else LeadSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            thread = Message.objects.select_related("campaign").order_by("date", "id")
            queryset = queryset.prefetch_related(Prefetch("messages", queryset=thread))
        return queryset


class CampaignViewSet(WorkspaceScopedViewSet):
    """Campaigns of your workspaces; names are unique per workspace."""

    queryset = Campaign.objects.select_related("workspace")
    serializer_class = CampaignSerializer


class ListViewSet(WorkspaceScopedViewSet):
    """Lists of your workspaces; names are unique per workspace."""

    queryset = List.objects.select_related("workspace")
    serializer_class = ListSerializer


class CustomFieldViewSet(WorkspaceScopedViewSet):
    """Custom lead fields of your workspaces. Keys never clash with default fields."""

    queryset = CustomField.objects.select_related("workspace")
    serializer_class = CustomFieldSerializer


DEFAULT_FIELD_ENTRIES = [
    {
        "key": spec.key,
        "label": spec.label,
        "type": str(spec.type),
        "writable": spec.writable,
        "dedupe": spec.dedupe,
        "source": "default",
        "workspace": None,
    }
    for spec in DEFAULT_FIELDS
]


class FieldCatalogueViewSet(WorkspaceScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Every field a lead can carry: LeadEngine's default fields, then your workspaces' custom fields."""

    queryset = CustomField.objects.select_related("workspace")
    serializer_class = FieldCatalogueEntrySerializer

    def list(self, request, *args, **kwargs):
        custom = [
            {
                "key": field.key,
                "label": field.label,
                "type": field.type,
                "writable": True,
                "dedupe": False,
                "source": "custom",
                "workspace": field.workspace.slug,
            }
            for field in self.filter_queryset(self.get_queryset())
        ]
        page = self.paginate_queryset([*DEFAULT_FIELD_ENTRIES, *custom])
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
