from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(trailing_slash=True)
router.register("keys", views.ApiKeyViewSet, basename="api-key")
router.register("notifications", views.NotificationViewSet, basename="notification")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path(
        "me/notification-preferences/", views.NotificationPreferencesView.as_view(), name="api-notification-preferences"
    ),
    path("me/export/", views.DataExportView.as_view(), name="api-me-export"),
    path("me/mutes/", views.MutedUserListView.as_view(), name="api-mutes"),
    re_path(r"^users/(?P<username>[A-Za-z0-9_-]{1,50})/mute/$", views.UserMuteView.as_view(), name="api-user-mute"),
    # Only handle-shaped segments reach the database (a NUL byte would make PostgreSQL raise).
    re_path(r"^profiles/(?P<username>[A-Za-z0-9_-]{1,50})/$", views.PublicProfileView.as_view(), name="api-profile"),
    *router.urls,
]
