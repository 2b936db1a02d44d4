"""The docs API (mounted under /api/): published pages are public; staff write, which is how CI
publishes docs with a staff user's API key. Writes go through ``content.services``."""

from __future__ import annotations

from django.urls import path
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, permissions, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from agentwise.access import can, get_visible
from agentwise.api.filters import StrictFilterSet

from .. import selectors, services
from ..models import Documentation, DocumentationRevision
from .docs_serializers import (
    DocsPageSerializer,
    DocsPageUpdateSerializer,
    DocsPageWriteSerializer,
    DocsRestoreSerializer,
    DocsRevisionSerializer,
)

PAGE_ID = OpenApiParameter("page_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The page's id.")
REVISION_ID = OpenApiParameter(
    "revision_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="A revision's id."
)


class ContentRulePermission(permissions.BasePermission):
    """Asks the view's content rule for the request's method before the body is read: a member may
    not write docs at all, so whatever they send is a 403 (anonymous: 401), not a 400 about fields."""

    def has_permission(self, request, view):
        rule = view.method_rules.get(request.method)
        return rule is None or can(request.user, rule)


class DocsPageFilter(StrictFilterSet):
    version = filters.CharFilter(field_name="version", max_length=50, help_text="e.g. latest, 2.0.")
    slug = filters.CharFilter(
        field_name="slug", max_length=255, help_text="Pages with this slug (any parent)."
    )
    parent = filters.UUIDFilter(field_name="parent", help_text="Pages directly under this page.")

    class Meta:
        model = Documentation
        fields = ["version", "slug", "parent"]


def _paths_for(pages) -> dict:
    """The URLs of these pages only: one query whose cost follows the pages, not their versions' size."""
    return selectors.documentation_paths_for(page.pk for page in pages)


def _page_fields(request, data: dict) -> dict:
    """The service's fields from validated data: the parent id becomes the page (of any version; the
    service refuses one of another version, or a page inside itself)."""
    fields = {
        name: value for name, value in data.items() if name not in {"change_summary", "draft", "go_live_at"}
    }
    if fields.get("parent") is not None:
        parent = Documentation.objects.filter(pk=fields["parent"]).first()
        if parent is None:
            raise ValidationError({"parent": ["No page has this id."]})
        fields["parent"] = parent
    return fields


@extend_schema_view(
    list=extend_schema(
        summary="Docs pages",
        description="Published pages for everyone; staff also see unpublished ones. Ordered by version, then "
        "position and title.",
    ),
    retrieve=extend_schema(summary="One docs page", parameters=[PAGE_ID]),
    create=extend_schema(
        summary="Create a docs page (staff)",
        request=DocsPageWriteSerializer,
        responses={201: DocsPageSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a docs page (staff)",
        description="On a published page, `draft` keeps the change as a draft revision (the live version stays "
        "up) and `go_live_at` schedules it. Otherwise the change goes live now. Every change is a revision.",
        parameters=[PAGE_ID],
        request=DocsPageUpdateSerializer,
    ),
    destroy=extend_schema(
        summary="Delete a docs page (staff)",
        description="Refused (400) while pages are under it.",
        parameters=[PAGE_ID],
    ),
)
class DocsPageViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = DocsPageSerializer
    filterset_class = DocsPageFilter
    # Reads need no credentials (IsAuthenticatedOrReadOnly also tells the OpenAPI schema so).
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, ContentRulePermission]
    method_rules = {
        "POST": "content.add_documentation",
        "PATCH": "content.change_documentation",
        "DELETE": "content.delete_documentation",
    }
    queryset = Documentation.objects.none()  # for the schema; get_queryset() applies visibility
    lookup_url_kwarg = "page_id"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.documentation_visible_to(self.request.user).order_by(
            "version", "position", "title", "pk"
        )

    def get_object(self) -> Documentation:
        return selectors.documentation_get_visible(user=self.request.user, pk=self.kwargs["page_id"])

    def _answer(self, page: Documentation, status_code=status.HTTP_200_OK) -> Response:
        page = self.get_queryset().get(pk=page.pk)  # as stored now (the services update some columns in SQL)
        return Response(
            DocsPageSerializer(page, context={"paths": _paths_for([page])}).data, status=status_code
        )

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(
            DocsPageSerializer(page, many=True, context={"paths": _paths_for(page)}).data
        )

    def retrieve(self, request, page_id=None):
        page = self.get_object()
        return Response(DocsPageSerializer(page, context={"paths": _paths_for([page])}).data)

    def create(self, request):
        serializer = DocsPageWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        page = services.documentation_create(
            actor=request.user,
            fields=_page_fields(request, serializer.validated_data),
            change_summary=serializer.validated_data.get("change_summary", ""),
        )
        return self._answer(page, status.HTTP_201_CREATED)

    def partial_update(self, request, page_id=None):
        page = self.get_object()
        serializer = DocsPageUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("go_live_at") is not None and not page.is_published:
            raise ValidationError(
                {
                    "go_live_at": [
                        "Only a published page can have a scheduled draft; publish this one with is_published."
                    ]
                }
            )
        page = services.documentation_update(
            actor=request.user,
            page=page,
            fields=_page_fields(request, data),
            change_summary=data.get("change_summary", ""),
            draft=data.get("draft", False),
            go_live_at=data.get("go_live_at"),
        )
        return self._answer(page)

    def destroy(self, request, page_id=None):
        services.documentation_delete(actor=request.user, page=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(summary="A docs page's revisions, newest first (staff)", parameters=[PAGE_ID]),
)
class DocsPageRevisionsView(generics.ListAPIView):
    serializer_class = DocsRevisionSerializer
    permission_classes = [permissions.IsAuthenticated, ContentRulePermission]
    method_rules = {"GET": "content.view_revisions"}
    queryset = DocumentationRevision.objects.none()

    def get_page(self) -> Documentation:
        if not hasattr(self, "_page"):
            self._page = selectors.documentation_get_visible(
                user=self.request.user, pk=self.kwargs["page_id"]
            )
        return self._page

    def get_queryset(self):
        return self.get_page().revisions.select_related("author").order_by("-created_at", "pk")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["live_revision_id"] = self.get_page().live_revision_id
        return context


class DocsRevisionRestoreView(APIView):
    permission_classes = [permissions.IsAuthenticated, ContentRulePermission]
    method_rules = {"POST": "content.change_documentation"}

    @extend_schema(
        summary="Restore a revision of a docs page (staff)",
        description="Copies the revision into a new one, so history only grows. On a published page it is a "
        "draft unless `publish`; on an unpublished page it becomes the page's content at once.",
        parameters=[PAGE_ID, REVISION_ID],
        request=DocsRestoreSerializer,
        responses=DocsPageSerializer,
    )
    def post(self, request, page_id, revision_id):
        page = selectors.documentation_get_visible(user=request.user, pk=page_id)
        revision = get_visible(page.revisions.all(), pk=revision_id)
        serializer = DocsRestoreSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        page = services.revision_restore(
            actor=request.user, page=page, revision=revision, **serializer.validated_data
        )
        page = selectors.documentation_visible_to(request.user).get(pk=page.pk)
        return Response(DocsPageSerializer(page, context={"paths": _paths_for([page])}).data)


pages = DocsPageViewSet

urlpatterns = [
    path("docs/pages/", pages.as_view({"get": "list", "post": "create"}), name="docs-page-list"),
    path(
        "docs/pages/<str:page_id>/",
        pages.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="docs-page-detail",
    ),
    path("docs/pages/<str:page_id>/revisions/", DocsPageRevisionsView.as_view(), name="docs-page-revisions"),
    path(
        "docs/pages/<str:page_id>/revisions/<str:revision_id>/restore/",
        DocsRevisionRestoreView.as_view(),
        name="docs-revision-restore",
    ),
]
