"""The REST API: `/api/v1/` (browsable), the OpenAPI schema and its docs page.

Adding a resource: a serializer deriving `leadengine.api.serializers.WorkspaceOwnedSerializer`,
a viewset deriving `leadengine.api.viewsets.WorkspaceScopedViewSet`, and one line below.
"""

from django.urls import include, path
from drf_spectacular.renderers import OpenApiJsonRenderer2
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

import leadengine.api.schema  # noqa: F401  (registers the schema extension for API keys)
from leadengine.api.api_keys import ApiKeyViewSet
from leads.api.views import (
    CampaignViewSet,
    CustomFieldViewSet,
    FieldCatalogueViewSet,
    LeadViewSet,
    ListViewSet,
)
from webhooks.inbound.api import InboundRequestViewSet, InboundWebhookViewSet
from webhooks.outbound.api import DeliveryViewSet, OutboundWebhookViewSet

router = DefaultRouter()
router.register("leads", LeadViewSet, basename="lead")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("lists", ListViewSet, basename="list")
router.register("custom-fields", CustomFieldViewSet, basename="custom-field")
router.register("fields", FieldCatalogueViewSet, basename="field")
router.register("webhooks/outbound", OutboundWebhookViewSet, basename="outbound-webhook")
router.register("webhooks/inbound", InboundWebhookViewSet, basename="inbound-webhook")
router.register("deliveries", DeliveryViewSet, basename="delivery")
router.register("inbound-requests", InboundRequestViewSet, basename="inbound-request")
router.register("api-keys", ApiKeyViewSet, basename="api-key")


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema: YAML for tools (and `?format=json`), as before; JSON for a browser.

    A browser asks for text/html and would be given YAML under a type it downloads instead of
    showing; `application/json` it displays.
    """

    def perform_content_negotiation(self, request, force=False):
        accept = request.headers.get("Accept", "")
        if "format" not in request.query_params and "text/html" in accept:
            renderer = OpenApiJsonRenderer2()
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)


urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("auth/", include("rest_framework.urls")),
]
