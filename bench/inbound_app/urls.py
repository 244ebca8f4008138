"""The production URLs, plus two bench-only DRF views (reference points for P3):

- `bench/bare`: parses the JSON and answers 201 (no database: the framework's cost);
- `bench/insert?workspace=<id>`: parses the JSON and inserts ONE lead row in its own
  transaction (the cost of one durable write: the fair ceiling of a single inbound post).
"""

import uuid

from django.db import transaction
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as production
from leads.models import Lead


class BareView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        data = request.data  # parse the JSON body, like the real endpoint must
        return Response({"received": len(data)}, status=201)


class InsertOneRowView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        contact = request.data.get("contact", {})
        with transaction.atomic():
            lead = Lead.objects.create(
                workspace_id=int(request.query_params["workspace"]),
                first_name=contact.get("first", ""),
                last_name=contact.get("last", ""),
                business_email=f"insert-{uuid.uuid4().hex}@example.com",
            )
        return Response({"lead_id": lead.pk}, status=201)


urlpatterns = [
    path("bench/bare", BareView.as_view()),
    path("bench/insert", InsertOneRowView.as_view()),
    *production,
]
