"""The search API (mounted under /api/): ``GET /api/docs/search/?q=&version=``."""

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from agentwise.api.fields import NO_NUL
from agentwise.api.pagination import single_positive_int
from agentwise.errors import NotFound

from .. import search, selectors


class SearchParamsSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=search.MAX_QUERY_LENGTH
    )
    version = serializers.CharField(required=False, allow_blank=True, max_length=50)


SEARCH_RESPONSE = inline_serializer(
    name="DocsSearchResponse",
    fields={
        "results": inline_serializer(
            name="DocsSearchResult",
            many=True,
            fields={
                "title": serializers.CharField(),
                "url": serializers.CharField(help_text="Path of the page on this site."),
                "snippet": serializers.CharField(
                    help_text="HTML: the page's text escaped, the matching words in `<mark>`."
                ),
                "version": serializers.CharField(),
                "rank": serializers.FloatField(help_text="Higher is better; compare within one response."),
            },
        )
    },
)


class DocsSearchView(APIView):
    """Full-text search over the docs. Anyone may search; staff also find unpublished pages."""

    permission_classes = [permissions.AllowAny]
    # Its own per-client budget (search.search_rate_limit, shared with the page) replaces the API's
    # per-IP/per-user request throttles here; API-key calls are still metered like any other.
    throttle_classes = [t for t in APIView.throttle_classes if not issubclass(t, SimpleRateThrottle)]

    @extend_schema(
        summary="Search the docs",
        description=(
            'Every word must match (stemmed: `installs` finds *install*); `"quoted phrase"` matches the '
            "words in a row; `-word` excludes; the last word matches as a prefix while you type "
            "(`instal` finds *Install*) unless a space follows it. Title matches rank above headings, "
            "headings above the body. An empty `q` returns no results."
        ),
        parameters=[
            OpenApiParameter(
                "q",
                {"type": "string", "maxLength": search.MAX_QUERY_LENGTH, "pattern": NO_NUL},
                description="What to look for; empty finds nothing.",
            ),
            OpenApiParameter(
                "version",
                {"type": "string", "maxLength": 50, "pattern": NO_NUL},
                description="A docs version (`latest`, `2.0`…); default the newest. An unknown one is a 404.",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": search.MAX_LIMIT},
                description=f"At most this many results (default {search.DEFAULT_LIMIT}).",
            ),
        ],
        responses=SEARCH_RESPONSE,
    )
    def get(self, request):
        params = SearchParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        limit = single_positive_int(request, "limit", maximum=search.MAX_LIMIT) or search.DEFAULT_LIMIT
        query = params.validated_data.get("q", "")
        version = params.validated_data.get("version") or None
        search.search_rate_limit(request)
        if version is not None and version not in selectors.documentation_versions_cached(request.user):
            raise NotFound("There are no docs for this version.")
        results = selectors.documentation_search(query=query, version=version, user=request.user, limit=limit)
        return Response({"results": [{**r, "snippet": str(r["snippet"])} for r in results]})


urlpatterns: list = [
    path("docs/search/", DocsSearchView.as_view(), name="api-docs-search"),
]
