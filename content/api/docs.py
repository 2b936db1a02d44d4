"""The docs API (mounted under /api/)."""

urlpatterns: list = []
