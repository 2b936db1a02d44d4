"""Template context shared by every page."""

from django.conf import settings


def site(request):
    return {"SITE_NAME": "Agentwise", "SITE_URL": settings.SITE_URL, "unread_notifications": _unread(request)}


def _unread(request):
    """The navigation badge's count, asked only when a page shows it (a COUNT on the user's index)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0

    def count():
        from accounts.selectors import notification_unread_count

        return notification_unread_count(user=user)

    return count
