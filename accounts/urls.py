from django.urls import path, re_path

from . import views

urlpatterns = [
    path("", views.settings_profile, name="account_settings"),
    path("api-keys/", views.api_keys, name="account_api_keys"),
    path("api-keys/<uuid:key_id>/revoke/", views.api_key_revoke, name="account_api_key_revoke"),
    path("security/", views.security, name="account_security"),
    path("export/", views.data_export, name="account_export"),
    re_path(r"^export/download/(?P<token>[A-Za-z0-9_:-]{1,200})/$", views.data_export_download, name="account_export_download"),
    path("delete/", views.account_delete, name="account_delete"),
    path("notifications/", views.notifications_moved, name="account_notifications"),
    path("notifications/settings/", views.notification_settings, name="account_notification_settings"),
]

public_urlpatterns = [
    re_path(r"^u/(?P<username>[A-Za-z0-9_-]{1,50})/$", views.profile_detail, name="profile_detail"),
    re_path(r"^u/(?P<username>[A-Za-z0-9_-]{1,50})/mute/$", views.profile_mute, {"mute": True}, name="profile_mute"),
    re_path(
        r"^u/(?P<username>[A-Za-z0-9_-]{1,50})/unmute/$", views.profile_mute, {"mute": False}, name="profile_unmute"
    ),
]
