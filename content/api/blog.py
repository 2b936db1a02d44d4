"""The blog API (mounted under /api/)."""

urlpatterns: list = []
