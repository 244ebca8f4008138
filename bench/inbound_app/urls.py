"""The production URLs, plus `bench/bare`: a DRF view that parses JSON and answers 201."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as production


class BareView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        data = request.data  # parse the JSON body, like the real endpoint must
        return Response({"received": len(data)}, status=201)


urlpatterns = [path("bench/bare", BareView.as_view()), *production]
