from django.urls import include, path

urlpatterns = [
    path("", include("content.api.blog")),
    path("", include("content.api.search")),  # before the docs pages' routes: /api/docs/search/
    path("", include("content.api.docs")),
    path("", include("content.api.newsletter")),
]
