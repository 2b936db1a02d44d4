"""The search API (mounted under /api/)."""

urlpatterns: list = []
