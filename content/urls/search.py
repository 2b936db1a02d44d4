"""/docs/search/ (mounted at /docs/search/, before the docs pages' catch-all path)."""

urlpatterns: list = []
