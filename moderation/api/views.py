"""Reports API: members report a message, forum topic, reply or profile."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import reports
from .serializers import ReportCreateSerializer, ReportSerializer


class ReportCreateView(APIView):
    @extend_schema(
        summary="Report content to the moderators",
        description="One open report per reporter and item: a repeat answers 200 with your open report. "
        "Content you cannot see is 404.",
        request=ReportCreateSerializer,
        responses={201: ReportSerializer, 200: ReportSerializer},
    )
    def post(self, request):
        serializer = ReportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item, created = reports.report_create(actor=request.user, **serializer.validated_data)
        return Response(ReportSerializer(item).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
