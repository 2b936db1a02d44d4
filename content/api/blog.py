"""The blog API (mounted under /api/): published posts are public; staff write, schedule, revise, restore.

Thin views: reads through ``content.selectors``, writes through ``content.services`` (which check the
rules again and keep a revision of every change). A write is asked of the rules before its body is
read: anonymous gets 401 and a member 403, whatever they send.
"""

from __future__ import annotations

from django.urls import path
from django.utils.text import slugify
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from agentwise.access import can
from agentwise.api.filters import StrictFilterSet

from .. import selectors, services
from ..models import BlogPost, BlogRevision, PublicationStatus
from .blog_serializers import (
    BlogPostDetailSerializer,
    BlogPostSerializer,
    BlogPostUpdateSerializer,
    BlogPostWriteSerializer,
    BlogRevisionSerializer,
    RevisionRestoreSerializer,
)

WRITE_RULES = {
    "POST": "content.add_blogpost",
    "PATCH": "content.change_blogpost",
    "DELETE": "content.delete_blogpost",
}
POST_ID = OpenApiParameter("post_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The post's id.")
REVISION_ID = OpenApiParameter(
    "revision_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The revision's id."
)


class StaffWrites(permissions.BasePermission):
    """Reads are for everyone (what each may see is the selectors' business); writes are staff's."""

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        rule = WRITE_RULES.get(request.method, "content.change_blogpost")
        return bool(request.user and request.user.is_authenticated and can(request.user, rule))


class StaffOnly(permissions.BasePermission):
    """The revision history and restores: staff only, reads included."""

    def has_permission(self, request, view):
        return can(request.user, "content.view_revisions")


def _context(request, **extra) -> dict:
    return {"request": request, "staff": can(request.user, "content.preview"), **extra}


def _post(request, post_id) -> BlogPost:
    return selectors.blog_post_get_visible(user=request.user, pk=post_id)


def _detail(request, post: BlogPost, *, status_code=status.HTTP_200_OK) -> Response:
    post = _post(request, post.pk)  # as stored now (revision pointers, timestamps)
    return Response(BlogPostDetailSerializer(post, context=_context(request)).data, status=status_code)


class BlogPostFilter(StrictFilterSet):
    tag = filters.CharFilter(
        method="noop", max_length=50, help_text='Posts with this tag ("Token Costs" = token-costs).'
    )
    status = filters.ChoiceFilter(
        choices=[(value, value) for value in ("published", "scheduled", "draft", "archived")],
        method="noop",
        help_text="Staff see every post and narrow it with this: `published` (public now), `scheduled` "
        "(published, time to come), `draft`, `archived`. Everyone else sees public posts only.",
    )
    slug = filters.CharFilter(
        method="noop", max_length=255, help_text="The post with this slug (current slugs only)."
    )

    class Meta:
        model = BlogPost
        fields = ["tag", "status", "slug"]

    def noop(self, queryset, name, value):
        return queryset  # the view passes the validated values to the selector


class BlogPostListView(generics.ListAPIView):
    """Published posts, newest first (staff: every post, drafts and scheduled ones first)."""

    serializer_class = BlogPostSerializer
    filterset_class = BlogPostFilter
    queryset = BlogPost.objects.none()  # for the schema; get_queryset() applies visibility
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, StaffWrites]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BlogPost.objects.none()
        filterset = BlogPostFilter(self.request.query_params, queryset=BlogPost.objects.none())
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        params = filterset.form.cleaned_data
        queryset = selectors.blog_post_list(
            user=self.request.user,
            tag=slugify(params["tag"]) if params.get("tag") else None,
            status=params.get("status") or None,
        )
        if params.get("slug"):
            queryset = queryset.filter(slug=params["slug"])
        return queryset

    def filter_queryset(self, queryset):
        return queryset  # get_queryset() validated and applied the filters

    def get_serializer_context(self):
        return _context(self.request)

    @extend_schema(
        summary="Blog posts", description="Public: published posts whose time has come. Paginated."
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Write a post (staff)",
        description="A draft unless `status` says otherwise; `published` with a future `published_at` schedules "
        "it. Every save keeps a revision. Blocks are validated and the error names the block.",
        request=BlogPostWriteSerializer,
        responses={201: BlogPostDetailSerializer},
    )
    def post(self, request):
        serializer = BlogPostWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        post = services.blog_post_create(
            actor=request.user,
            fields=serializer.post_fields(),
            status=data.get("status") or PublicationStatus.DRAFT,
            published_at=data.get("published_at"),
            change_summary=data.get("change_summary", ""),
        )
        return _detail(request, post, status_code=status.HTTP_201_CREATED)


class BlogPostDetailView(APIView):
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, StaffWrites]
    http_method_names = ["get", "patch", "delete", "head", "options"]

    @extend_schema(
        summary="One post",
        description="Public when published and its time has come; staff see every post.",
        parameters=[POST_ID],
        responses=BlogPostDetailSerializer,
    )
    def get(self, request, post_id):
        return Response(BlogPostDetailSerializer(_post(request, post_id), context=_context(request)).data)

    @extend_schema(
        summary="Change a post (staff)",
        description="On a published post, `draft: true` keeps the change as a draft revision while the live "
        "version stays up, and `go_live_at` schedules that draft; otherwise the change is live at once. "
        "`seo_meta` and `content` are replaced whole.",
        parameters=[POST_ID],
        request=BlogPostUpdateSerializer,
        responses=BlogPostDetailSerializer,
    )
    def patch(self, request, post_id):
        post = _post(request, post_id)
        serializer = BlogPostUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        go_live_at = data.get("go_live_at")
        if go_live_at and post.status != PublicationStatus.PUBLISHED:
            raise ValidationError(
                {
                    "go_live_at": [
                        "Only a published post's draft can be scheduled; to schedule this post, set "
                        "status to published and published_at to the future."
                    ]
                }
            )
        post = services.blog_post_update(
            actor=request.user,
            post=post,
            fields=serializer.post_fields(),
            status=data.get("status"),
            published_at=data.get("published_at"),
            change_summary=data.get("change_summary", ""),
            draft=bool(data.get("draft")),
            go_live_at=go_live_at,
        )
        return _detail(request, post)

    @extend_schema(
        summary="Delete a post and its history (staff)", parameters=[POST_ID], responses={204: None}
    )
    def delete(self, request, post_id):
        services.blog_post_delete(actor=request.user, post=_post(request, post_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class BlogRevisionListView(generics.ListAPIView):
    """A post's history, newest first (staff)."""

    serializer_class = BlogRevisionSerializer
    queryset = BlogRevision.objects.none()
    permission_classes = [permissions.IsAuthenticated, StaffOnly]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BlogRevision.objects.none()
        return selectors.blog_revision_list(post=self._post())

    def _post(self) -> BlogPost:
        if not hasattr(self, "_post_cache"):
            self._post_cache = _post(self.request, self.kwargs["post_id"])
        return self._post_cache

    def get_serializer_context(self):
        if getattr(self, "swagger_fake_view", False):
            return super().get_serializer_context()
        return {**super().get_serializer_context(), "post": self._post()}

    @extend_schema(summary="A post's revisions (staff)", parameters=[POST_ID])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class BlogRevisionRestoreView(APIView):
    permission_classes = [permissions.IsAuthenticated, StaffOnly]

    @extend_schema(
        summary="Restore a revision (staff)",
        description="Copies the revision's content into a new revision (history only grows). With "
        "`publish: true` it goes live now; otherwise, on a published post, it waits as a draft revision "
        "(a post not yet public takes it at once). Restoring a draft revision with `publish: true` "
        "publishes that draft.",
        parameters=[POST_ID, REVISION_ID],
        request=RevisionRestoreSerializer,
        responses=BlogPostDetailSerializer,
    )
    def post(self, request, post_id, revision_id):
        post = _post(request, post_id)
        revision = selectors.blog_revision_get(post=post, revision_id=revision_id)
        serializer = RevisionRestoreSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        post = services.revision_restore(
            actor=request.user,
            page=post,
            revision=revision,
            publish=serializer.validated_data["publish"],
            change_summary=serializer.validated_data.get("change_summary", ""),
        )
        return _detail(request, post)


urlpatterns = [
    path("blog/posts/", BlogPostListView.as_view(), name="api-blog-posts"),
    path("blog/posts/<str:post_id>/", BlogPostDetailView.as_view(), name="api-blog-post"),
    path("blog/posts/<str:post_id>/revisions/", BlogRevisionListView.as_view(), name="api-blog-revisions"),
    path(
        "blog/posts/<str:post_id>/revisions/<str:revision_id>/restore/",
        BlogRevisionRestoreView.as_view(),
        name="api-blog-revision-restore",
    ),
]
